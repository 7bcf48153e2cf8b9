"""The long-running process: venue feed, engine, signals, recorder and API (and the simulator,
for `demo`) until a signal. It owns every background task and awaits each on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx
import msgspec

from scalper.api import create_app, serve_api
from scalper.api.access import TOKEN_FILE, load_or_create_token
from scalper.backtest.runner import write_run_context
from scalper.engine import Engine, TradeTap
from scalper.errors import ConfigError
from scalper.events import Instrument
from scalper.footprint import Footprints
from scalper.memory_report import memory_reporter
from scalper.replay import (
    ReplayClock,
    ReplayFeed,
    apply_record,
    preroll_books,
    recorded_records,
)
from scalper.settings import ApiSettings, Settings, SignalSettings, SimulatorSettings, VenueSettings
from scalper.signals import SignalEngine
from scalper.storage.layout import CLOCK_TOPIC
from scalper.storage.recorder import Recorder
from scalper.storage.trading_recorder import TradingRecorder
from scalper.storage.warm import warm_start, warm_start_signals
from scalper.trading.execution import ExecutionClient
from scalper.trading.paper import PaperBroker
from scalper.trading.store import STORE_FILE, TradingStore
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.feed import LiveFeed
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.bybit.private import BybitExecution
from scalper.venues.bybit.private.market_watch import market_watch
from scalper.venues.bybit.public_rest import (
    MAINNET_REST,
    MAINNET_WS,
    TESTNET_REST,
    TESTNET_WS,
    fetch_universe,
)
from scalper.venues.bybit.topics import symbol_of
from scalper.venues.simulator.exchange import ExchangeSimulator, serve_simulator

log = logging.getLogger(__name__)


class LiveTarget(msgspec.Struct, frozen=True):
    """Where a live run connects, and the name its frames are recorded under."""

    rest_url: str
    ws_url: str
    source: str
    """Name of the raw stream in the data dir (e.g. `bybit-linear`, `simulator-linear`)."""


def venue_target(venue: VenueSettings) -> LiveTarget:
    """The venue's URLs (mainnet or testnet unless set explicitly)."""
    rest = TESTNET_REST if venue.testnet else MAINNET_REST
    ws = (TESTNET_WS if venue.testnet else MAINNET_WS).format(category=venue.category)
    return LiveTarget(venue.rest_url or rest, venue.ws_url or ws, f"bybit-{venue.category}")


def simulator_target(simulator: ExchangeSimulator, category: str) -> LiveTarget:
    return LiveTarget(simulator.rest_url, simulator.ws_url(category), f"simulator-{category}")


async def run_live(
    settings: Settings,
    target: LiveTarget,
    duration_s: float | None = None,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
) -> Engine:
    """Fetch the universe, run the feed until a signal or the duration, return the engine.
    With `trading.execution = "exchange"`, orders go through the Bybit client
    (`trading.bybit`; keys from `environ`, default the process environment)."""
    engine = engine or Engine(settings.engine)
    signals = signals_for(engine, settings.signals)
    venue = settings.venue
    async with httpx.AsyncClient(base_url=target.rest_url, timeout=10.0) as client:
        instruments = await fetch_universe(
            client, category=venue.category, top=venue.top, symbols=list(venue.symbols) or None
        )
    symbols = [instrument.symbol for instrument in instruments]
    log.info("tracking %d %s symbols from %s", len(symbols), venue.category, target.ws_url)
    by_symbol = {instrument.symbol: instrument for instrument in instruments}
    feeds: list[LiveFeed] = []
    execution = exchange_for(settings, engine, environ)
    trader = trader_for(engine, signals, settings, by_symbol, lambda: _feed_up(feeds), execution)
    footprints = footprints_for(engine, settings, by_symbol)
    recorder = _open_recorder(settings, target.source, engine, signals)
    rows = _trading_rows(settings, recorder, trader)
    if recorder is not None:
        write_run_context(recorder.data_dir, settings, by_symbol)
    feed = _feed(settings, engine, symbols, target.ws_url, by_symbol, recorder, target.source)
    feeds.append(feed)
    api = None
    if execution is not None:
        await execution.start()  # entries stay blocked until its stream is up and reconciled
    await feed.start()
    try:
        if settings.api.enabled:
            app = create_app(
                engine,
                feed,
                settings.api,
                settings.connection.stale_after_s,
                recorder,
                signals=signals,
                trader=trader,
                write_token=_write_token(settings) if trader is not None else None,
                alerts=settings.alerts,
                footprints=footprints,
            )
            api = await serve_api(app, settings.api.host, settings.api.port)
            log.info("API on %s (OpenAPI at %s/docs)", api.url, api.url)
        async with asyncio.TaskGroup() as tasks:
            flusher = None
            if recorder is not None:
                every = settings.recorder.flush_every_s
                flusher = tasks.create_task(
                    _record_on_time(recorder, engine, every, trader, rows), name="recorder"
                )
            reporter = memory_reporter(
                settings.diagnostics, lambda: _memory_owners(engine, recorder)
            )
            reports = None
            if reporter is not None:
                reports = tasks.create_task(reporter.run(), name="memory report")
            await wait_for_stop(
                duration_s, lambda: _log_status(engine, feed), settings.feed.status_every_s
            )
            for task in (flusher, reports):
                if task is not None:
                    task.cancel()
    finally:
        if api is not None:
            await api.stop()
        await feed.stop()
        if execution is not None:
            await execution.close()
        if trader is not None:
            _log_trading(trader, "paper" if execution is None else "exchange")
            if rows is not None:
                trader.record()
                await asyncio.to_thread(rows.stop)
            if trader.store is not None:
                trader.store.close()
        if recorder is not None:
            await asyncio.to_thread(recorder.stop)
            log.info("recording closed in %s", recorder.data_dir)
    return engine


