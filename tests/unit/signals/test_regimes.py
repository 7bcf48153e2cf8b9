"""Regimes from closed candles, their notifications, gates and the warm-start rebuild."""

from __future__ import annotations

import math

import pytest
from tests.unit.signals.support import SECOND, T0, Stream, book

from scalper.candles import Candle
from scalper.events import BUY
from scalper.settings import GateSettings, RegimeSettings, SignalSettings
from scalper.signals.regimes import RegimeChanged, SymbolRegimes

MINUTE = 60 * SECOND
SETTINGS = RegimeSettings(min_history=5, volatility_window=3, trend_window=4, min_dwell="1m")


def feed(regimes: SymbolRegimes, closes: list[float], volumes: list[float] | None = None):
    changes: list[RegimeChanged] = []
    for k, close in enumerate(closes):
        volume = volumes[k] if volumes else 10.0
        candle = Candle(T0 + k * MINUTE, close, close, close, close, volume)
        changes += regimes.on_candle("1m", candle, T0 + (k + 1) * MINUTE)
    return changes


def test_a_steady_climb_is_an_up_trend_with_its_inputs() -> None:
    regimes = SymbolRegimes("X", SETTINGS)
    changes = feed(regimes, [100 + k for k in range(6)])
    trend = [c for c in changes if c.regime == "trend"]
    assert trend[0].previous == "warming_up" and trend[0].state == "up"
    assert trend[0].inputs["efficiency_ratio"] == 1.0
    assert trend[0].ts_ns == T0 + 5 * MINUTE  # the 5th candle's end: 4 steps of ER
    assert regimes.gates(GateSettings())[2] == 1


def test_a_volatility_spike_against_a_calm_history_is_extreme() -> None:
    regimes = SymbolRegimes("X", SETTINGS)
    calm = [100.0 + 0.01 * (k % 2) for k in range(12)]
    feed(regimes, calm)
    assert regimes.machines["volatility"].state in ("low", "normal", "high", "extreme")
    changes = feed(regimes, [*calm, 103.0, 99.0])[-3:]
    states = regimes.states()["volatility"]
    assert states.state == "extreme"
    assert states.inputs["percentile"] == 1.0
    multiplier, bits, _ = regimes.gates(GateSettings(volatility_extreme=0.25))
    assert multiplier == 0.25 and bits & 1
    assert any(c.regime == "volatility" and c.state == "extreme" for c in changes)


def test_a_volume_surge_by_its_zscore() -> None:
    regimes = SymbolRegimes("X", SETTINGS)
    volumes = [10.0, 12.0, 9.0, 11.0, 10.0, 11.0, 500.0]
    feed(regimes, [100.0] * 7, volumes)
    volume = regimes.states()["volume"]
    assert volume.state == "surge"
    history = [math.log1p(v) for v in volumes[:-1]]
    mean = sum(history) / len(history)
    std = math.sqrt(sum((h - mean) ** 2 for h in history) / len(history))
    assert volume.inputs["zscore"] == pytest.approx((math.log1p(500.0) - mean) / std)


def test_context_factors_come_from_1m_and_5m_candles() -> None:
    regimes = SymbolRegimes("X", SETTINGS)
    assert regimes.context() == {"atr_1m_bps": None, "atr_5m_bps": None, "volume_zscore_1m": None}
    for k in range(16):
        regimes.on_candle("1m", Candle(T0 + k * MINUTE, 100, 101, 99, 100, 10.0 + k), T0)
    assert regimes.context()["atr_1m_bps"] == pytest.approx(2.0 / 100 * 1e4)
    assert regimes.context()["atr_5m_bps"] is None


def _stream_with_minutes(minutes: int, settings: SignalSettings) -> Stream:
    """A price that climbs one tick a minute, one trade each 10 s (1m candles close)."""
    stream = Stream(settings)
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    for k in range(minutes * 6):
        stream.trades(T0 + k * 10 * SECOND + 5 * SECOND, (BUY, 1.0, 100.0 + 0.1 * (k // 6)))
    return stream


def test_regime_changes_reach_subscribers_and_the_view() -> None:
    settings = SignalSettings(regimes=SETTINGS)
    stream = Stream(settings)
    heard: list[RegimeChanged] = []
    stream.signals.subscribe(heard.append)
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    for k in range(8 * 6):
        stream.trades(T0 + k * 10 * SECOND + 5 * SECOND, (BUY, 1.0, 100.0 + 0.1 * (k // 6)))
    assert [(c.regime, c.state) for c in heard if c.regime == "trend"] == [("trend", "up")]
    view = stream.signals.view("TESTUSDT")
    assert view is not None
    assert view.regimes["trend"].state == "up"
    assert (
        view.regimes["trend"].last_change == heard[-1] or view.regimes["trend"].last_change in heard
    )


def test_restoring_recorded_candles_rebuilds_the_same_regimes() -> None:
    """Warm start: the candles a live run closed, fed back, give the same states and inputs."""
    settings = SignalSettings(regimes=SETTINGS)
    live = _stream_with_minutes(12, settings)
    state = live.engine.symbols["TESTUSDT"]
    recorded = {name: list(series.closed) for name, series in state.candles.items()}
    fresh = Stream(settings)
    fresh.signals.restore("TESTUSDT", recorded)
    assert fresh.signals.regimes["TESTUSDT"].states() == live.signals.regimes["TESTUSDT"].states()
    assert fresh.signals.regimes["TESTUSDT"].context() == live.signals.regimes["TESTUSDT"].context()
