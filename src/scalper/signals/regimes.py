"""Per-symbol regimes from closed candles: volatility, trend and volume, each with hysteresis.

- volatility: realised volatility of the last `volatility_window` candles (close-to-close log
  returns) as a percentile of its own trailing values (low / normal / high / extreme).
- trend: the mean of Kaufman's signed efficiency ratio on `timeframe` and on
  `trend_confirm_timeframe` candles (down / range / up).
- volume: z-score of ln(1 + volume) against the trailing candles (quiet / normal / active /
  surge).

TRADING.md: regimes are cheap and robust at 1 m / 5 m and serve as gates. Each change is a
`RegimeChanged` carrying the inputs that caused it. The candle-based context factors (ATR of
1m and 5m candles, the 1m volume z-score) are kept here too: they read the same candles.
Feeding recorded candles (`restore`) rebuilds every baseline, so a restart keeps them.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import msgspec

from scalper.candles import Candle
from scalper.settings import GateSettings, RegimeSettings
from scalper.signals.baselines import (
    LogVolumeBaseline,
    TrailingValues,
    WilderAtr,
    efficiency_ratio,
    realised_volatility_bps,
)
from scalper.signals.hysteresis import WARMING_UP, Hysteresis
from scalper.units import parse_duration_ns

REGIMES: Final = ("volatility", "trend", "volume")
REGIME_GATES: Final = ("volatility_extreme", "volume_quiet")
"""The regimes' gates, in the order of their bits (above the tracker's own)."""
ATR_PERIOD: Final = 14
CONTEXT_TIMEFRAMES: Final = ("1m", "5m")
"""Timeframes of the candle-based context factors (atr_1m_bps, atr_5m_bps, volume_zscore_1m)."""


class RegimeChanged(msgspec.Struct, frozen=True):
    """A regime of one symbol changed (from "warming_up" the first time), at candle end ts_ns."""

    symbol: str
    regime: str
    previous: str
    state: str
    ts_ns: int
    inputs: dict[str, float]


class RegimeState(msgspec.Struct):
    state: str
    since_ns: int | None
    inputs: dict[str, float]
    """The latest inputs (what the last candle gave), whether or not they changed the state."""


class SymbolRegimes:
    """The regimes and candle-based context factors of one symbol."""

    def __init__(self, symbol: str, settings: RegimeSettings) -> None:
        self.symbol = symbol
        self.settings = settings
        dwell = parse_duration_ns(settings.min_dwell)
        self.timeframe = settings.timeframe
        self.confirm = settings.trend_confirm_timeframe
        interval = parse_duration_ns(settings.timeframe)
        capacity = max(settings.min_history, parse_duration_ns(settings.baseline) // interval)
        self.machines = {
            "volatility": Hysteresis(
                ("low", "normal", "high", "extreme"),
                settings.volatility_percentiles,
                settings.volatility_margin,
                dwell,
            ),
            "trend": Hysteresis(
                ("down", "range", "up"),
                (-settings.trend_enter, settings.trend_enter),
                settings.trend_margin,
                dwell,
            ),
            "volume": Hysteresis(
                ("quiet", "normal", "active", "surge"),
                settings.volume_zscores,
                settings.volume_margin,
                dwell,
            ),
        }
        self.inputs: dict[str, dict[str, float]] = {name: {} for name in REGIMES}
        window = max(settings.volatility_window, settings.trend_window) + 1
        self._closes: deque[float] = deque(maxlen=window)
        self._confirm_closes: deque[float] = deque(maxlen=settings.trend_window + 1)
        self._volatility = TrailingValues(capacity)
        self._volume = LogVolumeBaseline(capacity, settings.min_history)
        self._confirm_er: float | None = None
        self.atr = {name: WilderAtr(ATR_PERIOD) for name in CONTEXT_TIMEFRAMES}
        # the 1m volume z-score is the volume regime's own when the regime reads 1m candles
        self._context_volume = (
            self._volume
            if settings.timeframe == "1m"
            else LogVolumeBaseline(
                max(settings.min_history, parse_duration_ns(settings.baseline) // 60_000_000_000),
                settings.min_history,
            )
        )
        self._volume_result: tuple[float, float, float, float] | None = None
        self.volume_zscore_1m: float | None = None

    # -- candles in ----------------------------------------------------------------------------

    def on_candle(self, timeframe: str, candle: Candle, end_ns: int) -> list[RegimeChanged]:
        """Take one closed candle (ending at end_ns); the regime changes it caused."""
        if timeframe in self.atr:
            self.atr[timeframe].add(candle)
        changes: list[RegimeChanged] = []
        if timeframe == self.confirm:
            self._confirm_closes.append(candle.close)
            self._confirm_er = efficiency_ratio(self._confirm_closes, self.settings.trend_window)
        if timeframe == self.timeframe:
            self._closes.append(candle.close)
            self._update_volatility(end_ns, changes)
            self._volume_result = self._volume.add(candle)
            self._update_volume(end_ns, changes)
            self._update_trend(end_ns, changes)
        if timeframe == "1m":
            volume = (
                self._volume_result
                if self._context_volume is self._volume
                else self._context_volume.add(candle)
            )
            self.volume_zscore_1m = None if volume is None else volume[0]
        return changes

    def _update_volatility(self, end_ns: int, changes: list[RegimeChanged]) -> None:
        rv = realised_volatility_bps(self._closes, self.settings.volatility_window)
        if rv is None:
            return
        history = self._volatility
        if len(history) >= self.settings.min_history:
            rank = history.percentile_rank(rv)
            inputs = {"realized_vol_bps": rv, "percentile": rank, "history": float(len(history))}
            self._move("volatility", rank, end_ns, inputs, changes)
        history.append(rv)

    def _update_volume(self, end_ns: int, changes: list[RegimeChanged]) -> None:
        result = self._volume_result
        if result is None:
            return
        z, value, mean, std = result
        inputs = {"zscore": z, "log_volume": value, "baseline_mean": mean, "baseline_std": std}
        self._move("volume", z, end_ns, inputs, changes)

    def _update_trend(self, end_ns: int, changes: list[RegimeChanged]) -> None:
        fast = efficiency_ratio(self._closes, self.settings.trend_window)
        if fast is None:
            return
        slow = self._confirm_er
        value = fast if slow is None else (fast + slow) / 2.0
        inputs = {"efficiency_ratio": fast, "trend_value": value}
        if slow is not None:
            inputs["confirm_efficiency_ratio"] = slow
        self._move("trend", value, end_ns, inputs, changes)

    def _move(
        self,
        name: str,
        value: float,
        end_ns: int,
        inputs: dict[str, float],
        changes: list[RegimeChanged],
    ) -> None:
        self.inputs[name] = inputs
        change = self.machines[name].update(value, end_ns)
        if change is not None:
            changes.append(RegimeChanged(self.symbol, name, change[0], change[1], end_ns, inputs))

    # -- state out -----------------------------------------------------------------------------

    def states(self) -> dict[str, RegimeState]:
        return {
            name: RegimeState(machine.state, machine.since_ns, self.inputs[name])
            for name, machine in self.machines.items()
        }

    def gates(self, settings: GateSettings) -> tuple[float, int, int]:
        """(score multiplier, gate bits in REGIME_GATES order, trend sign) of the states now."""
        multiplier, bits = 1.0, 0
        if self.machines["volatility"].state == "extreme":
            multiplier *= settings.volatility_extreme
            bits |= 1
        if self.machines["volume"].state == "quiet":
            multiplier *= settings.volume_quiet
            bits |= 2
        trend = {"up": 1, "down": -1}.get(self.machines["trend"].state, 0)
        return multiplier, bits, trend

    def context(self) -> dict[str, float | None]:
        """The candle-based context factors, by catalog name."""
        return {
            "atr_1m_bps": self.atr["1m"].bps,
            "atr_5m_bps": self.atr["5m"].bps,
            "volume_zscore_1m": self.volume_zscore_1m,
        }

    def warming_up(self) -> bool:
        return any(machine.state == WARMING_UP for machine in self.machines.values())
