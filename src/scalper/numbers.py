"""Numbers as a trader reads them: no float noise, no scientific notation, one suffix scheme.

plain(9.954e-05)         -> "0.00009954"
compact(1_069_600_000)   -> "1.07B"     (K, M, B, T; three significant digits)
decimals("0.0010")       -> 3           (the decimals a step such as a tick size needs)
on_step(0.030000000000086402, 2) -> 0.03
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

_SUFFIXES: Final = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def plain(value: float | None, digits: int | None = None) -> str:
    """`value` in positional notation ("-" for None): the shortest text that reads back as the
    same float, or rounded to `digits` decimals."""
    if value is None:
        return "-"
    if digits is not None:
        return f"{value:.{digits}f}"
    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text


def compact(value: float | None) -> str:
    """`value` with a K/M/B/T suffix and three significant digits ("-" for None): 1.07B,
    -221.8 -> -222, 0.5 -> 0.5."""
    if value is None:
        return "-"
    magnitude = abs(value)
    for scale, suffix in _SUFFIXES:
        if magnitude >= scale * 0.9995:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}" if magnitude >= 1 or magnitude == 0 else plain(float(f"{value:.3g}"))


def decimals(step: str) -> int:
    """Decimals a price or size on the grid of `step` (a venue's decimal string) needs."""
    digits = step.strip().partition(".")[2].rstrip("0")
    return len(digits)


def on_step(value: float | None, digits: int) -> float | None:
    """`value` rounded to `digits` decimals, so it serialises without float noise."""
    return None if value is None else round(value, digits)


def digits_of(value: float) -> int:
    """Decimals in the shortest text of `value` (a price parsed from a venue's string: its
    grid's decimals, as far as this one price shows them), at most 12."""
    return min(12, len(plain(value).partition(".")[2]))


def clean(value: float) -> float:
    """`value` to 10 significant digits: sums and ratios of floats without their noise
    (0.30000000000000004 -> 0.3), far more digits than any price or size carries."""
    return float(f"{value:.10g}")
