"""Parameter sweeps: the same recording backtested once per point of a grid of settings, in
parallel worker processes (one per core by default), ranked by a chosen metric.

Each run is a whole backtest in its own process from the same inputs, so a run's figures are
the ones it gives alone (tested). Where one machine's cores are not enough, the same runs go
to Dask (`backtest.cluster`: a LocalCluster, or an existing cluster's scheduler).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import msgspec

from scalper.backtest.cluster import Cluster, map_on_cluster
from scalper.backtest.entries import entry_contexts
from scalper.backtest.inputs import ReportInputs
from scalper.backtest.metrics import ReportMetrics, compute_metrics
from scalper.backtest.runner import Collected, build_trader, recorded_instruments, run_backtest
from scalper.errors import ConfigError
from scalper.settings import Settings

Point = dict[str, str]
"""One point of the grid: setting key -> value (as given on the command line)."""


class SweepRun(msgspec.Struct, frozen=True, kw_only=True):
    point: Point
    metrics: ReportMetrics


def parse_sweep(texts: Sequence[str]) -> list[tuple[str, list[str]]]:
    """`key=a,b,c` arguments -> [(key, [a, b, c])]."""
    axes = []
    for text in texts:
        key, sep, values = text.partition("=")
        choices = [value.strip() for value in values.split(",") if value.strip()]
        if not sep or not key.strip() or not choices:
            raise ConfigError(f"--sweep {text!r}: expected KEY=VALUE[,VALUE...]")
        axes.append((key.strip(), choices))
    keys = [key for key, _ in axes]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--sweep names a setting twice: {', '.join(keys)}")
    return axes


def grid(axes: Sequence[tuple[str, list[str]]]) -> list[Point]:
    """Every combination, the first axis slowest."""
    keys = [key for key, _ in axes]
    return [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*(v for _, v in axes))
    ]


def report_inputs(
    settings: Settings, rows: Collected, from_ns: int | None, to_ns: int | None
) -> ReportInputs:
    """The report's inputs from a backtest's collected rows."""
    limit_orders = [u.order for u in rows.orders if u.order.request.price is not None]
    placed = {order.client_id for order in limit_orders}
    filled = {order.client_id for order in limit_orders if order.filled_qty > 0}
    decided = {u.order.client_id: u.order.request.decided_ns for u in rows.orders}
    return ReportInputs(
        starting_equity=settings.trading.paper.starting_equity,
        trades=rows.trades,
        equity=rows.equity,
        fills=rows.fills,
        entries=entry_contexts(rows.trades, rows.audit),
        passive_orders_placed=len(placed),
        passive_orders_filled=len(filled),
        latencies_ns=[
            fill.ts_ns - decided[fill.client_id] for fill in rows.fills if fill.client_id in decided
        ],
        start_ns=from_ns,
        end_ns=to_ns,
    )


def backtest_metrics(
    settings: Settings,
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
) -> ReportMetrics:
    """One whole backtest, reduced to its metrics (what a worker process runs)."""
    trader = build_trader(settings, recorded_instruments(data_dir))
    _, rows = run_backtest(trader, data_dir, from_ns, to_ns, symbols)
    return compute_metrics(report_inputs(settings, rows, from_ns, to_ns))


def _run_point(
    job: tuple[Point, Settings, Path, int | None, int | None, list[str] | None],
) -> SweepRun:
    point, settings, data_dir, from_ns, to_ns, symbols = job
    return SweepRun(
        point=point, metrics=backtest_metrics(settings, data_dir, from_ns, to_ns, symbols)
    )


def run_sweep(
    points: Sequence[Point],
    settings_of: Callable[[Point], Settings],
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
    workers: int | None = None,
    cluster: Cluster | None = None,
) -> list[SweepRun]:
    """Backtest every point (its settings from `settings_of`) in `workers` processes (the
    machine's cores by default), or as tasks on `cluster`; results in the order of
    `points`."""
    jobs = [(point, settings_of(point), data_dir, from_ns, to_ns, symbols) for point in points]
    if cluster is not None:
        return map_on_cluster(_run_point, jobs, cluster, workers)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        return [_run_point(job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_run_point, jobs))


def ranked(runs: Sequence[SweepRun], metric: str) -> list[SweepRun]:
    """Best first by `metric` (higher is better; a run without a value goes last)."""
    if metric not in ReportMetrics.__struct_fields__:
        names = ", ".join(ReportMetrics.__struct_fields__)
        raise ConfigError(f"--rank {metric!r} is not a metric: one of {names}")

    def key(run: SweepRun) -> tuple[bool, float]:
        value = getattr(run.metrics, metric)
        if not isinstance(value, int | float):
            return (True, 0.0)
        return (False, -float(value))

    return sorted(runs, key=key)