def _feed(
    settings: Settings,
    engine: Engine,
    symbols: list[str],
    ws_url: str,
    instruments: dict[str, Instrument],
    recorder: Recorder | None,
    source: str,
) -> LiveFeed:
    """The feed in this process, or with `scaleout.workers` > 0, worker processes publishing to
    NATS JetStream and this process consuming (scalper.scaleout), the frames recorded by the
    recorder consumer's process when `scaleout.recorder_consumer` is on."""
    args = (engine, symbols, ws_url, settings.venue.category, settings.feed, settings.connection)
    if settings.scaleout.workers == 0:
        return LiveFeed(*args, instruments, recorder)
    from scalper.scaleout.feed import ScaleoutFeed
    from scalper.scaleout.recording import RecordingSpec

    if recorder is None or recorder.streams != "derived":
        return ScaleoutFeed(*args, instruments, recorder, settings.scaleout)
    recording = RecordingSpec(
        nats_url="",
        category=settings.venue.category,
        source=source,
        data_dir=str(recorder.data_dir),
        recorder=settings.recorder,
        scaleout=settings.scaleout,
    )
    return ScaleoutFeed(*args, instruments, None, settings.scaleout, recording)


def exchange_for(
    settings: Settings, engine: Engine, environ: Mapping[str, str] | None = None
) -> BybitExecution | None:
    """The Bybit client when orders go to an exchange (None: the paper broker), told about
    every market event of the engine (the market-data half of its cancel-on-disconnect).
    Call it before the feed is built: it taps the engine."""
    if not settings.trading.enabled or settings.trading.execution != "exchange":
        return None
    execution = BybitExecution.from_settings(settings.trading.bybit, environ)
    engine.add_tap(market_watch(execution, settings.trading.symbols))
    return execution


def _log_trading(trader: Trader, kind: str = "paper") -> None:
    pnl = trader.portfolio.pnl()
    trades = list(trader.portfolio.trades)
    log.info(
        "%s trading: %d trades (%d won), net %.2f = realised %.2f + unrealised %.2f"
        " - fees %.2f - funding %.2f; equity %.2f; trading %s",
        kind,
        len(trades),
        sum(1 for trade in trades if trade.net_pnl > 0),
        pnl.net,
        pnl.realised,
        pnl.unrealised,
        pnl.fees,
        pnl.funding,
        pnl.equity,
        trader.risk.state.name,
    )


def _memory_owners(engine: Engine, recorder: Recorder | None) -> dict[str, object]:
    """What a memory report adds about this process's owners of memory."""
    owners: dict[str, object] = {"symbols": len(engine.symbols)}
    if recorder is not None:
        owners.update(
            recorder_buffered_bytes=recorder.buffered_bytes(),
            recorder_queue_depth=recorder.refresh_stats().queue_depth,
        )
    return owners


