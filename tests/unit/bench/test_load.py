"""The pure helpers of bench/load.py: the latency histogram and the lag-growth test."""

from __future__ import annotations

import math

from bench.load import LatencyHistogram, lag_grows, thirds_medians, timed_sink


def test_histogram_quantiles_are_the_upper_edge_of_their_bucket():
    histogram = LatencyHistogram(bucket_ns=10, buckets=100)
    for ns in range(100):  # 0..99 ns: bucket i holds [10 i, 10 i + 10)
        histogram.record(ns)
    assert histogram.count == 100
    assert histogram.quantile(0.5) == 50  # the 50th sample, 49, is in [40, 50)
    assert histogram.quantile(0.99) == 100
    assert histogram.max_ns == 99
    assert histogram.mean_ns == 49.5


def test_histogram_overflow_and_negative_samples_stay_bounded():
    histogram = LatencyHistogram(bucket_ns=10, buckets=10)
    histogram.record(-5)
    histogram.record(5_000)
    assert histogram.quantile(0.0) == 10
    assert histogram.quantile(1.0) == 5_000  # the last bucket reports the maximum seen
    histogram.clear()
    assert (histogram.count, histogram.quantile(0.99), histogram.max_ns) == (0, 0, 0)


def test_thirds_medians_and_lag_growth():
    assert thirds_medians([1.0, 2.0, 3.0, 10.0, 11.0, 12.0]) == (1.5, 11.5)
    assert all(math.isnan(value) for value in thirds_medians([]))
    assert not lag_grows(3.0, 12.0)  # within the 10 ms floor
    assert lag_grows(3.0, 14.0)
    assert not lag_grows(100.0, 140.0)  # within 50 % of the first third
    assert lag_grows(100.0, 160.0)


def test_timed_sink_calls_the_sink_then_records_the_elapsed_time():
    """The recorded latency is the clock after the sink minus the frame's receive time: the
    sink runs first (it advances the fake clock by 7 ns here)."""
    now = [1_000]
    seen: list[tuple[bytes, int, object]] = []
    recorded: list[int] = []

    def sink(raw: bytes, recv_ns: int, event: object) -> None:
        seen.append((raw, recv_ns, event))
        now[0] += 7

    timed = timed_sink(sink, recorded.append, clock=lambda: now[0])
    timed(b"frame", 990, None)
    assert seen == [(b"frame", 990, None)]
    assert recorded == [1_000 + 7 - 990]
