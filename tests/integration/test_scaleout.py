"""`--workers N`: ingest worker processes -> NATS JetStream (a real nats-server on a free
loopback port) -> the engine, against the local exchange simulator."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.integration.support import wait_until
from tests.integration.test_live_feed import all_in_sync, books_match_truth

from scalper.engine import Engine
from scalper.scaleout.feed import ScaleoutFeed
from scalper.scaleout.server import NatsServer
from scalper.scaleout.stream import decode_batch, encode_batch
from scalper.settings import ConnectionSettings, FeedSettings, ScaleoutSettings, SimulatorSettings
from scalper.venues.simulator.exchange import ExchangeSimulator, serve_simulator

FEED = FeedSettings(
    max_symbols_per_connection=20,
    candle_grace_s=0.3,
    candle_timer_s=0.2,
    resync_retry_s=1.0,
    seed=7,
    warm_start=False,
)
CONNECTION = ConnectionSettings(stale_after_s=3.0, backoff_initial_s=0.05, backoff_max_s=0.5)


def test_a_batch_round_trips() -> None:
    frames = [(1, b'{"a":1}'), (2, b"")]
    assert decode_batch(encode_batch(frames)) == frames


def test_nats_server_starts_serves_jetstream_and_stops() -> None:
    import nats

    async def scenario() -> None:
        server = NatsServer()
        await server.start()
        try:
            assert server.url.startswith("nats://127.0.0.1:")
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await js.add_stream(name="T", subjects=["t.>"])
            ack = await js.publish("t.x", b"hello")
            assert ack.seq == 1
            await nc.close()
        finally:
            process = server._process
            await server.stop()
        assert process is not None and process.returncode is not None

    asyncio.run(scenario())


@asynccontextmanager
async def scaled(
    symbols: int, workers: int
) -> AsyncIterator[tuple[ExchangeSimulator, Engine, ScaleoutFeed]]:
    simulator = await serve_simulator(SimulatorSettings(symbols=symbols, seed=3))
    engine = Engine()
    feed = ScaleoutFeed(
        engine,
        simulator.symbols,
        simulator.ws_url("linear"),
        "linear",
        FEED,
        CONNECTION,
        {},
        None,
        ScaleoutSettings(workers=workers, restart_backoff_s=0.2, status_every_s=0.2),
    )
    await feed.start()
    try:
        await wait_until(lambda: all_in_sync(engine, simulator.symbols), 60, "first snapshots")
        await books_match_truth(engine, simulator, simulator.symbols, 20)
        yield simulator, engine, feed
    finally:
        await feed.stop()
        await simulator.stop()


def test_two_workers_feed_every_symbol_into_one_engine() -> None:
    async def scenario() -> None:
        async with scaled(6, 2) as (simulator, engine, feed):
            assert [len(link.symbols) for link in feed.workers] == [3, 3]
            assert set(engine.symbols) >= set(simulator.symbols)
            await wait_until(
                lambda: all(link.stats.state == "open" and link.stats.pid for link in feed.workers),
                20,
                "worker reports",
            )
            assert feed.duplicates == 0

    asyncio.run(scenario())


def test_a_killed_worker_is_restarted_and_its_books_heal() -> None:
    """kill -9 one worker mid-run: the supervisor starts another, it subscribes again, the
    snapshot replaces its symbols' books, which equal the model's again; nothing is applied
    twice, and every batch the stream stored is applied."""

    async def scenario() -> None:
        async with scaled(6, 2) as (simulator, engine, feed):
            victim = feed.workers[0]
            assert victim.process is not None and victim.process.pid is not None
            pid = victim.process.pid
            snapshots = {s: engine.symbols[s].counters.snapshots for s in victim.symbols}
            os.kill(pid, signal.SIGKILL)
            await wait_until(
                lambda: (
                    victim.process is not None
                    and victim.process.starts == 2
                    and victim.process.pid not in (None, pid)
                ),
                30,
                "a restarted worker",
            )
            await wait_until(
                lambda: all(
                    engine.symbols[s].counters.snapshots > snapshots[s] for s in victim.symbols
                ),
                30,
                "fresh snapshots from the new worker",
            )
            await books_match_truth(engine, simulator, simulator.symbols, 20)
            await wait_until(lambda: victim.stats.state == "open", 20, "the worker's report")
            assert victim.stats.reconnects >= 1
            assert feed.duplicates == 0
            last = max(link.stats.stream_seq for link in feed.workers)
            await wait_until(lambda: feed.applied_seq >= last, 20, "the backlog applied")

    asyncio.run(scenario())


def test_a_consumer_killed_mid_stream_resumes_from_its_acknowledged_position(
    tmp_path: Path,
) -> None:
    """kill -9 a journaling consumer mid-stream, start it again on the same durable consumer:
    it rebuilds from its journal, resumes after its last ack, skips what it had applied but not
    acknowledged, and ends with every frame applied once and the books of a run without the
    kill."""
    from bench.scaleout import market_batches, publish

    batches, _, total = market_batches(8, 20.0, 4, seed=11)

    def consumer(durable: str, fetch_batch: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scalper.scaleout.journal",
                server.url,
                durable,
                str(tmp_path / f"{durable}.journal"),
                str(total),
                str(tmp_path / f"{durable}.json"),
                str(fetch_batch),
            ]
        )

    server = NatsServer()

    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        await server.start()
        try:
            await publish(server.url, ScaleoutSettings(), batches)
            assert await asyncio.to_thread(consumer("whole", 256).wait, 120) == 0
            whole = json.loads((tmp_path / "whole.json").read_bytes())
            first = consumer("killed", 2)
            journal = tmp_path / "killed.journal"
            deadline = time.monotonic() + 60
            while not (journal.exists() and journal.stat().st_size > 20_000):
                assert first.poll() is None, "finished before the kill: make the stream longer"
                assert time.monotonic() < deadline, "the consumer never started"
                await asyncio.sleep(0.005)
            os.kill(first.pid, signal.SIGKILL)
            assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
            assert await asyncio.to_thread(consumer("killed", 256).wait, 120) == 0
            return whole, json.loads((tmp_path / "killed.json").read_bytes())
        finally:
            await server.stop()

    whole, killed = asyncio.run(scenario())
    assert whole["frames"] == total and whole["skipped"] == 0
    assert whole["last_seq"] == len(batches)
    assert killed["frames"] == total, "a frame was lost or applied twice"
    assert killed["last_seq"] == len(batches)
    assert killed["books"] == whole["books"]