def trader_for(
    engine: Engine,
    signals: SignalEngine | None,
    settings: Settings,
    instruments: Mapping[str, Instrument],
    feed_up: Callable[[], bool] = lambda: True,
    execution: ExecutionClient | None = None,
) -> Trader | None:
    """The trader with the reference strategy over `engine`, or None when `trading.enabled`
    is off; orders go to `execution`, or to a paper broker when it is None. Build it before
    the feed: it taps the engine's input."""
    trading = settings.trading
    if not trading.enabled:
        return None
    if signals is None:
        raise ConfigError("trading needs the signals: set signals.enabled = true")
    trader = Trader(
        engine,
        signals,
        ReferenceStrategy(trading.strategy),
        execution if execution is not None else PaperBroker(trading.paper, instruments),
        trading,
        instruments,
        trading.paper.starting_equity,
        wall_clock=time.time_ns,
        feed_up=feed_up,
        id_prefix=_start_stamp(),
    )
    if trading.restore:
        trader.restore(TradingStore(Path(settings.recorder.data_dir) / STORE_FILE))
    log.info(
        "%s trading %s with the %s strategy from %.2f %s",
        "paper" if execution is None else "exchange",
        ", ".join(trading.symbols) if trading.symbols else "every symbol",
        trader.strategy.name,
        trader.portfolio.equity,
        "USDT",
    )
    return trader


def _start_stamp() -> str:
    """This start's client-id prefix: the start time in base 36 (ms), unique per start."""
    ms, digits = time.time_ns() // 1_000_000, "0123456789abcdefghijklmnopqrstuvwxyz"
    stamp = ""
    while ms:
        ms, digit = divmod(ms, 36)
        stamp = digits[digit] + stamp
    return stamp + "-"


def footprints_for(
    engine: Engine, settings: Settings, instruments: Mapping[str, Instrument]
) -> Footprints | None:
    """Footprint candles from the engine's trades, for the API (a tap: add before the feed)."""
    if not (settings.footprint.enabled and settings.api.enabled):
        return None
    ticks = {symbol: instrument.tick_size for symbol, instrument in instruments.items()}
    footprints = Footprints(settings.footprint, ticks)
    engine.add_tap(TradeTap(footprints.on_trades))
    return footprints


def _feed_up(feeds: list[LiveFeed]) -> bool:
    """Every connection of the feed is open (entries are refused otherwise)."""
    return bool(feeds) and all(
        connection.stats.state == "open" for feed in feeds for connection in feed.connections
    )


def _write_token(settings: Settings) -> str:
    path = Path(settings.recorder.data_dir)
    token = load_or_create_token(path)
    log.info("trading API writes need the token in %s", path / TOKEN_FILE)
    return token


def signals_for(engine: Engine, settings: SignalSettings) -> SignalEngine | None:
    """The engine's signals (factors, regimes, scores), or None when `signals.enabled` is off."""
    if not settings.enabled:
        return None
    signals = SignalEngine(engine, settings)
    log.info("signals every %s of event time, scorer %s", settings.cadence, signals.version)
    return signals


def _open_recorder(
    settings: Settings, source: str, engine: Engine, signals: SignalEngine | None
) -> Recorder | None:
    """Recover and open the data dir, warm-start the engine's candles (and the signals'
    baselines) from it."""
    options = settings.recorder
    if not options.enabled:
        return None
    data_dir = Path(options.data_dir)
    scaleout = settings.scaleout
    recorder = Recorder(
        data_dir,
        options,
        source,
        codec=FRAME_CODEC,
        flow_windows=settings.engine.flow_windows,
        # the recorder consumer's process records the frames (scalper.scaleout.recording)
        streams="derived" if scaleout.workers and scaleout.recorder_consumer else "all",
    )
    recorder.start()
    if settings.feed.warm_start:
        now_ns = time.time_ns()
        warm_start(engine, data_dir, now_ns)
        if signals is not None:
            warm_start_signals(signals, data_dir, now_ns)
    engine.subscribe(recorder.on_notification)
    log.info("recording to %s", data_dir)
    return recorder


def _trading_rows(
    settings: Settings, recorder: Recorder | None, trader: Trader | None
) -> TradingRecorder | None:
    """Record the trader's rows next to the market data (`recorder.record_trading`)."""
    if trader is None or recorder is None or not settings.recorder.record_trading:
        return None
    rows = TradingRecorder(recorder)
    trader.rows = rows
    return rows


