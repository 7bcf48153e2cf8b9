"""The local exchange's private WebSocket (`/v5/private`): auth, subscribe, pushes, ping.

Bybit's protocol (/docs/v5/ws/connect, /docs/v5/websocket/private/*): `{"op":"auth","args":
[key, expires, signature]}` answered `{"success","ret_msg","op":"auth","conn_id"}`;
`{"op":"subscribe","args":[topics],"req_id"}` (refused before auth); `{"op":"ping"}` answered
with a pong. Pushes are `{"id","topic","creationTime","data":[rows]}` to every authenticated
connection subscribed to the topic; each connection has a bounded queue and its own writer,
so a push never waits for a client (one that lets its queue fill is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from typing import Any, Final

from starlette.websockets import WebSocket, WebSocketDisconnect

from scalper.venues.simulator.private_auth import PrivateGate
from scalper.venues.simulator.sessions import Message, Receive, Send

TOPICS: Final = frozenset({"order", "execution", "position", "wallet"})
"""The all-in-one private topics served (the `.linear` forms fold onto them)."""
QUEUE_FRAMES: Final = 10_000


class _Connection:
    __slots__ = ("authed", "conn_id", "queue", "topics", "ws")

    def __init__(self, ws: WebSocket, conn_id: str) -> None:
        self.ws = ws
        self.conn_id = conn_id
        self.authed = False
        self.topics: set[str] = set()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_FRAMES)


class PrivateStreams:
    """Every private stream connection; `push` sends a topic's rows to its subscribers."""

    def __init__(self, gate: PrivateGate) -> None:
        self._gate = gate
        self.push_delay_s = 0.0
        """Pushes go out this late, in order (a fault: `private_faults.py`)."""
        self._late: deque[tuple[float, str, str]] = deque()
        self._late_timer: asyncio.TimerHandle | None = None
        self._connections: list[_Connection] = []
        self._ids = itertools.count(1)
        self._push_ids = itertools.count(1)
        self.refuse = False
        """Close new connections at once (a test keeps the private stream down)."""
        self.connects = 0
        self.pushes = 0
        """Pushes queued to a connection, counted once per connection."""

    @property
    def connections(self) -> int:
        return len(self._connections)

    def push(self, topic: str, rows: list[dict[str, Any]]) -> None:
        if not self._connections:
            return
        text = json.dumps(
            {
                "id": f"sim-push-{next(self._push_ids)}",
                "topic": topic,
                "creationTime": self._gate.now_ms(),
                "data": rows,
            },
            separators=(",", ":"),
        )
        if self.push_delay_s > 0.0 or self._late:
            loop = asyncio.get_running_loop()
            self._late.append((loop.time() + self.push_delay_s, topic, text))
            if self._late_timer is None:
                self._late_timer = loop.call_at(self._late[0][0], self._send_late)
            return
        self._send(topic, text)

    def _send(self, topic: str, text: str) -> None:
        for connection in self._connections:
            if connection.authed and topic in connection.topics:
                self.pushes += 1
                self._enqueue(connection, text)

    def _send_late(self) -> None:
        """Send the held pushes now due, in order; wait for the next one."""
        loop = asyncio.get_running_loop()
        self._late_timer = None
        while self._late and self._late[0][0] <= loop.time():
            _, topic, text = self._late.popleft()
            self._send(topic, text)
        if self._late:
            self._late_timer = loop.call_at(self._late[0][0], self._send_late)

    def drop_all(self) -> int:
        """End every private connection (the clients see their stream lost); returns how many."""
        dropped = len(self._connections)
        for connection in list(self._connections):
            self._close(connection)
        return dropped

    def _enqueue(self, connection: _Connection, text: str | None) -> None:
        try:
            connection.queue.put_nowait(text)
        except asyncio.QueueFull:
            self._close(connection)

    def _close(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
        with contextlib.suppress(asyncio.QueueFull):
            connection.queue.put_nowait(None)

    async def serve(self, scope: Message, receive: Receive, send: Send) -> None:
        ws = WebSocket(scope, receive, send)
        if self.refuse:
            await ws.close()
            return
        await ws.accept()
        self.connects += 1
        connection = _Connection(ws, f"sim-conn-{next(self._ids)}")
        self._connections.append(connection)
        writer = asyncio.create_task(self._write(connection), name="simulator-private-writer")
        reader = asyncio.create_task(self._read(connection), name="simulator-private-reader")
        try:
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._close(connection)
            reader.cancel()
            await asyncio.gather(writer, reader, return_exceptions=True)

    async def _write(self, connection: _Connection) -> None:
        with contextlib.suppress(Exception):  # a socket closing meanwhile ends the writer
            while (text := await connection.queue.get()) is not None:
                await connection.ws.send_text(text)
            await connection.ws.close(code=1012)

    async def _read(self, connection: _Connection) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                text = await connection.ws.receive_text()
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    self._answer(connection, message)

    def _answer(self, connection: _Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        req_id = str(message.get("req_id", ""))
        answer: dict[str, Any]
        if op == "auth":
            args = [str(a) for a in message.get("args", [])]
            why = self._gate.check_ws_auth(*args) if len(args) == 3 else "Params Error"
            connection.authed = not why
            answer = {"success": not why, "ret_msg": why, "op": "auth"}
        elif op in ("subscribe", "unsubscribe"):
            topics = {str(t).split(".")[0] for t in message.get("args", [])}
            ok = connection.authed and topics <= TOPICS
            if ok and op == "subscribe":
                connection.topics |= topics
            elif ok:
                connection.topics -= topics
            why = "" if ok else "Request not authorized" if not connection.authed else "bad topic"
            answer = {"success": ok, "ret_msg": why, "op": op}
        elif op == "ping":
            answer = {"success": True, "ret_msg": "pong", "op": "pong"}
        else:
            answer = {"success": False, "ret_msg": f"unknown op {op!r}", "op": str(op)}
        answer["conn_id"] = connection.conn_id
        if req_id:
            answer["req_id"] = req_id
        self._enqueue(connection, json.dumps(answer, separators=(",", ":")))
