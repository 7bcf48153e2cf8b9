"""One Bybit v5 public WebSocket connection that heals itself: the I/O around a `BybitSession`.

The connection opens the socket (picows, a Cython WebSocket client), lets its session
(session.py) decide what to send, pings every `ping_interval_s` (/docs/v5/ws/connect), hands
every frame to a sink with its local receive time and the session's decoded event, and is
replaced with capped exponential backoff and full jitter when it closes, errors or goes silent
for `stale_after_s`.

Frames are handed over inline, from picows' parser, as they are cut from each read of the
socket, by a compiled listener (`_receiver.FrameReceiver`): no receive queue, no task switch
and no Python frame per frame. The sink (engine, recorder) is fast and must
never block; while it runs, nothing reads the socket, so TCP back-pressure, not memory, absorbs
a burst. The frames of one read share their receive time (they arrived together) and are
followed by one `on_batch_end` call, where a sink flushes what it batches and the connection
updates its figures. Staleness is a timer's job (every tenth of `stale_after_s`), not the
receiver's. The pinger and the watchers of a session are one TaskGroup: when one ends or fails,
the others are cancelled and awaited.
`bench.load_matrix` measured this against the websockets library and uvloop (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator

from picows import WSCloseCode, WSError, WSMsgType, WSTransport, ws_connect

from scalper.events import Event
from scalper.feed_status import ConnectionStats
from scalper.settings import ConnectionSettings
from scalper.venues.bybit._receiver import FrameReceiver
from scalper.venues.bybit.session import BybitSession
from scalper.venues.bybit.subscriptions import SubscriptionBook
from scalper.venues.bybit.topics import symbol_of

log = logging.getLogger(__name__)

FrameSink = Callable[[bytes, int, Event | None], None]
"""Called with (raw frame, local receive time in ns, decoded event or None for a control reply
the session consumed) for every frame received."""

_TEXT = WSMsgType.TEXT


def backoff_delays(initial: float, maximum: float, rng: random.Random) -> Iterator[float]:
    """Capped exponential backoff with full jitter: uniform(0, min(max, initial * 2**n))."""
    ceiling = initial
    while True:
        yield rng.uniform(0.0, ceiling)
        ceiling = min(maximum, ceiling * 2.0)


class _SessionEnded(Exception):
    """The way to end a session's TaskGroup without an error (stale, or our own stop)."""