async def _record_on_time(
    recorder: Recorder,
    engine: Engine,
    flush_every_s: float,
    trader: Trader | None = None,
    rows: TradingRecorder | None = None,
) -> None:
    """Hand rows to the writer a few times a second; metrics once per wall-clock second."""
    next_second = time.time_ns() // 1_000_000_000 + 1
    while True:
        await asyncio.sleep(flush_every_s)
        now_s = time.time_ns() // 1_000_000_000
        if now_s >= next_second:
            recorder.record_metrics(engine, now_s * 1_000_000_000)
            next_second = now_s + 1
        recorder.flush()
        if trader is not None and rows is not None:
            trader.record()
            rows.flush_due()


async def run_demo(settings: Settings, duration_s: float | None = None) -> Engine:
    """The simulator on loopback and the live feed against it, in one process."""
    simulator = await serve_simulator(settings.simulator)
    try:
        target = simulator_target(simulator, settings.venue.category)
        account = settings.simulator.account
        bybit = msgspec.structs.replace(
            settings.trading.bybit,
            live=False,
            rest_url=simulator.rest_url,
            ws_url=simulator.private_ws_url,
            key_file="",
        )
        demo = msgspec.structs.replace(
            settings,
            venue=msgspec.structs.replace(
                settings.venue, symbols=(), top=settings.simulator.symbols
            ),
            trading=msgspec.structs.replace(settings.trading, bybit=bybit),
        )
        # The local exchange's fixed demo keys: a demo never reads (or sends) real ones.
        keys = {"BYBIT_API_KEY": account.api_key, "BYBIT_API_SECRET": account.api_secret}
        return await run_live(demo, target, duration_s, environ=keys)
    finally:
        await simulator.stop()


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
    config: SimulatorSettings,
    replay: Iterable[tuple[int, bytes]] | None,
    on_ready: Callable[[ExchangeSimulator], None],
) -> None:
    """The body of `scalper simulate`: serve until SIGINT/SIGTERM, then shut down cleanly."""
    simulator = await serve_simulator(config, config.host, config.port, replay)
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
    api: ApiSettings = ApiSettings()


async def replay_paced(
    applier: FrameApplier, options: PacedReplay, signals: SignalEngine | None = None
) -> int:
    """Apply the recording at `speed` x its receive-time pace, serving the API meanwhile.

    Stops at the end of the recording or on SIGINT/SIGTERM; returns the rows applied. The API
    sees the recording's time (`ReplayClock`) and the replay as its feed (`ReplayFeed`): ages
    and health are what they were when it was recorded.
    """
    clock = ReplayClock(options.speed)
    feed = ReplayFeed(options.data_dir)
    api = None
    if options.api.enabled:
        app = create_app(
            applier.engine, feed, api_settings=options.api, clock=clock, signals=signals
        )
        api = await serve_api(app, options.api.host, options.api.port)
        log.info("API on %s, replaying at %gx", api.url, options.speed)
    try:
        async with asyncio.TaskGroup() as tasks:
            replay = tasks.create_task(_apply_paced(applier, options, clock, feed), name="replay")
            stop = tasks.create_task(wait_for_stop(), name="signals")
            await asyncio.wait({replay, stop}, return_when=asyncio.FIRST_COMPLETED)
            replay.cancel()
            stop.cancel()
    finally:
        feed.finish()
        if api is not None:
            await api.stop()
    if replay.cancelled():
        return applier.engine.frames
    return replay.result()


async def _apply_paced(
    applier: FrameApplier, options: PacedReplay, clock: ReplayClock, feed: ReplayFeed
) -> int:
    if options.from_ns is not None:  # on the loop, as every change to the engine is
        preroll_books(applier, options.data_dir, options.from_ns, options.symbols)
    records = recorded_records(options.data_dir, options.from_ns, options.to_ns, options.symbols)
    count = 0
    for record in records:
        recv_ns, ts_ns, topic, _ = record
        if count == 0:
            clock.start(recv_ns)
        wait = clock.due_in_s(recv_ns)
        if wait > 0.002:
            await asyncio.sleep(wait)
        elif count % 1024 == 0:
            await asyncio.sleep(0)  # let the API answer while we catch up
        apply_record(applier, record)
        if topic and topic != CLOCK_TOPIC:
            feed.saw(symbol_of(topic), recv_ns, ts_ns)
        count += 1
    return count
