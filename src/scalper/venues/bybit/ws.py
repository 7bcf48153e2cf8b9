"""One Bybit v5 public WebSocket connection that heals itself. No market logic here.

The connection subscribes its topics (batched by `SubscriptionBook`), pings every 20 s
(/docs/v5/ws/connect), hands every frame to a sink with its local receive time, and is replaced
with capped exponential backoff and full jitter when it closes, errors or goes silent for
`stale_after_s`. Frames are handed over inline: the sink (decoder + engine) is fast and must never
block; websockets' own receive queue is bounded (`max_queue` frames), and when it is full the
library stops reading the socket, so TCP back-pressure, not memory, absorbs a burst.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from scalper.events import ControlMessage
from scalper.venues.bybit.subscriptions import PING_INTERVAL_S, SubscriptionBook

log = logging.getLogger(__name__)

FrameSink = Callable[[bytes, int], None]
"""Called with (raw frame, local receive time in ns) for every frame received."""
ControlSink = Callable[[str, ControlMessage], None]


class ConnectionSettings(msgspec.Struct, frozen=True):
    """How one connection behaves; every figure in seconds."""

    stale_after_s: float = 10.0
    """No frame for this long: the connection is replaced."""
    ping_interval_s: float = PING_INTERVAL_S
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    open_timeout_s: float = 10.0
    max_queue: int = 4096
    """Frames websockets buffers before it stops reading the socket (back-pressure)."""


class ConnectionStats(msgspec.Struct):
    """What happened to one connection (for health and the API)."""

    name: str
    url: str
    topics: int
    state: str = "starting"
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    stale_timeouts: int = 0
    last_error: str = ""
    last_frame_ns: int = 0
    resyncs_sent: int = 0


def backoff_delays(initial: float, maximum: float, rng: random.Random) -> Iterator[float]:
    """Capped exponential backoff with full jitter: uniform(0, min(max, initial * 2**n))."""
    ceiling = initial
    while True:
        yield rng.uniform(0.0, ceiling)
        ceiling = min(maximum, ceiling * 2.0)


class BybitConnection:
    """Keeps one public connection alive and its topics subscribed."""

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
        self.topics = list(topics)
        self.settings = settings or ConnectionSettings()
        self.subscriptions = SubscriptionBook(category)
        self.stats = ConnectionStats(name, url, len(self.topics))
        self.on_frame: FrameSink = on_frame or _discard
        """Where frames go; settable, so the owner can wire a sink that knows this connection."""
        self._rng = rng or random.Random()
        self._ws: ClientConnection | None = None
        self._stopping = False

    async def run(self) -> None:
        """Connect, serve and reconnect until `stop()`."""
        settings = self.settings
        delays = backoff_delays(settings.backoff_initial_s, settings.backoff_max_s, self._rng)
        while not self._stopping:
            try:
                await self._session()
                delays = backoff_delays(
                    settings.backoff_initial_s, settings.backoff_max_s, self._rng
                )
            except (OSError, WebSocketException, TimeoutError) as exc:
                if self._stopping:  # our own close on shutdown: nothing was lost
                    break
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%s: connection lost (%s)", self.name, self.stats.last_error)
            if self._stopping:
                break
            self.stats.state = "backoff"
            self.stats.reconnects += 1
            await asyncio.sleep(next(delays))
        self.stats.state = "stopped"

    async def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            await ws.close()

    async def resync(self, topic: str) -> bool:
        """Unsubscribe and resubscribe one topic so the venue sends a fresh snapshot."""
        ws = self._ws
        if ws is None or topic not in self.topics:
            return False
        for payload in self.subscriptions.resync_payloads(topic):
            await ws.send(payload, text=True)
        self.stats.resyncs_sent += 1
        return True

    async def _session(self) -> None:
        settings = self.settings
        self.stats.state = "connecting"
        async with connect(
            self.url,
            ping_interval=None,  # Bybit wants its own JSON ping, not a protocol ping
            open_timeout=settings.open_timeout_s,
            max_queue=settings.max_queue,
            compression=None,
            proxy=None,
        ) as ws:
            self._ws = ws
            self.stats.connects += 1
            self.stats.state = "subscribing"
            try:
                if self.subscriptions.subscribed or self.subscriptions.pending:
                    payloads = self.subscriptions.all_topics_payloads()
                else:
                    payloads = self.subscriptions.subscribe(self.topics)
                for payload in payloads:
                    await ws.send(payload, text=True)
                self.stats.state = "open"
                pinger = asyncio.create_task(self._ping_forever(ws))
                try:
                    await self._receive(ws)
                finally:
                    pinger.cancel()
            finally:
                self._ws = None

    async def _receive(self, ws: ClientConnection) -> None:
        """Hand every frame to the sink; return when the connection has been silent for
        `stale_after_s` (between that and 1.1 times that after the last frame).

        One deadline for the whole session, pushed back at most every tenth of `stale_after_s`:
        `asyncio.wait_for` around each `recv` made a task and a timer per frame (18 % of the
        main thread's samples inside it in a py-spy profile of `make soak`, plus the loop's
        handling of them); without it the client's CPU per frame halved (bench/load.py)."""
        stale_after = self.settings.stale_after_s
        step = stale_after / 10
        on_frame = self.on_frame
        stats = self.stats
        loop = asyncio.get_running_loop()
        pushed_at = loop.time()
        try:
            async with asyncio.timeout(pushed_at + stale_after + step) as deadline:
                while not self._stopping:
                    raw = await ws.recv(decode=False)
                    recv_ns = time.time_ns()
                    stats.frames += 1
                    stats.last_frame_ns = recv_ns
                    on_frame(raw, recv_ns)  # type: ignore[arg-type]  # decode=False gives bytes
                    now = loop.time()
                    if now - pushed_at >= step:
                        pushed_at = now
                        deadline.reschedule(now + stale_after + step)
        except TimeoutError:
            stats.stale_timeouts += 1
            stats.last_error = f"no frame for {stale_after:g} s"
            log.warning("%s: stale (%s), reconnecting", self.name, stats.last_error)

    def on_control(self, message: ControlMessage) -> None:
        """Feed a venue ack back to the subscription book; sends what it asks to retry."""
        outcome = self.subscriptions.on_ack(message)
        for topic, reason in outcome.failed.items():
            log.warning("%s: subscription %s rejected: %s", self.name, topic, reason)
        ws = self._ws
        if ws is not None and outcome.retry:
            task = asyncio.get_running_loop().create_task(self._send_all(ws, outcome.retry))
            task.add_done_callback(_log_failure)

    async def _send_all(self, ws: ClientConnection, payloads: tuple[bytes, ...]) -> None:
        for payload in payloads:
            await ws.send(payload, text=True)

    async def _ping_forever(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.settings.ping_interval_s)
            await ws.send(self.subscriptions.ping_payload(), text=True)


def _discard(raw: bytes, recv_ns: int) -> None:
    """The sink of a connection nobody wired yet."""


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("send failed: %s", task.exception())
