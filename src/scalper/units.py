"""Units people type: durations ('15s'), sizes ('20GB') and points in time (ISO 8601 or epoch)."""

from __future__ import annotations

import datetime
import re
from typing import Final

from scalper.errors import ConfigError

_UNITS_NS: Final = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION: Final = re.compile(r"^(\d+)(ms|s|m|h)$")
_SIZE: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$", re.IGNORECASE)
_SIZE_UNITS: Final = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_duration_ns(text: str) -> int:
    """'15s' -> 15_000_000_000. Units: ms, s, m, h (minutes are lower-case 'm')."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 500ms, 15s, 1m, 1h)")
    return int(match.group(1)) * _UNITS_NS[match.group(2)]


def parse_size(text: str) -> int:
    """'20GB' -> 20_000_000_000, '512MiB' -> 536_870_912, '1000' -> 1000 (bytes)."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ConfigError(f"not a size: {text!r} (use e.g. 500MB, 20GB, 1.5GiB)")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    factor = 1024 ** "kmgt".index(unit[0]) * 1024 if "i" in unit else _SIZE_UNITS[unit[:1]]
    return int(number * factor)


def parse_time_ns(text: str) -> int:
    """A point in time: ISO 8601 (UTC unless an offset is given), or epoch s / ms / ns."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
        if value < 10**11:
            return value * 1_000_000_000
        if value < 10**14:
            return value * 1_000_000
        return value
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"not a time: {text!r} (use e.g. 2026-11-25T19:00 (UTC), or epoch seconds/ms/ns)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000
