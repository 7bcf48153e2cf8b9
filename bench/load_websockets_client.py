"""The live feed's connection as it was on the websockets library (before picows), for
`bench.load --client websockets` and `bench.load_matrix`: the same `BybitConnection`, its socket
on `websockets.asyncio.client` with a receive queue of `MAX_QUEUE` frames and one stale
deadline per session, rescheduled from the receive loop."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from scalper.settings import ConnectionSettings
from scalper.venues.bybit.connection import BybitConnection, FrameSink

log = logging.getLogger(__name__)

MAX_QUEUE = 4096
"""Frames websockets buffers before it stops reading the socket (the old setting's default)."""


class _SessionEnded(Exception):
    """The receiver's way to end a session's TaskGroup without an error."""


class WebsocketsConnection(BybitConnection):
    """`BybitConnection` (reconnects, backoff, session) with its socket on websockets."""

    connection_errors = (OSError, WebSocketException, TimeoutError)

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
        super().__init__(name, url, topics, category, on_frame, settings, rng)
        self._ws: ClientConnection | None = None
        self._outgoing = asyncio.Event()
        self.session.on_outgoing = self._outgoing.set

    async def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            await ws.close()

    def request_resync(self, topic: str) -> bool:
        """Ask for a fresh snapshot of one topic (sent by this connection's sender)."""
        if self._ws is None:
            return False
        return self.session.request_resync(topic)

    async def _session(self) -> None:
        settings = self.settings
        self.stats.state = "connecting"
        async with connect(
            self.url,
            ping_interval=None,  # Bybit wants its own JSON ping, not a protocol ping
            open_timeout=settings.open_timeout_s,
            max_queue=MAX_QUEUE,
            compression=None,
            proxy=None,
        ) as ws:
            self._ws = ws
            self._connected_at = asyncio.get_running_loop().time()
            self.stats.connects += 1
            self.stats.state = "subscribing"
            self.session.connected()
            try:
                await self._send_pending(ws)
                self.stats.state = "open"
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._send_forever(ws), name=f"{self.name}-send")
                    tasks.create_task(self._ping_forever(), name=f"{self.name}-ping")
                    tasks.create_task(self._receive(ws), name=f"{self.name}-receive")
            except BaseExceptionGroup as group:
                _raise_first_error(group)
            finally:
                self._ws = None

    async def _receive(self, ws: ClientConnection) -> None:
        """Hand every frame to the sink; end the session when the connection has been silent
        for `stale_after_s` (between that and 1.1 times that after the last frame).

        One deadline for the whole session, pushed back at most every tenth of `stale_after_s`,
        not `asyncio.wait_for` around each `recv`, which made a task and a timer per frame
        (bench/load.py measures the client's CPU per frame)."""
        stale_after = self.settings.stale_after_s
        step = stale_after / 10
        receive = self.session.receive
        on_frame = self.on_frame
        on_batch_end = self.on_batch_end
        stats = self.stats
        loop = asyncio.get_running_loop()
        pushed_at = loop.time()
        try:
            async with asyncio.timeout_at(pushed_at + stale_after + step) as deadline:
                while not self._stopping:
                    raw: bytes = await ws.recv(decode=False)  # type: ignore[assignment]
                    recv_ns = time.time_ns()
                    stats.frames += 1
                    stats.last_frame_ns = recv_ns
                    on_frame(raw, recv_ns, receive(raw, recv_ns))
                    on_batch_end()
                    now = loop.time()
                    if now - pushed_at >= step:
                        pushed_at = now
                        deadline.reschedule(now + stale_after + step)
        except TimeoutError:
            stats.stale_timeouts += 1
            stats.last_error = f"no frame for {stale_after:g} s"
            log.warning("%s: stale (%s), reconnecting", self.name, stats.last_error)
        raise _SessionEnded

    async def _send_forever(self, ws: ClientConnection) -> None:
        while True:
            await self._outgoing.wait()
            await self._send_pending(ws)

    async def _send_pending(self, ws: ClientConnection) -> None:
        self._outgoing.clear()
        outbox = self.session.outbox
        while outbox:
            await ws.send(outbox.popleft(), text=True)


def _raise_first_error(group: BaseExceptionGroup) -> None:
    """End a session's TaskGroup: quietly if the receiver ended it, else with the first error
    (the socket's, which `run` turns into a reconnect)."""
    errors = [e for e in group.exceptions if not isinstance(e, _SessionEnded)]
    if errors:
        raise errors[0]
