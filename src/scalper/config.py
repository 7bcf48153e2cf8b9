"""Engine settings: one typed object, defaults in one place."""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Final

import msgspec

from scalper.errors import ConfigError

_UNITS_NS: Final = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION: Final = re.compile(r"^(\d+)(ms|s|m|h)$")

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


def parse_duration_ns(text: str) -> int:
    """'15s' -> 15_000_000_000. Units: ms, s, m, h."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 500ms, 15s, 1m, 1h)")
    return int(match.group(1)) * _UNITS_NS[match.group(2)]


class EngineConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the engine keeps and how. Durations are strings like '15s', '1m', '1h'."""

    timeframes: tuple[str, ...] = ("15s", "1m", "5m")
    """Candle timeframes."""
    candle_history: str = "1h"
    """Closed candles kept per timeframe, as a span of time (ring buffers)."""
    flow_bucket: str = "1s"
    """Resolution of the rolling flow windows."""
    flow_windows: tuple[str, ...] = ("10s", "1m", "5m")
    """Rolling flow windows by event time."""
    large_trade_notional: PositiveFloat = 100_000.0
    """A trade of at least this price * size is flagged as large."""
    recent_trades: PositiveInt = 100
    """Trades kept per symbol for display (the trade tape)."""
    recent_large_trades: PositiveInt = 500
    """Large trades kept across all symbols."""

    def __post_init__(self) -> None:
        if not self.timeframes:
            raise ConfigError("at least one candle timeframe is needed")
        bucket = self.flow_bucket_ns
        for name in (*self.timeframes, self.candle_history):
            parse_duration_ns(name)
        for name in self.flow_windows:
            if parse_duration_ns(name) % bucket:
                raise ConfigError(f"flow window {name} is not a multiple of {self.flow_bucket}")

    @property
    def timeframes_ns(self) -> dict[str, int]:
        return {name: parse_duration_ns(name) for name in self.timeframes}

    @property
    def candle_history_ns(self) -> int:
        return parse_duration_ns(self.candle_history)

    @property
    def flow_bucket_ns(self) -> int:
        return parse_duration_ns(self.flow_bucket)

    @property
    def flow_windows_ns(self) -> dict[str, int]:
        return {name: parse_duration_ns(name) for name in self.flow_windows}


_SIZE: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$", re.IGNORECASE)
_SIZE_UNITS: Final = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


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
