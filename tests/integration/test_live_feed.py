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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.integration.support import wait_until

from scalper.book import SyncState
from scalper.engine import Engine, SymbolCounters
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
    """Every book equals the market model's own book (the truth, independent of the engine's
    code and of what the simulator sent) at some moment when both are at the same update id
    (the stream keeps moving, so compare at equal `u`)."""
    assert simulator.has_model
    pending = set(symbols)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for symbol in list(pending):
            book = engine.symbols[symbol].book
            assert book is not None
            truth = simulator.true_book(symbol, book.update_id) if book.in_sync else None
            if truth is not None:
                bids, asks = truth
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


@asynccontextmanager
async def live(symbols: int, per_connection: int = 20) -> AsyncIterator[Live]:
    """Simulator -> live feed -> engine, every book in sync and equal to the model's."""
    simulator = await serve_simulator(SimulatorSettings(symbols=symbols, seed=3))
    engine = Engine()
    feed = live_feed(engine, simulator.symbols, simulator, per_connection)
    await feed.start()
    try:
        await wait_until(lambda: all_in_sync(engine, simulator.symbols), 10, "first snapshots")
        await books_match_truth(engine, simulator, simulator.symbols, 10)
        yield Live(simulator, engine, feed)
    finally:
        await feed.stop()
        await simulator.stop()


@dataclass
class Live:
    simulator: ExchangeSimulator
    engine: Engine
    feed: LiveFeed

    def counters(self, symbol: str) -> SymbolCounters:
        return self.engine.symbols[symbol].counters.snapshot()

    def reconnects(self) -> int:
        return sum(link.stats.reconnects for link in self.feed.connections)

    def others_untouched(self, symbol: str) -> None:
        """No other symbol saw a gap, a reset or a resync."""
        for other in self.simulator.symbols:
            if other != symbol:
                counters = self.counters(other)
                assert (counters.gaps, counters.resets, counters.resyncs_requested) == (0, 0, 0)
                assert counters.snapshots == 1, other


def test_a_gap_heals_by_resyncing_that_topic_without_reconnecting() -> None:
    """One missed delta: the book goes out of sync, its topic alone is resubscribed, the fresh
    snapshot heals it, and it equals the market model's book again; no connection is replaced."""

    async def scenario() -> None:
        async with live(symbols=10) as run:
            symbol = run.simulator.symbols[1]
            run.simulator.inject_gap(symbol)
            await wait_until(lambda: run.counters(symbol).gaps == 1, 5, "the gap")
            await wait_until(lambda: run.counters(symbol).snapshots == 2, 10, "a new snapshot")
            await books_match_truth(run.engine, run.simulator, [symbol], 10)
            assert run.reconnects() == 0
            assert run.feed.symbol_stats[symbol].resyncs_sent == 1
            assert run.counters(symbol).resyncs_requested == 1
            run.others_untouched(symbol)

    asyncio.run(scenario())


@pytest.mark.parametrize("as_delta", [True, False], ids=["delta u=1", "snapshot u=1"])
def test_a_service_restart_with_u_1_replaces_the_book(as_delta: bool) -> None:
    """Bybit restarts a book's service with a message of `u` = 1, a delta carrying every level
    or a snapshot: the book is replaced, `u` restarts at 1, no resync and no reconnect."""

    async def scenario() -> None:
        async with live(symbols=10) as run:
            symbol = run.simulator.symbols[2]
            book = run.engine.symbols[symbol].book
            assert book is not None and book.update_id > 1_000_000  # the model's numbering
            run.simulator.inject_reset(symbol, as_delta=as_delta)
            restarted = (
                (lambda: run.counters(symbol).resets == 1)
                if as_delta
                else (lambda: run.counters(symbol).snapshots == 2)
            )
            await wait_until(restarted, 5, "the restart")
            assert book.in_sync and book.update_id < 1_000
            await books_match_truth(run.engine, run.simulator, [symbol], 10)
            assert run.counters(symbol).resyncs_requested == 0 and run.reconnects() == 0
            if as_delta:
                assert run.counters(symbol).snapshots == 1
            run.others_untouched(symbol)

    asyncio.run(scenario())


