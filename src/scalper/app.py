"""The long-running process: engine + live feed (and the simulator, for `demo`) until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable

import httpx
import msgspec

from scalper.api import create_app, serve_api
from scalper.config import EngineConfig
from scalper.engine import Engine
from scalper.feed import FeedSettings, LiveFeed
from scalper.venues.bybit.rest import fetch_universe
from scalper.venues.bybit.ws import ConnectionSettings
from scalper.venues.simulator.server import ExchangeSimulator, SimulatorConfig, serve_simulator

log = logging.getLogger(__name__)


class LiveOptions(msgspec.Struct, frozen=True):
    """What `scalper run` was asked to do."""

    rest_url: str
    ws_url: str
    category: str = "linear"
    top: int = 300
    symbols: tuple[str, ...] = ()
    duration_s: float | None = None
    """Stop after this long (None: until SIGINT/SIGTERM)."""
    status_every_s: float = 10.0
    stale_after_s: float = 10.0
    api_host: str = "127.0.0.1"
    api_port: int = 8090
    api: bool = True
    """Serve the HTTP/WebSocket API and the dashboard in this process."""


async def run_live(options: LiveOptions, engine: Engine | None = None) -> Engine:
    """Fetch the universe, run the feed until a signal or the duration, return the engine."""
    engine = engine or Engine(EngineConfig())
    async with httpx.AsyncClient(base_url=options.rest_url, timeout=10.0) as client:
        instruments = await fetch_universe(
            client,
            category=options.category,
            top=options.top,
            symbols=list(options.symbols) or None,
        )
    symbols = [instrument.symbol for instrument in instruments]
    log.info("tracking %d %s symbols from %s", len(symbols), options.category, options.ws_url)
    settings = FeedSettings(
        ws_url=options.ws_url,
        category=options.category,
        connection=ConnectionSettings(stale_after_s=options.stale_after_s),
    )
    feed = LiveFeed(engine, symbols, settings, {i.symbol: i for i in instruments})
    await feed.start()
    api = None
    try:
        if options.api:
            app = create_app(engine, feed, stale_after_s=options.stale_after_s)
            api = await serve_api(app, options.api_host, options.api_port)
            log.info("API on %s (OpenAPI at %s/docs)", api.url, api.url)
        await wait_for_stop(
            options.duration_s, lambda: _log_status(engine, feed), options.status_every_s
        )
    finally:
        if api is not None:
            await api.stop()
        await feed.stop()
    return engine


async def wait_for_stop(
    duration_s: float | None = None,
    on_tick: Callable[[], None] | None = None,
    tick_every_s: float = 10.0,
) -> None:
    """Return on SIGINT or SIGTERM (or after `duration_s`), calling `on_tick` now and then."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        while not stop.is_set():
            timeout = tick_every_s
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            if not stop.is_set() and on_tick is not None:
                on_tick()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def serve_simulator_until_stopped(
    config: SimulatorConfig,
    host: str,
    port: int,
    replay: Iterable[tuple[int, bytes]] | None,
    on_ready: Callable[[ExchangeSimulator], None],
) -> None:
    """The body of `scalper simulate`: serve until SIGINT/SIGTERM, then shut down cleanly."""
    simulator = await serve_simulator(config, host, port, replay)
    try:
        on_ready(simulator)
        await wait_for_stop()
    finally:
        await simulator.stop()


def _log_status(engine: Engine, feed: LiveFeed) -> None:
    books = [state.book for state in engine.symbols.values() if state.book is not None]
    in_sync = sum(book.in_sync for book in books)
    reconnects = sum(connection.stats.reconnects for connection in feed.connections)
    log.info(
        "status: %d frames, %d/%d books in sync, %d reconnects, %d malformed",
        engine.frames,
        in_sync,
        len(feed.symbols),
        reconnects,
        sum(engine.malformed.values()),
    )
