"""Walk-forward: parameters chosen on one period are judged on the next.

The recording is cut into folds of a training window followed by a test window (the next fold
starts one test window later). In each fold the sweep's grid is backtested on the training
window, the best point by the ranking metric is kept, and that point alone is backtested on the
test window. Each window starts with its books brought to their state then; the signals and
regimes warm up again at each window's start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from scalper.backtest.cluster import Cluster
from scalper.backtest.metrics import ReportMetrics
from scalper.backtest.sweep import Point, backtest_metrics, ranked, run_sweep
from scalper.errors import ConfigError
from scalper.settings import Settings


class Fold(msgspec.Struct, frozen=True, kw_only=True):
    train_from_ns: int
    train_to_ns: int
    test_from_ns: int
    test_to_ns: int
    best: Point
    """The grid point that ranked first on the training window."""
    train: ReportMetrics
    test: ReportMetrics


def windows(first_ns: int, last_ns: int, train_ns: int, test_ns: int) -> list[tuple[int, int, int]]:
    """(train start, test start, test end) of every fold that fits in [first, last]."""
    if train_ns <= 0 or test_ns <= 0:
        raise ConfigError("--train and --test must be positive durations")
    folds = []
    start = first_ns
    while start + train_ns + test_ns <= last_ns + 1:
        folds.append((start, start + train_ns, start + train_ns + test_ns))
        start += test_ns
    if not folds:
        span_s = (last_ns - first_ns) / 1e9
        raise ConfigError(
            f"the recording spans {span_s:.0f} s: too short for one --train + --test fold"
        )
    return folds


def walk_forward(
    points: Sequence[Point],
    settings_of: Callable[[Point], Settings],
    data_dir: Path,
    folds: Sequence[tuple[int, int, int]],
    metric: str,
    symbols: list[str] | None = None,
    workers: int | None = None,
    cluster: Cluster | None = None,
) -> list[Fold]:
    """Every fold: the grid on its training window (on `cluster` if given), the best point on
    its test window."""
    results = []
    for train_from, test_from, test_to in folds:
        runs = run_sweep(
            points, settings_of, data_dir, train_from, test_from, symbols, workers, cluster
        )
        best = ranked(runs, metric)[0]
        test = backtest_metrics(settings_of(best.point), data_dir, test_from, test_to, symbols)
        results.append(
            Fold(
                train_from_ns=train_from,
                train_to_ns=test_from,
                test_from_ns=test_from,
                test_to_ns=test_to,
                best=best.point,
                train=best.metrics,
                test=test,
            )
        )
    return results
