"""The recorder for real: SIGKILL mid-segment, and a live run (simulator with faults) that replays
to the same state; the CLI's `replay DATA_DIR`, `query` and the health report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from itertools import islice
from pathlib import Path

import httpx
import msgspec
import pytest
from tests.integration.support import wait_until

from scalper.api import create_app, serve_api
from scalper.engine import Engine
from scalper.replay import replay_recording
from scalper.runtime import PacedReplay, replay_paced
from scalper.settings import (
    ApiSettings,
    ConnectionSettings,
    EngineSettings,
    FaultSettings,
    FeedSettings,
    RecorderSettings,
    RegimeSettings,
    ScoreSettings,
    SignalSettings,
    SimulatorSettings,
)
from scalper.signals import SignalEngine
from scalper.storage.reader import iter_recorded
from scalper.storage.recorder import Recorder
from scalper.storage.segments import JOURNAL_SUFFIX, complete_segments
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.feed import LiveFeed
from scalper.venues.bybit.frames import CODECS, FrameApplier, record_frame
from scalper.venues.simulator.exchange import serve_simulator
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket
from scalper.views import engine_view

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from scalper.settings import RecorderSettings
    from scalper.storage.recorder import Recorder
    from scalper.venues.bybit.book_codec import BOOK_CODEC
    from scalper.venues.bybit.frames import record_frame
    from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

    settings = RecorderSettings(
        max_disk_bytes=None, retention_days=None, chunk_rows=100, sync_every_s=0.05,
        max_segment_bytes=400_000,
    )
    recorder = Recorder(Path(sys.argv[1]), settings, source="test", codec=BOOK_CODEC)
    recorder.start()
    for count, (recv_ns, raw) in enumerate(
        SyntheticMarket(MarketConfig(symbols=5, seconds=3600, seed=9)).frames(), 1
    ):
        record_frame(recorder, raw, recv_ns)
        if count % 100 == 0:
            time.sleep(0.002)  # about 50k frames/s: the writer keeps up
    """
)


def test_sigkill_mid_segment_keeps_earlier_segments_and_recovers_the_rest(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
        stderr=subprocess.PIPE,
    )
    raw_root = tmp_path / "raw" / "test"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(complete_segments(raw_root)) >= 2 and _journal_bytes(raw_root) > 100_000:
                break  # a segment is half written: kill now
            assert child.poll() is None, child.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.02)
        else:
            pytest.fail("the child wrote no complete segments in 60 s")
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()  # type: ignore[union-attr]

    # Reading right after the crash: complete segments only, byte-identical, in order.
    before = [(recv, payload) for recv, _, _, payload in iter_recorded(tmp_path, codecs=CODECS)]
    assert len(before) >= 300
    market = SyntheticMarket(MarketConfig(symbols=5, seconds=3600, seed=9))
    expected = list(islice(market.frames(), len(before) + 100_000))
    assert before == expected[: len(before)]

    # The next recorder on the directory turns the journal into a segment.
    recovered = Recorder(
        tmp_path, RecorderSettings(max_disk_bytes=None), source="test", codec=BOOK_CODEC
    )
    assert recovered.recover() >= 1
    assert not list(tmp_path.rglob(f"*{JOURNAL_SUFFIX}")) and not list(tmp_path.rglob("*.partial"))
    after = [(recv, payload) for recv, _, _, payload in iter_recorded(tmp_path, codecs=CODECS)]
    # Usually the journal adds the half-written segment's rows; if the kill fell between the
    # rename of a finished segment and the deletion of its journal, there is nothing to add.
    assert len(after) >= len(before)
    assert after == expected[: len(after)]


