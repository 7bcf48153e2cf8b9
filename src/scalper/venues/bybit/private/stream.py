"""Bybit's private WebSocket: authenticate, subscribe, ping, and come back after every loss.

One session: connect, send the auth request (signing.py) and wait for its answer, subscribe
the topics and wait for the answer, then hand every push to `on_message` while pinging every
`ping_interval_s` (/docs/v5/ws/connect). A session ends when the socket closes or fails, or an
answer is refused or late; `on_state(False, why)` is called, and a new session starts after a
capped exponential backoff with full jitter (each successful session resets it). `on_state(True,
"")` is called once a session is authenticated and subscribed. Nothing logged carries the key
or the auth signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Callable
from typing import Final

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from scalper.settings import BybitPrivateSettings
from scalper.venues.bybit.connection import backoff_delays
from scalper.venues.bybit.private import wire
from scalper.venues.bybit.private.credentials import Credentials
from scalper.venues.bybit.private.signing import ws_auth_message

log = logging.getLogger(__name__)
_SOCKET_LOG: Final = logging.getLogger(f"{__name__}.socket")
"""The websockets library's logger for our connection: its DEBUG records dump every frame,
the auth request (key and signature) included, so they are dropped whatever the log level."""
_SOCKET_LOG.addFilter(lambda record: record.levelno > logging.DEBUG)

TOPICS: Final = ("order", "execution", "position", "wallet")
"""The all-in-one topics (every category); the categorised forms cannot be mixed with them in
one request (/docs/v5/websocket/private/*)."""
AUTH_VALID_MS: Final = 10_000
"""How far in the future the auth request's `expires` lies (Bybit's sample uses 1 s)."""

MessageSink = Callable[[wire.StreamTopic], None]
StateSink = Callable[[bool, str], None]


class _SessionLost(Exception):
    """Why a session ended (the message says)."""


class PrivateStream:
    """Keeps the private stream of one account authenticated and subscribed."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        settings: BybitPrivateSettings,
        *,
        on_message: MessageSink,
        on_state: StateSink,
        venue_now_ms: Callable[[], int],
        topics: tuple[str, ...] = TOPICS,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self._credentials = credentials
        self._settings = settings
        self._on_message = on_message
        self._on_state = on_state
        self._venue_now_ms = venue_now_ms
        self.topics = topics
        self._rng = rng or random.Random()
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._req_ids = itertools.count(1)
        self.connected = False
        self.pushes = 0
        """Topic pushes handed on (all sessions)."""
        self.sessions = 0
        """Sessions that got authenticated and subscribed (a metric)."""
        self.malformed = 0
        self.last_error = ""

    def __repr__(self) -> str:
        return f"PrivateStream({self.url}, connected={self.connected})"

    async def run(self) -> None:
        """Sessions until `stop`; never raises for a lost connection."""
        delays = backoff_delays(
            self._settings.backoff_initial_s, self._settings.backoff_max_s, self._rng
        )
        while not self._stopping:
            try:
                await self._session()
                reason = "closed"
            except _SessionLost as exc:
                reason = str(exc)
            except (OSError, WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                # A bug must not end the stream for good: logged with its traceback, and the
                # session is replaced like a lost one.
                log.exception("Bybit private stream session failed")
                reason = f"{type(exc).__name__}: {exc}"
            if self.connected:
                delays = backoff_delays(
                    self._settings.backoff_initial_s, self._settings.backoff_max_s, self._rng
                )
            self._set_state(False, reason)
            if self._stopping:
                return
            self.last_error = reason
            delay = next(delays)
            log.warning("Bybit private stream lost (%s); reconnecting in %.2f s", reason, delay)
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    def _set_state(self, connected: bool, reason: str) -> None:
        if connected != self.connected:
            self.connected = connected
            self._on_state(connected, reason)

    async def _session(self) -> None:
        async with connect(
            self.url,
            open_timeout=self._settings.auth_timeout_s,
            ping_interval=None,
            max_queue=4096,
            logger=_SOCKET_LOG,
        ) as ws:
            self._ws = ws
            try:
                expires = self._venue_now_ms() + AUTH_VALID_MS
                await ws.send(ws_auth_message(self._credentials, expires).decode())
                await self._expect(ws, "auth")
                req_id = str(next(self._req_ids))
                subscribe = {"op": "subscribe", "args": list(self.topics), "req_id": req_id}
                await ws.send(msgspec.json.encode(subscribe).decode())
                await self._expect(ws, "subscribe")
                self.sessions += 1
                self._set_state(True, "")
                log.info("Bybit private stream authenticated, subscribed to %s", self.topics)
                pinger = asyncio.create_task(self._ping(ws), name="bybit-private-ping")
                try:
                    await self._receive(ws)
                finally:
                    pinger.cancel()
                    await asyncio.gather(pinger, return_exceptions=True)
            finally:
                self._ws = None

    async def _expect(self, ws: ClientConnection, op: str) -> None:
        """Wait for the answer to `op`; pushes meanwhile are handed on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.auth_timeout_s
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise _SessionLost(f"no answer to {op} within {self._settings.auth_timeout_s} s")
            try:
                frame = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                continue
            message = wire.decode_stream(frame)
            if isinstance(message, wire.StreamControl) and message.op == op:
                if not message.success:
                    raise _SessionLost(f"{op} refused: {message.ret_msg!r}")
                return
            self._hand_on(message)

    async def _receive(self, ws: ClientConnection) -> None:
        async for frame in ws:
            self._hand_on(wire.decode_stream(frame))

    def _hand_on(self, message: wire.StreamMessage) -> None:
        if isinstance(message, wire.StreamTopic):
            self.pushes += 1
            self._on_message(message)
        elif isinstance(message, wire.MalformedMessage):
            self.malformed += 1
            log.warning("Bybit private stream: %s", message.reason)

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(WebSocketException):
            while True:
                await asyncio.sleep(self._settings.ping_interval_s)
                await ws.send('{"op":"ping"}')
