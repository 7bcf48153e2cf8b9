"""The soak's memory verdicts: a trend that ignores the sawtooth, a ceiling that counts the
queue, and the table of memory reports."""

from __future__ import annotations

import argparse

from bench.soak import (
    QUEUED_CHUNK_MB,
    memory_report_table,
    memory_trend,
    memory_verdicts,
    rss_ceiling_mb,
)


def _args(**overrides: object) -> argparse.Namespace:
    options = {"warmup": 60.0, "symbols": 100, "max_rss_slope_pct": 1.0, "max_rss_mb": None}
    options.update(overrides)
    return argparse.Namespace(**options)


def _samples(rss, queue=None, every_s: float = 60.0) -> list[dict[str, float]]:
    queue = queue or [0.0] * len(rss)
    return [
        {"t_s": i * every_s, "rss_mb": r, "queue_depth": q}
        for i, (r, q) in enumerate(zip(rss, queue, strict=True))
    ]


def test_a_sawtooth_on_a_flat_level_passes_and_a_slow_rise_fails():
    flat = _samples([500.0] + [300.0 + 20 * (i % 3) for i in range(60)])  # warm-up sample first
    trend = memory_trend(flat, warmup_s=60.0)
    assert trend is not None and trend.slope_mb_per_h == 0.0 and trend.max_mb == 340.0
    (what, passed, _), _ = memory_verdicts(flat, _args(max_rss_mb=400.0))
    assert "trend" in what and passed
    rising = _samples([300.0 + 0.1 * i for i in range(61)])  # 6 MB an hour on ~303 MB
    (_, passed, figures), _ = memory_verdicts(rising, _args(max_rss_mb=400.0))
    assert not passed and "+6.00 MB/h" in figures


def test_the_ceiling_allows_for_the_chunks_queued_at_each_sample():
    ceiling = rss_ceiling_mb(100)
    over = ceiling + 10
    queued = _samples([300.0, 300.0, over, 300.0, 300.0], [0, 0, 10, 0, 0])
    _, (_, passed, figures) = memory_verdicts(queued, _args())
    assert passed and f"{QUEUED_CHUNK_MB:g} MB x 10 chunks" in figures
    unqueued = _samples([300.0, 300.0, over, 300.0, 300.0])
    _, (_, passed, _) = memory_verdicts(unqueued, _args())
    assert not passed


def test_too_few_samples_after_warm_up_fail():
    [(what, passed, _)] = memory_verdicts(_samples([300.0] * 3), _args())
    assert not passed and "enough samples" in what


def test_report_table_takes_the_reports_nearest_every_ten_minutes():
    reports = [
        {
            "uptime_s": t,
            "rss_bytes": 300 * 2**20,
            "glibc": {
                "arena_sizes": [30 * 2**20, 50 * 2**20],
                "free_bytes": 20 * 2**20,
                "in_use_bytes": 60 * 2**20,
            },
            "arrow": {"allocated_bytes": 5 * 2**20, "max_bytes": 59 * 2**20},
            "recorder_buffered_bytes": {"raw": 20 * 2**20, "metrics": 4 * 2**20},
        }
        for t in range(0, 1300, 60)
    ]
    rows = memory_report_table(reports)
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["0", "10", "20", "21"]
    assert rows[3] == "| 10 | 300 | 50 | 20 | 60 | 5 / 59 | 24 | - |"
