"""The evaluator's statistics against simple reference models and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scalper.evaluation.statistics import (
    average_ranks,
    buckets,
    correlation,
    half_life,
    hit_rate,
    magnitude_quantile,
    pearson,
)

values = st.lists(st.integers(-50, 50).map(float), min_size=3, max_size=40)


def reference_ranks(xs: list[float]) -> list[float]:
    """Rank = 1 + number smaller + (number equal - 1) / 2: the average rank of a tie, O(n^2)."""
    return [1 + sum(y < x for y in xs) + (sum(y == x for y in xs) - 1) / 2 for x in xs]


@given(values)
def test_average_ranks_are_the_reference(xs) -> None:
    assert average_ranks(np.array(xs)).tolist() == reference_ranks(xs)


@given(values, values)
def test_pearson_and_spearman_are_numpys_correlations(xs, ys) -> None:
    n = min(len(xs), len(ys))
    x, y = np.array(xs[:n]), np.array(ys[:n])
    assume(x.std() > 0 and y.std() > 0)
    c = correlation(x, y, 0.95)
    assert c.ic == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    ranks = np.corrcoef(reference_ranks(xs[:n]), reference_ranks(ys[:n]))[0, 1]
    assert c.rank_ic == pytest.approx(ranks, abs=1e-12)
    if n > 3:
        assert c.ic_low <= c.ic <= c.ic_high


def test_the_interval_is_fishers() -> None:
    x = np.arange(103, dtype=float)
    y = x + np.tile([3.0, -3.0], 52)[:103] * 10
    c = correlation(x, y, 0.95)
    z = math.atanh(c.ic)
    assert c.ic_low == pytest.approx(math.tanh(z - 1.959963984540054 / 10))
    assert c.ic_high == pytest.approx(math.tanh(z + 1.959963984540054 / 10))


def test_no_correlation_without_spread_or_samples() -> None:
    assert pearson(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])) is None
    assert correlation(np.array([1.0, 2.0]), np.array([1.0, 2.0]), 0.95).ic is None


def test_hit_rate_by_hand() -> None:
    signal = np.array([0.1, 0.9, -0.8, 0.7, -0.6, 0.5, 0.05])
    forward = np.array([0.3, 0.01, 0.02, 0.0, -0.2, -0.1, 0.0])
    hits = hit_rate(signal, forward, threshold=0.4)
    assert hits.selected == 5  # 0.9, -0.8, 0.7, -0.6, 0.5
    assert hits.zero_return_share == pytest.approx(1 / 5)  # 0.7 -> 0.0
    assert hits.hits == 2  # 0.9 up, -0.6 down; -0.8 and 0.5 wrong
    assert hits.hit_rate == pytest.approx(2 / 4)
    assert magnitude_quantile(signal, 0.5) == pytest.approx(0.6)


def test_half_life_of_an_exponential_decay_is_exact() -> None:
    horizons = [1.0, 5.0, 30.0, 60.0]
    ics = [0.4 * math.exp(-math.log(2) / 12.5 * h) for h in horizons]
    assert half_life(horizons, ics) == pytest.approx(12.5)
    # a flip of sign ends the decay's points; growth is no decay
    assert half_life(horizons, [0.4, 0.2, -0.1, 0.05]) == pytest.approx(
        4 * math.log(2) / math.log(2)
    )
    assert half_life(horizons, [0.1, 0.2, 0.3, 0.4]) is None
    assert half_life(horizons, [None, None, None, None]) is None


def test_buckets_split_by_signal_and_average_returns_in_bps() -> None:
    signal = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 6.0])
    forward = np.array([0.0005, -0.0001, 0.0, -0.0003, 0.0002, 0.0007])
    parts = buckets(signal, forward, 3)
    assert [(b.low, b.high, b.n) for b in parts] == [(1.0, 2.0, 2), (3.0, 4.0, 2), (5.0, 6.0, 2)]
    assert [b.mean_return_bps for b in parts] == pytest.approx([-2.0, 1.0, 6.0])
    assert buckets(signal[:2], forward[:2], 3) == []