def _journal_bytes(root: Path) -> int:
    total = 0
    for journal in root.glob(f"date=*/*{JOURNAL_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):  # closed and deleted meanwhile
            total += journal.stat().st_size
    return total


FAST_SIGNALS = SignalSettings(
    regimes=RegimeSettings(
        timeframe="1s",
        trend_confirm_timeframe="5s",
        min_history=3,
        trend_window=3,
        volatility_window=3,
        min_dwell="1s",
    ),
    score=ScoreSettings(zscore_warmup="1s", min_ready_share=0.2),
)
"""Regimes on 1 s candles: they move within the few seconds a loopback run lasts."""


async def _live_run(
    data_dir: Path, config: EngineSettings, seconds: float
) -> tuple[Engine, dict, SignalEngine]:
    """Simulator with faults -> live feed (recording) -> engine and signals; returns engine,
    health and signals."""
    faults = FaultSettings(gap_per_frame=0.003, drop_per_s=0.05, malformed_per_frame=0.002)
    simulator = await serve_simulator(
        SimulatorSettings(symbols=4, seed=21, rate=2.0, faults=faults)
    )
    engine = Engine(config)
    signals = SignalEngine(engine, FAST_SIGNALS)
    recorder = Recorder(data_dir, RecorderSettings(chunk_rows=256), source="sim", codec=BOOK_CODEC)
    recorder.start()
    engine.subscribe(recorder.on_notification)
    feed = LiveFeed(
        engine,
        simulator.symbols,
        simulator.ws_url("linear"),
        settings=FeedSettings(candle_grace_s=0.2, candle_timer_s=0.1, resync_retry_s=0.3, seed=3),
        connection=ConnectionSettings(stale_after_s=5.0, backoff_initial_s=0.05),
        recorder=recorder,
    )
    server = await serve_api(create_app(engine, feed, recorder=recorder), port=0)
    await feed.start()
    try:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            await asyncio.sleep(0.25)
            recorder.record_metrics(engine, time.time_ns())
            recorder.flush()
        await wait_until(
            lambda: sum(s.counters.gaps for s in engine.symbols.values()) > 0,
            10,
            "a sequence gap from the fault injector",
        )
        await asyncio.sleep(1.0)  # let the writer check the disk budget once
        async with httpx.AsyncClient(base_url=server.url) as client:
            health = (await client.get("/api/monitor/health")).json()
    finally:
        await server.stop()
        await feed.stop()
        await simulator.stop()
        recorder.stop()
    return engine, health, signals


def test_live_run_with_faults_replays_to_identical_state(tmp_path: Path) -> None:
    """Engine state and signals (factors, scores, regimes and their changes) of a live run with
    gaps, drops and broken frames come back byte for byte from its recording."""
    config = EngineSettings(timeframes=("1s", "5s"), candle_history="1h")
    live, health, live_signals = asyncio.run(_live_run(tmp_path, config, seconds=6.0))
    counters = [s.counters for s in live.symbols.values()]
    assert sum(c.gaps for c in counters) > 0 and sum(c.snapshots for c in counters) > 4
    assert sum(len(s.candles["1s"].closed) for s in live.symbols.values()) > 10

    replayed = Engine(config)
    replayed_signals = SignalEngine(replayed, FAST_SIGNALS)
    rows = replay_recording(FrameApplier(replayed), tmp_path)
    assert rows >= live.frames
    encode = msgspec.json.encode
    assert encode(engine_view(replayed, 50)) == encode(engine_view(live, 50))
    for symbol in live.symbols:
        assert encode(replayed_signals.view(symbol)) == encode(live_signals.view(symbol))
    assert list(replayed_signals.changes) == list(live_signals.changes) != []
    assert any(view.score.value is not None for view in map(live_signals.view, live.symbols))

    data_dir = health["data_dir"]
    assert data_dir["recording"] is True and data_dir["path"] == str(tmp_path)
    assert data_dir["bytes_used"] > 0 and data_dir["max_bytes"] == 20 * 2**30
    assert data_dir["recorder"]["frames_recorded"] > 0
    assert data_dir["recorder"]["frames_dropped"] == 0 and data_dir["warning"] is None


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scalper.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def recorded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir recorded from 6,000 synthetic frames through an engine, with candles."""
    data_dir = tmp_path_factory.mktemp("recorded")
    engine = Engine(EngineSettings(timeframes=("1s", "15s")))
    recorder = Recorder(
        data_dir, RecorderSettings(retention_days=None), source="sim", codec=BOOK_CODEC
    )
    recorder.start()
    engine.subscribe(recorder.on_notification)
    for recv_ns, raw in islice(SyntheticMarket(MarketConfig(symbols=3, seed=4)).frames(), 6000):
        engine.on_event(record_frame(recorder, raw, recv_ns))  # type: ignore[arg-type]
    recorder.stop()
    return data_dir


def test_cli_replay_data_dir_with_filters_and_query(recorded_dir: Path, tmp_path: Path) -> None:
    whole = run_cli("replay", recorded_dir, "--json", tmp_path / "all.json")
    assert whole.returncode == 0, whole.stderr
    assert "replayed 6000 recorded rows" in whole.stderr
    state = msgspec.json.decode((tmp_path / "all.json").read_bytes())
    assert sorted(state["symbols"]) == ["SYM000USDT", "SYM001USDT", "SYM002USDT"]

    one = run_cli("replay", recorded_dir, "--symbols", "sym001usdt", "--json", tmp_path / "1.json")
    assert one.returncode == 0, one.stderr
    only = msgspec.json.decode((tmp_path / "1.json").read_bytes())
    assert list(only["symbols"]) == ["SYM001USDT"]
    assert only["symbols"]["SYM001USDT"]["book"] == state["symbols"]["SYM001USDT"]["book"]

    first_recv = next(iter_recorded(recorded_dir, codecs=CODECS))[0]
    late = run_cli("replay", recorded_dir, "--from", str(first_recv + 2 * 10**9), "--no-progress")
    assert late.returncode == 0 and "replayed" in late.stderr
    assert int(late.stderr.split("replayed ")[1].split()[0]) < 6000

    query = run_cli(
        "query",
        "select timeframe, count(*) as n from candles group by 1 order by 1",
        "--data-dir",
        recorded_dir,
        "--csv",
    )
    assert query.returncode == 0, query.stderr
    lines = query.stdout.splitlines()
    assert lines[0] == "timeframe,n" and lines[1].startswith("15s,") and lines[2].startswith("1s,")

    bad = run_cli("query", "select nope from candles", "--data-dir", recorded_dir)
    assert bad.returncode == 2 and "query failed" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("replay", recorded_dir, "--speed", "0")
    assert missing.returncode == 2 and "--speed" in missing.stderr


def test_paced_replay_serves_the_api_while_it_runs(recorded_dir: Path, caplog) -> None:
    async def scenario() -> tuple[int, dict]:
        engine = Engine(EngineSettings())
        options = PacedReplay(recorded_dir, speed=20.0, api=ApiSettings(enabled=False))
        server = await serve_api(create_app(engine), port=0)
        task = asyncio.create_task(replay_paced(FrameApplier(engine), options))
        try:
            await wait_until(lambda: engine.frames > 100, 10, "the replay to start")
            async with httpx.AsyncClient(base_url=server.url) as client:
                rows = (await client.get("/api/symbols")).json()
            mid_run = engine.frames
            count = await task
        finally:
            await server.stop()
        assert mid_run < count  # paced: the API answered before the replay ended
        return count, rows

    with caplog.at_level(logging.INFO):
        count, rows = asyncio.run(scenario())
    assert count == 6000
    assert {row["symbol"] for row in rows["symbols"]} <= {"SYM000USDT", "SYM001USDT", "SYM002USDT"}
