"""The live feed against the local exchange simulator, over real loopback sockets."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.integration.support import wait_until

from scalper.book import SyncState
from scalper.engine import Engine
from scalper.settings import ConnectionSettings, FaultSettings, FeedSettings, SimulatorSettings
from scalper.venues.bybit.feed import LiveFeed
from scalper.venues.simulator.exchange import ExchangeSimulator, serve_simulator

FAST_HEALING = ConnectionSettings(stale_after_s=1.5, backoff_initial_s=0.05, backoff_max_s=0.5)


def live_feed(
    engine: Engine, symbols: list[str], simulator: ExchangeSimulator, per_connection: int = 20
) -> LiveFeed:
    settings = FeedSettings(
        max_symbols_per_connection=per_connection,
        candle_grace_s=0.3,
        candle_timer_s=0.2,
        resync_retry_s=1.0,
        seed=7,
    )
    return LiveFeed(
        engine, symbols, simulator.ws_url("linear"), settings=settings, connection=FAST_HEALING
    )


def all_in_sync(engine: Engine, symbols: list[str]) -> bool:
    return all(
        engine.symbols.get(s) is not None
        and engine.symbols[s].book is not None
        and engine.symbols[s].book.state is SyncState.IN_SYNC
        for s in symbols
    )


async def books_match_truth(
    engine: Engine, simulator: ExchangeSimulator, symbols: list[str], timeout: float
) -> None:
    """Every book equals the simulator's published book at some moment when both are at the
    same update id (the stream keeps moving, so compare at equal `u`)."""
    pending = set(symbols)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for symbol in list(pending):
            book = engine.symbols[symbol].book
            assert book is not None
            if book.in_sync and book.update_id == simulator.published_update_id(symbol):
                bids, asks = simulator.published_book(symbol)
                assert book.bids.top(10_000) == bids, symbol
                assert book.asks.top(10_000) == asks, symbol
                pending.discard(symbol)
        await asyncio.sleep(0.01)
    assert not pending, f"books never matched the truth: {sorted(pending)}"


def assert_candles_contiguous(engine: Engine, symbols: list[str]) -> None:
    for symbol in symbols:
        for name, series in engine.symbols[symbol].candles.items():
            starts = [candle.start_ns for candle in series.closed]
            steps = {b - a for a, b in itertools.pairwise(starts)}
            assert steps <= {series.interval_ns}, (symbol, name, starts)


def test_fifty_symbols_heal_from_every_fault_and_match_the_truth() -> None:
    async def scenario() -> None:
        simulator = await serve_simulator(SimulatorSettings(symbols=50, seed=3))
        engine = Engine()
        symbols = simulator.symbols
        feed = live_feed(engine, symbols, simulator)
        await feed.start()
        try:
            await wait_until(lambda: all_in_sync(engine, symbols), 10, "first snapshots")
            await books_match_truth(engine, simulator, symbols, 10)
            gap, reset, broken, cut = symbols[1], symbols[2], symbols[3], symbols[4]
            simulator.inject_gap(gap)
            simulator.inject_reset(reset)
            simulator.inject_malformed(broken)
            simulator.inject_truncated(cut)
            await asyncio.sleep(1.0)
            simulator.drop_connections()
            await asyncio.sleep(1.0)
            simulator.stall(3.0)
            await asyncio.sleep(3.5)
            await wait_until(lambda: all_in_sync(engine, symbols), 10, "books back in sync")
            await books_match_truth(engine, simulator, symbols, 10)
            await asyncio.sleep(16)  # let every symbol close 15 s candles across the faults
            assert_candles_contiguous(engine, symbols)
        finally:
            await feed.stop()
            await simulator.stop()
        counters = {s: engine.symbols[s].counters for s in symbols}
        assert counters[gap].gaps >= 1
        assert counters[reset].snapshots >= 2
        assert counters[broken].malformed >= 1 and counters[cut].malformed >= 1
        assert engine.malformed.get("not_json", 0) >= 1
        assert engine.malformed.get("truncated", 0) >= 1
        assert sum(c.stats.reconnects for c in feed.connections) >= 2 * len(feed.connections)
        assert sum(c.stats.stale_timeouts for c in feed.connections) >= 1
        assert feed.symbol_stats[gap].resyncs_sent >= 1
        assert all(feed.symbol_stats[s].frames_per_s > 0 for s in symbols)
        assert simulator.fault_counts["gap"] >= 1 and simulator.fault_counts["drop"] >= 1

    asyncio.run(scenario())


def test_a_rejected_subscription_leaves_the_other_symbols_flowing() -> None:
    async def scenario() -> None:
        simulator = await serve_simulator(
            SimulatorSettings(
                symbols=6, seed=4, faults=FaultSettings(reject_symbols=("SYM002USDT",))
            )
        )
        engine = Engine()
        symbols = simulator.symbols
        assert "SYM002USDT" in symbols
        good = [s for s in symbols if s != "SYM002USDT"]
        feed = live_feed(engine, symbols, simulator, per_connection=100)
        await feed.start()
        try:
            await wait_until(lambda: all_in_sync(engine, good), 10, "the good symbols")
            await books_match_truth(engine, simulator, good, 10)
            (connection,) = feed.connections
            await wait_until(lambda: len(connection.subscriptions.failed) == 3, 5, "3 failures")
            assert set(connection.subscriptions.failed) == {
                "orderbook.50.SYM002USDT",
                "publicTrade.SYM002USDT",
                "tickers.SYM002USDT",
            }
            assert "SYM002USDT" not in engine.symbols
        finally:
            await feed.stop()
            await simulator.stop()

    asyncio.run(scenario())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _cli(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "scalper.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_sigint_and_sigterm_shut_the_process_down_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    simulator = _cli("simulate", "--port", str(port), "--symbols", "5")
    try:
        _wait_http(f"http://127.0.0.1:{port}/v5/market/tickers?category=linear", 20)
        for sig in (signal.SIGINT, signal.SIGTERM):
            client = _cli(
                "run",
                "--rest-url",
                f"http://127.0.0.1:{port}",
                "--ws-url",
                f"ws://127.0.0.1:{port}/v5/public/linear",
                "--top",
                "5",
                "--port",
                "0",
                "--data-dir",
                str(tmp_path / sig.name),
            )
            time.sleep(4)
            client.send_signal(sig)
            out, err = client.communicate(timeout=15)
            assert client.returncode == 0, err.decode()
            assert b"Traceback" not in err, err.decode()
            assert b"SYM000USDT" in out and b"in_sync" in out
            # The recording was closed on the way out: complete segments, no journal left.
            assert list((tmp_path / sig.name / "raw" / "bybit-linear").glob("date=*/*.parquet"))
            assert not list((tmp_path / sig.name).rglob("*.journal"))
        simulator.send_signal(signal.SIGTERM)
        _, err = simulator.communicate(timeout=15)
        assert simulator.returncode == 0, err.decode()
        assert b"Traceback" not in err, err.decode()
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.communicate()
