"""Pairing samples with forward returns: non-overlapping, both mids there, the value there."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalper.evaluation.report import _pairs, evaluate, hurdles
from scalper.evaluation.samples import COLUMNS, SampleCollector
from scalper.settings import SignalSettings

SECOND = 1_000_000_000


def test_forward_returns_start_on_the_horizons_grid_and_need_both_mids() -> None:
    collector = SampleCollector()
    mids = [100.0, 101.0, float("nan"), 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0]
    for k, mid in enumerate(mids):
        collector.add("A", 1000 * SECOND + k * SECOND, (0.0,) * (len(COLUMNS) - 1), 0.0, mid)
    (samples,) = collector.samples()
    five = _pairs(samples, 5 * SECOND)
    assert five.rows.tolist() == [0, 5]  # t = 1000 s and 1005 s; 1010 s has no t + 5
    assert five.returns.tolist() == pytest.approx([math.log(105 / 100), math.log(110 / 105)])
    one = _pairs(samples, SECOND)
    assert 1 not in one.rows.tolist() and 2 not in one.rows.tolist()  # a missing mid at 1002 s
    assert len(one.rows) == 10 - 2


def test_a_gap_in_the_samples_is_not_bridged() -> None:
    collector = SampleCollector()
    for k in (0, 1, 3):
        collector.add("A", k * SECOND, (0.0,) * (len(COLUMNS) - 1), 0.0, 100.0 + k)
    (samples,) = collector.samples()
    assert _pairs(samples, SECOND).rows.tolist() == [0]


def test_pooled_statistics_concatenate_the_symbols() -> None:
    collector = SampleCollector()
    rng = np.random.default_rng(1)
    index = COLUMNS.index("flow_imbalance_5s")
    for symbol in ("A", "B"):
        mid = 100.0
        for k in range(400):
            signal = float(rng.normal())
            values = [float("nan")] * (len(COLUMNS) - 1)
            values[index] = signal
            collector.add(symbol, k * SECOND, tuple(values), signal, mid)
            mid *= math.exp(signal * 1e-4)  # the next second's return is the signal
    evaluation = evaluate(collector.samples(), SignalSettings(), "test", "v")
    pooled = evaluation.columns["flow_imbalance_5s"].pooled["1s"].correlation
    assert pooled.n == 2 * 399
    assert pooled.ic == pytest.approx(1.0)
    assert evaluation.columns["imbalance_top1"].pooled["1s"].correlation.n == 0
    assert (
        evaluation.hurdles_bps
        == hurdles(SignalSettings())
        == {
            "taker_taker": 11.0,
            "maker_taker": 7.5,
            "maker_maker": 4.0,
        }
    )
    assert len(evaluation.score_buckets["1s"]) == 10