class BybitConnection:
    """Keeps one public connection alive and its topics subscribed."""

    connection_errors: tuple[type[BaseException], ...] = (OSError, WSError, TimeoutError)
    """What a session raises when its socket failed or never opened: `run` reconnects."""

    def __init__(
        self,
        name: str,
        url: str,
        topics: list[str],
        category: str,
        on_frame: FrameSink | None = None,
        settings: ConnectionSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.settings = settings or ConnectionSettings()
        self.session = BybitSession(name, url, topics, category)
        self.symbols = sorted({symbol_of(topic) for topic in topics})
        self.on_frame: FrameSink = on_frame or _discard
        """Where frames go; settable, so the owner can wire a sink that knows this connection."""
        self.on_batch_end: Callable[[], None] = _nothing
        """Called after the last frame of each read of the socket; settable like `on_frame`."""
        self._rng = rng or random.Random()
        self._transport: WSTransport | None = None
        self._connected_at = 0.0
        """Event-loop time the current (or last) session's socket opened."""
        self._stopping = False
        self.session.on_outgoing = self._flush

    @property
    def topics(self) -> list[str]:
        return self.session.topics

    @property
    def subscriptions(self) -> SubscriptionBook:
        return self.session.subscriptions

    @property
    def stats(self) -> ConnectionStats:
        return self.session.stats

    async def run(self) -> None:
        """Connect, serve and reconnect until `stop()`. The backoff starts again from
        `backoff_initial_s` after a session that went stale or held for `backoff_max_s`; a
        streak of failed connects or of connections lost at once keeps doubling it."""
        settings = self.settings
        delays = backoff_delays(settings.backoff_initial_s, settings.backoff_max_s, self._rng)
        loop = asyncio.get_running_loop()
        while not self._stopping:
            connects = self.stats.connects
            try:
                await self._session()
                delays = backoff_delays(
                    settings.backoff_initial_s, settings.backoff_max_s, self._rng
                )
            except self.connection_errors as exc:
                if self._stopping:  # our own close on shutdown: nothing was lost
                    break
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                what = "connection lost" if self.stats.connects > connects else "cannot connect"
                log.warning("%s: %s (%s)", self.name, what, self.stats.last_error)
                if (
                    self.stats.connects > connects
                    and loop.time() - self._connected_at >= settings.backoff_max_s
                ):
                    # It held for as long as the longest wait: a new start, not a failing streak.
                    delays = backoff_delays(
                        settings.backoff_initial_s, settings.backoff_max_s, self._rng
                    )
            if self._stopping:
                break
            self.stats.state = "backoff"
            self.stats.reconnects += 1
            await asyncio.sleep(next(delays))
        self.stats.state = "stopped"

    async def stop(self) -> None:
        self._stopping = True
        transport = self._transport
        if transport is not None:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
            await transport.wait_disconnected()

    def request_resync(self, topic: str) -> bool:
        """Ask for a fresh snapshot of one topic (sent at once on the open socket)."""
        if self._transport is None:
            return False
        return self.session.request_resync(topic)

    def _flush(self) -> None:
        """Send what the session queued (on the open socket; else it waits for the next)."""
        transport = self._transport
        if transport is None:
            return
        outbox = self.session.outbox
        while outbox:
            transport.send(_TEXT, outbox.popleft())

    async def _session(self) -> None:
        settings = self.settings
        self.stats.state = "connecting"
        transport, _ = await asyncio.wait_for(
            ws_connect(
                lambda: FrameReceiver(self),
                self.url,
                websocket_handshake_timeout=settings.open_timeout_s,
                enable_auto_ping=False,  # Bybit wants its own JSON ping, not a protocol ping
                enable_auto_pong=True,
                logger_name=log,
            ),
            settings.open_timeout_s,
        )
        if transport.response is None:
            # picows hands back a closed transport when the peer hangs up before its answer
            transport.disconnect(graceful=False)
            raise ConnectionError("closed before the WebSocket handshake")
        if self._stopping:
            transport.disconnect(graceful=False)
            return
        self._transport = transport
        self._connected_at = asyncio.get_running_loop().time()
        self.stats.connects += 1
        self.stats.state = "subscribing"
        try:
            self.session.connected()
            self._flush()
            self.stats.state = "open"
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._ping_forever(), name=f"{self.name}-ping")
                tasks.create_task(self._watch_stale(), name=f"{self.name}-stale")
                tasks.create_task(self._until_closed(transport), name=f"{self.name}-closed")
        except BaseExceptionGroup as group:
            _raise_first_error(group)
        finally:
            self._transport = None
            transport.disconnect(graceful=False)

    async def _until_closed(self, transport: WSTransport) -> None:
        await transport.wait_disconnected()
        if self._stopping:
            raise _SessionEnded
        raise ConnectionError("closed by the venue")

    async def _watch_stale(self) -> None:
        """End the session once no frame came for `stale_after_s`: checked every tenth of it,
        so it ends between that and 1.1 times that after the last frame (or the open)."""
        stale_after = self.settings.stale_after_s
        stale_ns = int(stale_after * 1e9)
        stats = self.stats
        opened_ns = time.time_ns()
        while True:
            await asyncio.sleep(stale_after / 10)
            if time.time_ns() - max(stats.last_frame_ns, opened_ns) >= stale_ns:
                stats.stale_timeouts += 1
                stats.last_error = f"no frame for {stale_after:g} s"
                log.warning("%s: stale (%s), reconnecting", self.name, stats.last_error)
                raise _SessionEnded

    async def _ping_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ping_interval_s)
            self.session.ping()


def _raise_first_error(group: BaseExceptionGroup) -> None:
    """End a session's TaskGroup: quietly if it ended by design, else with the first error
    (the socket's, which `run` turns into a reconnect)."""
    errors = [e for e in group.exceptions if not isinstance(e, _SessionEnded)]
    if errors:
        raise errors[0]


def _discard(raw: bytes, recv_ns: int, event: Event | None) -> None:
    """The sink of a connection nobody wired yet."""


def _nothing() -> None:
    """The batch end of a connection nobody wired yet."""
