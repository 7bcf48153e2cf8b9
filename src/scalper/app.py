"""The long-running process: engine + live feed (and the simulator, for `demo`) until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import msgspec

from scalper.api import create_app, serve_api
from scalper.config import EngineConfig
from scalper.engine import Engine
from scalper.feed import FeedSettings, LiveFeed
from scalper.replay import apply_record
from scalper.storage.reader import iter_recorded
from scalper.storage.recorder import Recorder, RecorderSettings
from scalper.storage.warm import warm_start
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
    data_dir: Path | None = None
    """Record frames, candles and metrics here (None: record nothing)."""
    recorder: RecorderSettings = RecorderSettings()
    source: str = ""
    """Name of the raw stream in the data dir; default `bybit-<category>`."""
    warm_start: bool = True
    """Load the last hour of recorded candles before the feed starts."""


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
    recorder = _start_recorder(options, engine)
    feed = LiveFeed(engine, symbols, settings, {i.symbol: i for i in instruments}, recorder)
    await feed.start()
    api = None
    recording = None
    try:
        if recorder is not None:
            recording = asyncio.create_task(_record_on_time(recorder, engine), name="recorder")
        if options.api:
            app = create_app(engine, feed, stale_after_s=options.stale_after_s, recorder=recorder)
            api = await serve_api(app, options.api_host, options.api_port)
            log.info("API on %s (OpenAPI at %s/docs)", api.url, api.url)
        await wait_for_stop(
            options.duration_s, lambda: _log_status(engine, feed), options.status_every_s
        )
    finally:
        if api is not None:
            await api.stop()
        await feed.stop()
        if recording is not None:
            recording.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recording
        if recorder is not None:
            await asyncio.to_thread(recorder.stop)
            log.info("recording closed in %s", recorder.data_dir)
    return engine


def _start_recorder(options: LiveOptions, engine: Engine) -> Recorder | None:
    """Recover and open the data dir, warm-start the engine's candles from it."""
    if options.data_dir is None:
        return None
    source = options.source or f"bybit-{options.category}"
    recorder = Recorder(options.data_dir, options.recorder, source)
    recorder.start()
    if options.warm_start:
        warm_start(engine, options.data_dir, time.time_ns())
    engine.subscribe(recorder.on_notification)
    log.info("recording to %s", options.data_dir)
    return recorder


async def _record_on_time(recorder: Recorder, engine: Engine, flush_every_s: float = 0.25) -> None:
    """Hand rows to the writer a few times a second; metrics once per wall-clock second."""
    next_second = time.time_ns() // 1_000_000_000 + 1
    while True:
        await asyncio.sleep(flush_every_s)
        now_s = time.time_ns() // 1_000_000_000
        if now_s >= next_second:
            recorder.record_metrics(engine, now_s * 1_000_000_000)
            next_second = now_s + 1
        recorder.flush()


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


class PacedReplay(msgspec.Struct, frozen=True):
    """`scalper replay DATA_DIR --speed X`: recorded time, sped up, into the API and dashboard."""

    data_dir: Path
    speed: float
    from_ns: int | None = None
    to_ns: int | None = None
    symbols: list[str] | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8090
    api: bool = True


async def replay_paced(engine: Engine, options: PacedReplay) -> int:
    """Apply the recording at `speed` x its receive-time pace, serving the API meanwhile.

    Stops at the end of the recording or on SIGINT/SIGTERM; returns the rows applied.
    """
    api = None
    if options.api:
        api = await serve_api(create_app(engine), options.api_host, options.api_port)
        log.info("API on %s, replaying at %gx", api.url, options.speed)
    replay = asyncio.create_task(_apply_paced(engine, options))
    stop = asyncio.create_task(wait_for_stop())
    try:
        await asyncio.wait({replay, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (replay, stop):
            task.cancel()
        for task in (replay, stop):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if api is not None:
            await api.stop()
    return replay.result() if replay.done() and not replay.cancelled() else engine.frames


async def _apply_paced(engine: Engine, options: PacedReplay) -> int:
    records = iter_recorded(options.data_dir, options.from_ns, options.to_ns, options.symbols)
    count = 0
    first_recv = None
    started = time.monotonic()
    for record in records:
        if first_recv is None:
            first_recv = record[0]
        due = started + (record[0] - first_recv) / 1e9 / options.speed
        wait = due - time.monotonic()
        if wait > 0.002:
            await asyncio.sleep(wait)
        elif count % 1024 == 0:
            await asyncio.sleep(0)  # let the API answer while we catch up
        apply_record(engine, record)
        count += 1
    return count
