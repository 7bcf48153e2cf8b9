"""Fault injection for the exchange simulator: which faults exist, how often they strike at random.

Every fault can also be triggered on demand through the `ExchangeSimulator` methods; this module
holds only the settings and the seeded dice. Two kinds of rates:

- per book frame (`*_per_frame`): rolled once for every book delta the simulator publishes, and
  the fault hits that delta's symbol;
- per second (`*_per_s`): rolled once per second of stream time (seconds since the source's
  first frame, not the wall clock), so that the schedule follows the frame sequence.

One `random.Random` drives every roll, so the same seed and the same frames give the same faults.
"""

from __future__ import annotations

import random
from typing import Final

import msgspec

from scalper.errors import ConfigError
from scalper.settings import FaultSettings

BOOK_FRAME_FAULTS: Final = ("gap", "reset", "malformed", "truncated")
"""Faults that strike one book delta of one symbol."""
TIMED_FAULTS: Final = ("drop", "stall", "delay")
"""Faults that strike every connection for a while."""
FAULT_KINDS: Final = (*TIMED_FAULTS, *BOOK_FRAME_FAULTS, "reject")
"""The keys of `ExchangeSimulator.fault_counts`."""


def fault_spec_items(spec: str) -> dict[str, object]:
    """The settings named in CLI text `gap_per_frame=0.001,drop_per_s=0.01,reject_symbols=A+B`
    (values as text; reject_symbols as a tuple). ConfigError for an item that is not name=value
    or names no fault setting."""
    fields: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"fault setting {item!r} is not name=value")
        name = name.strip()
        if name not in FaultSettings.__struct_fields__:
            names = ", ".join(FaultSettings.__struct_fields__)
            raise ConfigError(f"unknown fault setting {name!r} (settings: {names})")
        fields[name] = tuple(filter(None, value.split("+"))) if name == "reject_symbols" else value
    return fields


def parse_fault_spec(spec: str) -> FaultSettings:
    """FaultSettings from CLI text (see `fault_spec_items`)."""
    fields = fault_spec_items(spec)
    try:
        return msgspec.convert(fields, FaultSettings, strict=False)
    except msgspec.ValidationError as exc:
        names = ", ".join(FaultSettings.__struct_fields__)
        raise ConfigError(f"bad fault setting: {exc} (settings: {names})") from exc


class FaultDice:
    """The random faults of a FaultSettings, rolled from one seeded generator."""

    def __init__(self, config: FaultSettings, seed: int) -> None:
        self._random = random.Random(seed).random
        bound = 0.0
        self._frame_bounds: list[tuple[float, str]] = []
        for kind in BOOK_FRAME_FAULTS:
            bound += getattr(config, f"{kind}_per_frame")
            self._frame_bounds.append((bound, kind))
        self._timed = [(getattr(config, f"{kind}_per_s"), kind) for kind in TIMED_FAULTS]

    def book_frame_fault(self) -> str | None:
        """The fault that strikes this book delta, if any (one roll)."""
        roll = self._random()
        for bound, kind in self._frame_bounds:
            if roll < bound:
                return kind
        return None

    def timed_faults(self) -> list[str]:
        """The connection-wide faults that start in this second of stream time."""
        random_ = self._random
        return [kind for chance, kind in self._timed if random_() < chance]


class NoFaultDice:
    """The stand-in when no random fault is configured: never rolls, never strikes."""

    def book_frame_fault(self) -> str | None:
        return None

    def timed_faults(self) -> list[str]:
        return []


def fault_dice(config: FaultSettings, seed: int) -> FaultDice | NoFaultDice:
    """Dice for `config`, or the do-nothing stand-in if every rate is zero."""
    rates = [getattr(config, f"{kind}_per_frame") for kind in BOOK_FRAME_FAULTS]
    rates += [getattr(config, f"{kind}_per_s") for kind in TIMED_FAULTS]
    if not any(rates):
        return NoFaultDice()
    return FaultDice(config, seed if config.seed is None else config.seed)
