"""Engine settings: one typed object, defaults in one place."""

from __future__ import annotations

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
