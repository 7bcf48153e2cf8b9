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
    TrailingValues,
    WilderAtr,
    efficiency_ratio,
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


def reference_rank(values: list[float], value: float) -> float:
    """Share below, ties counting half: a scan."""
    below = sum(v < value for v in values)
    return (below + 0.5 * sum(v == value for v in values)) / len(values)


def trailing(values: list[float], capacity: int = 100) -> TrailingValues:
    t = TrailingValues(capacity)
    for v in values:
        t.append(v)
    return t


def test_percentile_rank_counts_ties_half() -> None:
    assert trailing([1, 2, 3, 4]).percentile_rank(3) == (2 + 0.5) / 4
    assert trailing([1, 2, 3, 4]).percentile_rank(10) == 1.0


@given(
    st.lists(st.integers(-20, 20).map(float), min_size=1, max_size=120),
    st.integers(1, 25),
    st.integers(-21, 21).map(float),
)
def test_trailing_values_are_the_scans_of_the_last_values(values, capacity, probe) -> None:
    """Percentile rank and moments of the last `capacity` values, against plain scans, through
    evictions and the periodic re-summing."""
    t = trailing(values, capacity)
    kept = values[-capacity:]
    assert list(t) == kept
    assert t.percentile_rank(probe) == reference_rank(kept, probe)
    mean = math.fsum(kept) / len(kept)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in kept) / len(kept))
    got_mean, got_std = t.mean_std()
    assert got_mean == pytest.approx(mean, abs=1e-9)
    assert got_std == pytest.approx(std, abs=1e-6)


def test_efficiency_ratio_by_hand() -> None:
    closes = [99.0, 10, 11, 10, 12, 13]  # last 4 steps: path 1 + 1 + 2 + 1 = 5, change +3
    assert efficiency_ratio(closes, 4) == pytest.approx(3 / 5)
    assert efficiency_ratio([13, 12, 11], 2) == -1.0
    assert efficiency_ratio([5, 5, 5], 2) == 0.0
    assert efficiency_ratio([5, 5], 2) is None


def test_realised_volatility_by_hand() -> None:
    closes = [100.0, 101.0, 100.0]
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