@pytest.mark.parametrize("fault", ["truncated", "malformed"])
def test_a_broken_book_frame_resyncs_that_symbol_only(fault: str) -> None:
    async def scenario() -> None:
        async with live(symbols=10) as run:
            symbol = run.simulator.symbols[3]
            getattr(run.simulator, f"inject_{fault}")(symbol)
            kind = "truncated" if fault == "truncated" else "not_json"
            await wait_until(lambda: run.engine.malformed.get(kind) == 1, 5, "the broken frame")
            await wait_until(lambda: run.counters(symbol).snapshots == 2, 10, "a new snapshot")
            await books_match_truth(run.engine, run.simulator, [symbol], 10)
            counters = run.counters(symbol)
            assert (counters.malformed, counters.resyncs_requested) == (1, 1)
            assert run.reconnects() == 0
            run.others_untouched(symbol)

    asyncio.run(scenario())


def test_fifty_symbols_heal_from_dropped_and_stalled_connections() -> None:
    """Connection-wide faults: every socket cut, then every connection silent for longer than
    `stale_after_s`: each is replaced, every book resnapshotted and equal to the model's, and
    the candles stay contiguous across the faults."""

    async def scenario() -> None:
        async with live(symbols=50) as run:
            simulator, engine, feed = run.simulator, run.engine, run.feed
            connections = len(feed.connections)
            simulator.drop_connections()
            await wait_until(
                lambda: all(run.counters(s).snapshots == 2 for s in simulator.symbols),
                10,
                "a new snapshot of every book on new connections",
            )
            assert run.reconnects() == connections
            simulator.stall(3.0)  # stalls the connections open now
            # Bounds, not pauses: a busy machine delivers what was queued before the stall
            # slowly, and each frame delivered keeps a connection alive.
            await wait_until(
                lambda: all(c.stats.stale_timeouts == 1 for c in feed.connections),
                30,
                "every stalled connection replaced",
            )
            await wait_until(lambda: all_in_sync(engine, simulator.symbols), 10, "back in sync")
            await books_match_truth(engine, simulator, simulator.symbols, 10)
            last_close = max(
                series.closed[-1].start_ns if series.closed else 0
                for state in engine.symbols.values()
                for series in (state.candles["15s"],)
            )
            await wait_until(  # every symbol closes a 15 s candle after the faults
                lambda: all(
                    state.candles["15s"].closed
                    and state.candles["15s"].closed[-1].start_ns > last_close
                    for state in engine.symbols.values()
                ),
                20,
                "candles closed after the faults",
            )
            assert_candles_contiguous(engine, simulator.symbols)
            assert run.reconnects() >= 2 * connections
            await wait_until(  # a rate window (rate_window_s) may have spanned the whole stall
                lambda: all(feed.symbol_stats[s].frames_per_s > 0 for s in simulator.symbols),
                15,
                "every symbol's frame rate measured after the faults",
            )
            assert simulator.fault_counts["drop"] == 1 and simulator.fault_counts["stall"] == 1

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


def _wait_until_in_sync(health_url: str, books: int, timeout: float) -> None:
    """Poll a running process's health until `books` books are in sync."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(health_url, timeout=0.5).json().get("books_in_sync") == books:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{health_url} never had {books} books in sync within {timeout} s")


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
            api_port = _free_port()
            client = _cli(
                "run",
                "--rest-url",
                f"http://127.0.0.1:{port}",
                "--ws-url",
                f"ws://127.0.0.1:{port}/v5/public/linear",
                "--top",
                "5",
                "--port",
                str(api_port),
                "--data-dir",
                str(tmp_path / sig.name),
            )
            _wait_until_in_sync(f"http://127.0.0.1:{api_port}/api/monitor/health", 5, 30)
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
