"""The simulator's WebSocket side: client sessions, subscriptions, control replies, fan-out.

Protocol (/docs/v5/ws/connect): `{"op":"subscribe","args":[topics],"req_id":…}` is answered
with `{"success":…,"ret_msg":…,"conn_id":…,"req_id":…,"op":"subscribe"}`; one bad topic fails
the whole request and nothing in it is subscribed; `{"op":"ping"}` gets a pong. Linear replies
carry an empty `ret_msg` on success and always a `req_id`; spot ones carry the op as `ret_msg`
and no `req_id` unless one was sent (captured replies in tests/fixtures/bybit). Spot takes at
most 10 args a request; a connection's topics may total at most 21,000 characters.

Each session has a bounded send queue drained by its own writer task. The pump only appends to
it; a client too slow to drain it is dropped, so one stuck reader never slows the others.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import msgspec

from scalper.venues.bybit.limits import MAX_ARGS_CHARS, SPOT_MAX_ARGS_PER_REQUEST
from scalper.venues.simulator.source import Catalog

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_CHANNELS: Final = frozenset({"publicTrade", "tickers"})


class _Request(msgspec.Struct):
    op: str = ""
    args: list[Any] = []
    req_id: str | None = None


_REQUEST_DECODER: Final = msgspec.json.Decoder(_Request)
_ENCODE: Final = msgspec.json.encode


class ClientSession:
    """One client connection: its topics and its bounded send queue."""

    __slots__ = (
        "_aborted",
        "_limit",
        "_queue",
        "_send",
        "_wake",
        "category",
        "closed",
        "conn_id",
        "silent_until",
        "topics",
    )

    def __init__(self, conn_id: str, category: str, send: Send, queue_limit: int) -> None:
        self.conn_id = conn_id
        self.category = category
        self.topics: set[str] = set()
        self.closed = False
        self.silent_until = 0.0
        """time.monotonic() until which this connection is stalled: nothing is sent to it."""
        self._aborted = False
        self._send = send
        self._limit = queue_limit
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()

    def push(self, text: str) -> bool:
        """Queue a frame; False (and the connection is dropped) if the queue is full."""
        if self.closed:
            return True
        queue = self._queue
        if len(queue) >= self._limit:
            self.drop()
            return False
        queue.append(text)
        if len(queue) == 1:
            self._wake.set()
        return True

    def drop(self) -> None:
        """Cut the connection abruptly: no close frame, and a TCP reset (SO_LINGER 0), so the
        kernel drops what it still buffered for a client that stopped reading."""
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        # uvicorn's `send` is a bound method of its protocol, which owns the transport.
        transport = getattr(getattr(self._send, "__self__", None), "transport", None)
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
            self._aborted = True
        self._wake.set()  # without a transport to abort, the writer sends a close frame

    async def write_loop(self) -> None:
        """Send queued frames in order until the connection ends."""
        queue = self._queue
        send = self._send
        try:
            while not self.closed:
                while queue:
                    await send({"type": "websocket.send", "text": queue.popleft()})
                if self.closed:  # dropped during the send: its wake-up must not be lost
                    break
                self._wake.clear()
                await self._wake.wait()
            if not self._aborted:
                await send({"type": "websocket.close", "code": 1011})
        except Exception:  # the client went away mid-send: nothing more to deliver
            self.closed = True


class WebSocketDesk:
    """Every session and subscription; answers control requests and fans frames out."""

    def __init__(
        self,
        catalog: Catalog,
        snapshot: Callable[[str], bytes | None],
        fault_counts: dict[str, int],
        seed: int,
        queue_limit: int,
    ) -> None:
        self.catalog = catalog
        self.subscribers: dict[str, set[ClientSession]] = {}
        self.sessions: set[ClientSession] = set()
        self.rejected_symbols: frozenset[str] = frozenset()
        self._stalls_until = 0.0
        """time.monotonic() until which some connection may be stalled."""
        self.slow_clients_dropped = 0
        self._snapshot = snapshot
        self._fault_counts = fault_counts
        self._queue_limit = queue_limit
        self._random = random.Random(seed)

    # -- fan-out --------------------------------------------------------------------------------

    def stall(self, seconds: float) -> None:
        """Stall every open connection for `seconds`: sockets stay open, nothing is sent (data,
        acks, pongs), the frames meanwhile are lost to them. Later connections are not stalled,
        as reconnecting heals a stalled stream on the venue."""
        until = time.monotonic() + seconds
        for session in self.sessions:
            session.silent_until = max(session.silent_until, until)
        self._stalls_until = max(self._stalls_until, until)

    def fan_out(self, topic: str, frame: bytes) -> None:
        """Queue a published frame to every subscriber of its topic."""
        subscribers = self.subscribers.get(topic)
        if not subscribers:
            return
        text = frame.decode()
        now = time.monotonic()
        stalling = now < self._stalls_until
        for session in subscribers:
            if stalling and now < session.silent_until:
                continue
            if not session.push(text):
                self.slow_clients_dropped += 1

    def drop_all(self) -> int:
        """Cut every connection; returns how many there were."""
        sessions = list(self.sessions)
        for session in sessions:
            session.drop()
        return len(sessions)

    # -- one connection -------------------------------------------------------------------------

    async def serve(self, category: str, receive: Receive, send: Send) -> None:
        """Run one WebSocket connection (an ASGI websocket scope) until it ends."""
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        session = ClientSession(self._conn_id(category), category, send, self._queue_limit)
        self.sessions.add(session)
        writer = asyncio.create_task(session.write_loop(), name=f"ws-writer-{session.conn_id}")
        try:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                self.answer(session, text)
        finally:
            session.closed = True
            self.sessions.discard(session)
            for topic in session.topics:
                self._unlist(session, topic)
            writer.cancel()
            await asyncio.wait([writer])

    def _unlist(self, session: ClientSession, topic: str) -> None:
        subscribers = self.subscribers.get(topic)
        if subscribers is not None:
            subscribers.discard(session)
            if not subscribers:
                del self.subscribers[topic]

    def _conn_id(self, category: str) -> str:
        """Seeded connection ids in the venue's styles (linear: `cejreassvfrsfvb9v1a0-2m`)."""
        bits = self._random.getrandbits(128)
        if category == "spot":
            text = f"{bits:032x}"
            return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        chars = []
        for _ in range(22):
            bits, index = divmod(bits, len(alphabet))
            chars.append(alphabet[index])
        return f"{''.join(chars[:20])}-{''.join(chars[20:])}"

    # -- control requests -----------------------------------------------------------------------

    def answer(self, session: ClientSession, text: str) -> None:
        """Handle one client request; replies are queued behind any frame already queued."""
        try:
            request = _REQUEST_DECODER.decode(text)
        except msgspec.DecodeError:
            self._reply(session, "", False, "error:request is not valid JSON", None)
            return
        op = request.op
        if op == "ping":
            self._reply(session, op, True, "pong", request.req_id)
        elif op == "subscribe" or op == "unsubscribe":
            self._change_subscriptions(session, request)
        else:
            self._reply(session, op, False, f"error:unsupported op {op!r}", request.req_id)

    def _change_subscriptions(self, session: ClientSession, request: _Request) -> None:
        subscribe = request.op == "subscribe"
        topics = request.args
        check = self._check_subscribe if subscribe else self._check_unsubscribe
        error = check(session, topics)
        if error is not None:
            self._reply(session, request.op, False, error, request.req_id)
            return
        for topic in topics:
            if subscribe:
                session.topics.add(topic)
                self.subscribers.setdefault(topic, set()).add(session)
            else:
                session.topics.discard(topic)
                self._unlist(session, topic)
        self._reply(session, request.op, True, "", request.req_id)
        if subscribe and time.monotonic() >= session.silent_until:
            for topic in topics:
                snapshot = self._snapshot(topic)
                if snapshot is not None and not session.push(snapshot.decode()):
                    self.slow_clients_dropped += 1

    def _check_subscribe(self, session: ClientSession, topics: list[Any]) -> str | None:
        """The error message for a subscribe request, or None if every topic is good."""
        if not topics or not all(isinstance(topic, str) for topic in topics):
            return "error:args must be a non-empty list of topics"
        if session.category == "spot" and len(topics) > SPOT_MAX_ARGS_PER_REQUEST:
            return f"args size >{SPOT_MAX_ARGS_PER_REQUEST}"
        if len(set(topics)) < len(topics):
            duplicate = next(t for t in topics if topics.count(t) > 1)
            return f"error:already subscribed,topic:{duplicate}"
        size = sum(map(len, session.topics)) + sum(map(len, topics))
        if size > MAX_ARGS_CHARS:
            return f"error:topics of one connection exceed {MAX_ARGS_CHARS} characters"
        for topic in topics:
            symbol = self._topic_symbol(topic)
            if symbol is None or not self.catalog.knows(symbol):
                if session.category == "spot" and symbol is not None:
                    return f"Invalid symbol :[{topic}]"
                return f"error:handler not found,topic:{topic}"
            if symbol in self.rejected_symbols:
                self._fault_counts["reject"] += 1
                return f"error:subscription rejected,topic:{topic}"
            if topic in session.topics:
                return f"error:already subscribed,topic:{topic}"
        return None

    def _check_unsubscribe(self, session: ClientSession, topics: list[Any]) -> str | None:
        if not topics or not all(isinstance(topic, str) for topic in topics):
            return "error:args must be a non-empty list of topics"
        for topic in topics:
            if topic not in session.topics:
                return f"error:not subscribed,topic:{topic}"
        return None

    def _topic_symbol(self, topic: str) -> str | None:
        """The symbol of a topic this simulator serves, or None."""
        parts = topic.split(".")
        if len(parts) == 3 and parts[0] == "orderbook" and parts[1].isdecimal():
            return parts[2] if int(parts[1]) in self.catalog.depths and parts[2] else None
        if len(parts) == 2 and parts[0] in _CHANNELS and parts[1]:
            return parts[1]
        return None

    def _reply(
        self, session: ClientSession, op: str, success: bool, message: str, req_id: str | None
    ) -> None:
        if time.monotonic() < session.silent_until:
            return
        reply: dict[str, Any] = {"success": success, "ret_msg": message, "conn_id": session.conn_id}
        if session.category == "spot":
            if success and op != "ping":
                reply["ret_msg"] = op
            if req_id is not None:
                reply["req_id"] = req_id
        else:
            reply["req_id"] = req_id or ""
        reply["op"] = op
        session.push(_ENCODE(reply).decode())
