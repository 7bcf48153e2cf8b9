"""The live feed: Bybit connections in, engine updates out, books resynced one topic at a time.

Wiring only: the symbol universe comes from `venues.bybit.rest`, the topic plan from
`venues.bybit.subscriptions`, the sockets from `venues.bybit.ws`. Here live the two wall-clock
edges the deterministic engine does not have: closing candles when a symbol goes quiet, and the
receive-side statistics (exchange-to-receive lag, frame age).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Protocol

import msgspec

from scalper.book import SyncState
from scalper.engine import Engine, Notification, ResyncNeeded
from scalper.events import BookUpdate, ControlMessage, Event, TickerUpdate, TradeBatch
from scalper.venues.bybit.rest import Instrument
from scalper.venues.bybit.subscriptions import shard, topics_for
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.bybit.ws import BybitConnection, ConnectionSettings, FrameSink

log = logging.getLogger(__name__)

_MARKET_EVENTS = (BookUpdate, TradeBatch, TickerUpdate)


class FrameRecorder(Protocol):
    """Where the feed writes what the engine is given, in the order it is given (the recorder)."""

    def record_frame(self, raw: bytes, recv_ns: int, event: Event) -> None: ...

    def record_clock(self, until_ns: int, now_ns: int) -> None: ...


class FeedSettings(msgspec.Struct, frozen=True):
    """How the live feed connects and heals."""

    ws_url: str
    category: str = "linear"
    depth: int = 50
    max_symbols_per_connection: int = 100
    candle_grace_s: float = 2.0
    """A candle is closed on the wall clock once its end plus this grace has passed."""
    candle_timer_s: float = 0.5
    rate_window_s: float = 5.0
    """Per-symbol frames/s is measured over windows of this length."""
    resync_retry_s: float = 3.0
    """A book still out of sync this long after its last resync request is resynced again; it
    is also the shortest interval between two requests for one topic (no flood on flapping)."""
    connection: ConnectionSettings = ConnectionSettings()
    seed: int | None = None
    """Seeds the backoff jitter (tests); None draws from the OS."""


class SymbolFeedStats(msgspec.Struct):
    """Receive-side figures of one symbol."""

    frames: int = 0
    last_recv_ns: int = 0
    last_lag_ns: int = 0
    """Local receive time minus the venue's event time of the last frame."""
    max_lag_ns: int = 0
    resyncs_sent: int = 0
    frames_per_s: float = 0.0
    """Frames received per second over the last rate window (updated by the feed's timer)."""
    rate_window_frames: int = 0
    rate_window_start_ns: int = 0


class LiveFeed:
    """Runs every connection of a symbol universe into one engine."""

    def __init__(
        self,
        engine: Engine,
        symbols: list[str],
        settings: FeedSettings,
        instruments: dict[str, Instrument] | None = None,
        recorder: FrameRecorder | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.settings = settings
        self.symbols = list(symbols)
        self.instruments = instruments or {}
        """Tick size and quantity step per symbol, as the venue's REST API gave them."""
        self.symbol_stats: dict[str, SymbolFeedStats] = {s: SymbolFeedStats() for s in symbols}
        rng = random.Random(settings.seed)
        self.connections: list[BybitConnection] = []
        self._owner: dict[str, BybitConnection] = {}
        groups = shard(self.symbols, settings.max_symbols_per_connection, depth=settings.depth)
        for index, group in enumerate(groups):
            topics = [topic for symbol in group for topic in topics_for(symbol, settings.depth)]
            connection = BybitConnection(
                f"{settings.category}-{index}",
                settings.ws_url,
                topics,
                settings.category,
                settings=settings.connection,
                rng=random.Random(rng.random()),
            )
            connection.on_frame = self._sink_for(connection)
            self.connections.append(connection)
            for topic in topics:
                self._owner[topic] = connection
        self._last_resync: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.started_ns = 0
        engine.subscribe(self._on_notification)

    def _sink_for(self, connection: BybitConnection) -> FrameSink:
        engine = self.engine
        stats_by_symbol = self.symbol_stats
        recorder = self.recorder

        def on_frame(raw: bytes, recv_ns: int) -> None:
            event = decode_frame(raw, recv_ns)
            if recorder is not None:
                recorder.record_frame(raw, recv_ns, event)
            if type(event) in _MARKET_EVENTS:
                stats = stats_by_symbol.get(event.symbol)  # type: ignore[union-attr]
                if stats is not None:
                    lag = recv_ns - event.ts_event_ns  # type: ignore[union-attr]
                    stats.frames += 1
                    stats.last_recv_ns = recv_ns
                    stats.last_lag_ns = lag
                    if lag > stats.max_lag_ns:
                        stats.max_lag_ns = lag
            elif type(event) is ControlMessage:
                connection.on_control(event)  # type: ignore[arg-type]
            engine.on_event(event)

        return on_frame

    async def start(self) -> None:
        """Start every connection and the candle timer; returns at once."""
        self.started_ns = time.time_ns()
        for connection in self.connections:
            self._tasks.append(asyncio.create_task(connection.run(), name=connection.name))
        self._tasks.append(asyncio.create_task(self._close_candles_on_time(), name="candles"))

    async def stop(self) -> None:
        """Close every connection and stop the timers; waits for them to finish."""
        for connection in self.connections:
            await connection.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _close_candles_on_time(self) -> None:
        """The wall-clock edge: close quiet symbols' candles, retry books still out of sync."""
        grace_ns = int(self.settings.candle_grace_s * 1e9)
        while True:
            await asyncio.sleep(self.settings.candle_timer_s)
            now_ns = time.time_ns()
            if self.recorder is not None:
                self.recorder.record_clock(now_ns - grace_ns, now_ns)
            self.engine.close_candles_until(now_ns - grace_ns)
            self._heal_books()
            self._update_rates(now_ns)

    def _update_rates(self, now_ns: int) -> None:
        """Per-symbol frames/s over `rate_window_s`: timer work only, nothing per frame."""
        window_ns = int(self.settings.rate_window_s * 1e9)
        for stats in self.symbol_stats.values():
            elapsed = now_ns - stats.rate_window_start_ns
            if stats.rate_window_start_ns == 0:
                stats.rate_window_start_ns = now_ns
                stats.rate_window_frames = stats.frames
            elif elapsed >= window_ns:
                stats.frames_per_s = (stats.frames - stats.rate_window_frames) * 1e9 / elapsed
                stats.rate_window_start_ns = now_ns
                stats.rate_window_frames = stats.frames

    def _heal_books(self) -> None:
        depth = self.settings.depth
        for symbol in self.symbols:
            state = self.engine.symbols.get(symbol)
            book = state.books.get(depth) if state is not None else None
            if book is not None and book.state is SyncState.OUT_OF_SYNC:
                self._request_resync(f"orderbook.{depth}.{symbol}")

    def _on_notification(self, notification: Notification) -> None:
        if type(notification) is ResyncNeeded:
            self._request_resync(notification.topic)  # type: ignore[union-attr]

    def _request_resync(self, topic: str) -> None:
        connection = self._owner.get(topic)
        if connection is None:
            return
        now = time.monotonic()
        if now - self._last_resync.get(topic, -1e9) < self.settings.resync_retry_s:
            return
        self._last_resync[topic] = now
        symbol = topic.rsplit(".", 1)[-1]
        stats = self.symbol_stats.get(symbol)
        if stats is not None:
            stats.resyncs_sent += 1
        task = asyncio.get_running_loop().create_task(connection.resync(topic))
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("resync failed: %s", task.exception())
