"""The live feed: Bybit connections in, engine events out, books resynced one topic at a time.

Wiring only: the topic plan comes from `subscriptions` and `topics`, the sockets from
`connection`, the decoding from each connection's session. Here live the two wall-clock edges the
deterministic engine does not have: closing candles when a symbol goes quiet, and the
receive-side statistics (exchange-to-receive lag, frame age). It implements
`scalper.feed_status.MarketFeed`, which is all the API knows of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Protocol

from scalper.book import SyncState
from scalper.engine import Engine, Notification, ResyncNeeded
from scalper.events import Instrument
from scalper.feed_status import RecordingProcessStats, SymbolFeedStats
from scalper.settings import ConnectionSettings, FeedSettings
from scalper.venues.bybit._feed_sink import FeedSink
from scalper.venues.bybit.connection import BybitConnection
from scalper.venues.bybit.subscriptions import shard
from scalper.venues.bybit.topics import book_topic, symbol_of, topics_for

log = logging.getLogger(__name__)


class FrameRecorder(Protocol):
    """Where the feed writes what it receives, in the order the engine is given it (the
    recorder, `scalper.storage.recorder.Recorder`)."""

    def record_frame(
        self, raw: bytes, recv_ns: int, ts_ns: int, topic: str, symbol: str
    ) -> None: ...

    def record_frames(
        self,
        raws: list[bytes],
        recv_ns: int,
        ts_ns: list[int],
        topics: list[str],
        symbols: list[str],
    ) -> None: ...

    def record_clock(self, until_ns: int, now_ns: int) -> None: ...


class LiveFeed:
    """Runs every connection of a symbol universe into one engine."""

    def __init__(
        self,
        engine: Engine,
        symbols: list[str],
        ws_url: str,
        category: str = "linear",
        settings: FeedSettings | None = None,
        connection: ConnectionSettings | None = None,
        instruments: dict[str, Instrument] | None = None,
        recorder: FrameRecorder | None = None,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.settings = settings = settings or FeedSettings()
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
            link = BybitConnection(
                f"{category}-{index}",
                ws_url,
                topics,
                category,
                settings=connection,
                rng=random.Random(rng.random()),
            )
            sink = self._sink()
            link.on_frame, link.on_batch_end = sink, sink.batch_end
            self.connections.append(link)
            for topic in topics:
                self._owner[topic] = link
        self._last_resync: dict[str, float] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self.started_ns = 0
        engine.subscribe(self._on_notification)

    def _sink(self) -> FeedSink:
        """Where the connections' frames go (compiled): the engine gets each frame at once,
        the recorder the frames of a read in one call at its end (`batch_end`), in the same
        order."""
        return FeedSink(self.engine.entry(), self.symbol_stats, self.recorder)

    @property
    def recording_process(self) -> RecordingProcessStats | None:
        """None: the frames are recorded in this process (`recorder`), if at all."""
        return None

    async def start(self) -> None:
        """Start every connection and the candle timer (one TaskGroup); returns at once."""
        self.started_ns = time.time_ns()
        self._supervisor = asyncio.create_task(self._run(), name="feed")

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for link in self.connections:
                tasks.create_task(link.run(), name=link.name)
            tasks.create_task(self._close_candles_on_time(), name="candles")

    async def stop(self) -> None:
        """Close every connection and stop the timer; waits for all of them to finish."""
        for link in self.connections:
            await link.stop()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor

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
                self._request_resync(book_topic(symbol, depth))

    def _on_notification(self, notification: Notification) -> None:
        if type(notification) is ResyncNeeded:
            self._request_resync(book_topic(notification.symbol, notification.depth))  # type: ignore[union-attr]

    def _request_resync(self, topic: str) -> None:
        link = self._owner.get(topic)
        if link is None:
            return
        now = time.monotonic()
        if now - self._last_resync.get(topic, -1e9) < self.settings.resync_retry_s:
            return
        self._last_resync[topic] = now
        if link.request_resync(topic):
            stats = self.symbol_stats.get(symbol_of(topic))
            if stats is not None:
                stats.resyncs_sent += 1
