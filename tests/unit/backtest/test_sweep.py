"""Sweeps: every point of the grid backtested in its own worker process gives the figures it
gives alone, and the runs come back ranked."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from scalper.backtest.runner import write_run_context
from scalper.backtest.sweep import backtest_metrics, grid, parse_sweep, ranked, run_sweep
from scalper.backtest.walk_forward import walk_forward, windows
from scalper.errors import ConfigError
from scalper.settings import RecorderSettings, Settings
from scalper.settings_sources import load_settings
from scalper.storage.recorder import Recorder
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.frames import record_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket, generate_frames

DEMO_LIKE = {
    "engine.timeframes": ["15s", "1m", "5m"],
    "signals.regimes.timeframe": "15s",
    "signals.regimes.trend_confirm_timeframe": "1m",
    "trading.strategy.allowed_volatility": ["warming_up", "low", "normal", "high"],
    "trading.strategy.allowed_volume": ["warming_up", "quiet", "normal", "active", "surge"],
}


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("recording")
    market = MarketConfig(symbols=6, seconds=60, seed=4)
    recorder = Recorder(
        data_dir,
        RecorderSettings(max_disk_bytes=None, retention_days=None),
        source="test",
        codec=BOOK_CODEC,
    )
    recorder.start()
    for recv_ns, raw in generate_frames(market):
        record_frame(recorder, raw, recv_ns)
    recorder.stop()
    instruments = {c.symbol: c.instrument for c in SyntheticMarket(market).instruments.values()}
    write_run_context(data_dir, settings_at({}), instruments)
    return data_dir


def settings_at(point: dict[str, str]) -> Settings:
    flags = {key: (value, "--sweep") for key, value in point.items()}
    return load_settings(env={}, flags=flags, command_defaults=DEMO_LIKE).settings


def test_each_run_of_a_parallel_sweep_equals_the_same_backtest_alone(recording: Path) -> None:
    points = grid(
        parse_sweep(["trading.strategy.enter_score=0.4,0.6", "trading.strategy.entry=limit,market"])
    )
    assert points[1] == {"trading.strategy.enter_score": "0.4", "trading.strategy.entry": "market"}
    runs = run_sweep(points, settings_at, recording, workers=2)
    assert [run.point for run in runs] == points
    assert any(run.metrics.trades > 0 for run in runs)
    for run in runs:
        alone = backtest_metrics(settings_at(run.point), recording)
        assert msgspec.json.encode(run.metrics) == msgspec.json.encode(alone)
    best = ranked(runs, "net_pnl")
    assert [r.metrics.net_pnl for r in best] == sorted(
        (r.metrics.net_pnl for r in runs), reverse=True
    )


@pytest.mark.parametrize("text", ["enter_score", "x=", "=1,2"])
def test_a_malformed_sweep_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--sweep"):
        parse_sweep([text])


def test_an_unknown_rank_metric_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a metric"):
        ranked([], "luck")


def test_walk_forward_windows_roll_by_the_test_window() -> None:
    s = 1_000_000_000
    assert windows(0, 100 * s, 40 * s, 20 * s) == [
        (0, 40 * s, 60 * s),
        (20 * s, 60 * s, 80 * s),
        (40 * s, 80 * s, 100 * s),
    ]
    with pytest.raises(ConfigError, match="too short"):
        windows(0, 50 * s, 40 * s, 20 * s)


def test_walk_forward_keeps_the_training_winner_and_judges_it_on_the_next_window(
    recording: Path,
) -> None:
    from scalper.storage.reader import recorded_span

    first, last = recorded_span(recording)  # type: ignore[misc]
    folds = windows(first, last, 30 * 1_000_000_000, 20 * 1_000_000_000)
    points = grid(parse_sweep(["trading.strategy.enter_score=0.3,0.6"]))
    (fold,) = walk_forward(points, settings_at, recording, folds, "net_pnl", workers=1)
    train_runs = run_sweep(points, settings_at, recording, fold.train_from_ns, fold.train_to_ns)
    assert fold.best == ranked(train_runs, "net_pnl")[0].point
    alone = backtest_metrics(settings_at(fold.best), recording, fold.test_from_ns, fold.test_to_ns)
    assert msgspec.json.encode(fold.test) == msgspec.json.encode(alone)


def test_a_sweep_on_an_existing_dask_cluster_equals_the_local_pool(recording: Path) -> None:
    from distributed import LocalCluster

    from scalper.backtest.cluster import Cluster

    points = grid(parse_sweep(["trading.strategy.enter_score=0.4,0.6"]))
    local = run_sweep(points, settings_at, recording, workers=2)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = run_sweep(
            points, settings_at, recording, cluster=Cluster(scheduler=cluster.scheduler_address)
        )
    assert msgspec.json.encode(remote) == msgspec.json.encode(local)


def test_the_command_sweeps_on_a_dask_local_cluster_as_on_the_local_pool(
    recording: Path, tmp_path: Path
) -> None:
    from scalper.cli import main

    sweep = ["backtest", str(recording), "--sweep", "trading.strategy.entry=limit,market"]
    assert main([*sweep, "--workers", "2", "--out", str(tmp_path / "pool")]) == 0
    assert (
        main([*sweep, "--cluster", "dask", "--workers", "2", "--out", str(tmp_path / "dask")]) == 0
    )
    pool, dask = (tmp_path / name / "sweep.json" for name in ("pool", "dask"))
    assert dask.read_bytes() == pool.read_bytes()
    with pytest.raises(SystemExit):
        main([*sweep, "--cluster", "ray"])
    assert main([*sweep, "--scheduler", "tcp://127.0.0.1:1"]) == 2
