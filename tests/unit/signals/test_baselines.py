"""Candle statistics of the regimes against hand-computed values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.candles import Candle
from scalper.signals.baselines import (
    FloatRing,
    LogVolumeBaseline,
    WilderAtr,
    efficiency_ratio,
    percentile_rank,
    realised_volatility_bps,
)


def ring(values: list[float], capacity: int = 100) -> FloatRing:
    r = FloatRing(capacity)
    for v in values:
        r.append(v)
    return r


@given(st.lists(st.floats(-1e9, 1e9), max_size=50), st.integers(1, 20))
def test_ring_keeps_the_last_values_in_order(values, capacity) -> None:
    r = ring(values, capacity)
    assert list(r) == values[-capacity:] if values else list(r) == []
    if values:
        assert r.newest() == values[-1]


def test_percentile_rank_counts_ties_half() -> None:
    assert percentile_rank(ring([1, 2, 3, 4]), 3) == (2 + 0.5) / 4
    assert percentile_rank(ring([1, 2, 3, 4]), 10) == 1.0


def test_efficiency_ratio_by_hand() -> None:
    closes = ring([10, 11, 10, 12, 13])  # path 1 + 1 + 2 + 1 = 5, change +3
    assert efficiency_ratio(closes, 4) == pytest.approx(3 / 5)
    assert efficiency_ratio(ring([13, 12, 11]), 2) == -1.0
    assert efficiency_ratio(ring([5, 5, 5]), 2) == 0.0
    assert efficiency_ratio(ring([5, 5]), 2) is None


def test_realised_volatility_by_hand() -> None:
    closes = ring([100.0, 101.0, 100.0])
    expected = math.sqrt(math.log(1.01) ** 2 + math.log(100 / 101) ** 2) * 1e4
    assert realised_volatility_bps(closes, 2) == pytest.approx(expected)


def candle(high: float, low: float, close: float, volume: float = 1.0) -> Candle:
    return Candle(0, close, high, low, close, volume)


def test_wilder_atr_by_hand() -> None:
    atr = WilderAtr(period=2)
    atr.add(candle(11, 9, 10))  # no previous close: no true range
    atr.add(candle(12, 10, 11))  # TR = max(2, 2, 0) = 2
    assert atr.bps is None
    atr.add(candle(11, 10, 10.5))  # TR = max(1, 0, 1) = 1 -> ATR (2 + 1) / 2 = 1.5
    assert atr.bps == pytest.approx(1.5 / 10.5 * 1e4)
    atr.add(candle(14, 10.5, 14))  # TR = max(3.5, 3.5, 0) = 3.5 -> (1.5 + 3.5) / 2 = 2.5
    assert atr.bps == pytest.approx(2.5 / 14 * 1e4)


def test_log_volume_zscore_against_the_candles_before() -> None:
    baseline = LogVolumeBaseline(capacity=10, min_history=3)
    for volume in (math.e - 1, math.e**2 - 1, math.e**3 - 1):  # ln(1 + v) = 1, 2, 3
        assert baseline.add(candle(1, 1, 1, volume)) is None
    z, value, mean, std = baseline.add(candle(1, 1, 1, math.e**4 - 1))  # type: ignore[misc]
    assert (value, mean) == (pytest.approx(4.0), pytest.approx(2.0))
    assert std == pytest.approx(math.sqrt(2 / 3))
    assert z == pytest.approx(2 / math.sqrt(2 / 3))
