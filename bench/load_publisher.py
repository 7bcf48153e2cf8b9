"""`bench.load --publisher`: pre-encoded Bybit frames over a loopback WebSocket at almost no CPU.

The simulator makes every frame as it goes (~30 µs a frame in its market child, plus the
websockets server), so at 300 symbols it falls behind before the client does. This publisher
generates a `cycle_s` window of the same synthetic market once, up front, encodes every frame
as a complete server WebSocket frame (unmasked, so the bytes on the wire are fixed), and groups
them per topic in `slot_ms` time slots. When a connection's subscriptions settle, its topics'
frames are joined into one buffer per slot; serving is then one `transport.write` per
connection per slot, and the only per-frame work left is rewriting the frames' 13-digit
millisecond timestamps to the wall clock of the cycle being played (in place, same length).

Bybit-compatible as far as `BybitConnection` needs: the HTTP upgrade, subscribe/unsubscribe
acks with the request's `req_id`, pongs to `{"op":"ping"}`, protocol ping/close. Each
connection's stream starts at the window's beginning (a snapshot per book topic, then deltas
with consecutive `u`) and repeats it: every cycle starts with fresh snapshots, so `u` restarts
with a snapshot, as after a Bybit resync. A resync (unsubscribe + subscribe of a topic already
streaming) is acknowledged; its snapshot comes with the next cycle. A client that falls a whole
cycle behind is dropped (its transport buffer would otherwise grow without bound).

One status line a second on stdout, as `bench.load`'s simulator prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import re
import signal
import sys
import time
from array import array
from collections import defaultdict
from pathlib import Path
from typing import Final

import msgspec

from bench.load import SimulatorStatus
from scalper.settings import SimulatorSettings
from scalper.venues.simulator.source import synthetic_market

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MARKET_START_MS: Final = 1_733_011_200_000
_STAMP: Final = re.compile(rb"(?<=[:\"])1\d{12}(?=[,}\"])")
"""A 13-digit millisecond time (the window's timestamps; no price or size has 13 digits)."""
_SETTLE_S: Final = 0.1
"""A connection's stream starts once no subscribe has come for this long."""
_HIGH_WATER: Final = 4 * 2**20


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One unmasked (server) WebSocket frame."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return header + payload


class Window:
    """The pre-encoded market: per topic, per slot, the frames' bytes and their timestamps."""

    def __init__(self, symbols: int, rate: float, seed: int, cycle_s: float, slot_ms: int) -> None:
        self.slot_ms = slot_ms
        self.slots = max(1, round(cycle_s * 1000 / slot_ms))
        self.cycle_ms = self.slots * slot_ms
        market = synthetic_market(
            symbols, seed, rate, SimulatorSettings().depth, start_ms=_MARKET_START_MS
        )
        config = msgspec.structs.replace(market.config, seconds=self.cycle_ms / 1000)
        market = type(market)(config)
        self.symbols = sorted(market.instruments)
        # topic -> slot -> the slot's encoded frames of that topic
        chunks: dict[bytes, dict[int, list[bytes]]] = defaultdict(lambda: defaultdict(list))
        self.frames = 0
        topic_of = re.compile(rb'"topic":"([^"]+)"')
        for recv_ns, raw in market.frames():
            match = topic_of.search(raw)
            if match is None:
                continue
            slot = min(self.slots - 1, (recv_ns // 1_000_000 - _MARKET_START_MS) // slot_ms)
            chunks[match.group(1)][slot].append(ws_frame(raw))
            self.frames += 1
        self.parts: dict[str, dict[int, _Part]] = {
            topic.decode(): {slot: _part(frames) for slot, frames in by_slot.items()}
            for topic, by_slot in chunks.items()
        }

    def stream(self, topics: set[str]) -> Stream:
        """One connection's slots: the frames of `topics`, joined per slot."""
        by_slot: list[list[_Part]] = [[] for _ in range(self.slots)]
        for topic in sorted(topics):
            for slot, part in self.parts.get(topic, {}).items():
                by_slot[slot].append(part)
        blobs: list[bytearray] = []
        stamps: list[tuple[array[int], array[int]]] = []
        counts = array("q", bytes(8 * self.slots))
        for slot, parts in enumerate(by_slot):
            blob = bytearray()
            offsets, rel_ms = array("q"), array("q")
            for part in parts:
                at = len(blob)
                blob += part.data
                offsets.extend(at + offset for offset in part.offsets)
                rel_ms.extend(part.rel_ms)
                counts[slot] += part.frames
            blobs.append(blob)
            stamps.append((offsets, rel_ms))
        return Stream(blobs, stamps, counts, self.slot_ms)


class _Part:
    """One topic's frames in one slot: their bytes, and where their timestamps are."""

    __slots__ = ("data", "frames", "offsets", "rel_ms")

    def __init__(self, data: bytes, frames: int, offsets: array[int], rel_ms: array[int]) -> None:
        self.data = data
        self.frames = frames
        self.offsets = offsets
        self.rel_ms = rel_ms


def _part(frames: list[bytes]) -> _Part:
    data = b"".join(frames)
    offsets, rel_ms = array("q"), array("q")
    for match in _STAMP.finditer(data):
        value = int(match.group())
        if _MARKET_START_MS <= value < _MARKET_START_MS + 86_400_000:
            offsets.append(match.start())
            rel_ms.append(value - _MARKET_START_MS)
    return _Part(data, len(frames), offsets, rel_ms)


class Stream:
    """A connection's slots, restamped for the cycle being played just before each is sent."""

    def __init__(
        self,
        blobs: list[bytearray],
        stamps: list[tuple[array[int], array[int]]],
        counts: array[int],
        slot_ms: int,
    ) -> None:
        self.blobs = blobs
        self.stamps = stamps
        self.counts = counts
        self.slot_ms = slot_ms
        self.start_ms = time.time_ns() // 1_000_000
        self.next_slot = 0
        """Slots sent so far (across cycles)."""

    def due_slots(self, now_ms: int) -> int:
        return (now_ms - self.start_ms) // self.slot_ms + 1

    def take(self) -> tuple[bytearray, int]:
        """The next slot's bytes (timestamps of its cycle) and its frame count."""
        n = len(self.blobs)
        slot = self.next_slot % n
        base = self.start_ms + (self.next_slot - slot) * self.slot_ms
        blob = self.blobs[slot]
        offsets, rel_ms = self.stamps[slot]
        for offset, rel in zip(offsets, rel_ms, strict=True):
            blob[offset : offset + 13] = b"%d" % (base + rel)
        self.next_slot += 1
        return blob, self.counts[slot]


class Publisher:
    """The server: connections, their streams, the pump."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.clients: set[_Client] = set()
        self.frames_published = 0
        self.dropped = 0
        self._ids = 0

    def new_client(self) -> _Client:
        self._ids += 1
        return _Client(self, f"pub-{self._ids}")

    async def pump(self) -> None:
        """Every slot: each streaming connection gets the slots now due."""
        slot_s = self.window.slot_ms / 1000
        cycle = self.window.slots
        loop = asyncio.get_running_loop()
        tick = loop.time()
        while True:
            tick += slot_s
            await asyncio.sleep(max(0.0, tick - loop.time()))
            now_ms = time.time_ns() // 1_000_000
            for client in list(self.clients):
                client.maybe_start()
                stream = client.stream
                if stream is None or client.transport.is_closing():
                    continue
                due = stream.due_slots(now_ms)
                if due - stream.next_slot > cycle:
                    self.dropped += 1
                    client.transport.abort()
                    continue
                while stream.next_slot < due and not client.paused:
                    blob, count = stream.take()
                    if blob:
                        client.transport.write(blob)
                    self.frames_published += count


class _Client(asyncio.Protocol):
    """One connection: the handshake, the client's frames, acks and pongs."""

    def __init__(self, publisher: Publisher, conn_id: str) -> None:
        self.publisher = publisher
        self.conn_id = conn_id
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buffer = bytearray()
        self.upgraded = False
        self.paused = False
        self.topics: set[str] = set()
        self.stream: Stream | None = None
        self.last_subscribe = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=_HIGH_WATER)
        self.publisher.clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.publisher.clients.discard(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def maybe_start(self) -> None:
        if (
            self.stream is None
            and self.topics
            and time.monotonic() - self.last_subscribe >= _SETTLE_S
        ):
            self.stream = self.publisher.window.stream(self.topics)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            request, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 4 :]
            key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", request)
            if key is None:
                self.transport.close()
                return
            accept = base64.b64encode(hashlib.sha1(key.group(1) + _GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.upgraded = True
        while True:
            frame = _next_frame(self.buffer)
            if frame is None:
                return
            opcode, payload, used = frame
            del self.buffer[:used]
            if opcode == 1:
                self._on_text(payload)
            elif opcode == 8:
                self.transport.write(ws_frame(payload[:2], 8))
                self.transport.close()
                return
            elif opcode == 9:
                self.transport.write(ws_frame(payload, 10))

    def _on_text(self, payload: bytes) -> None:
        try:
            request = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            return
        op = request.get("op")
        reply: dict[str, object] = {"success": True, "ret_msg": "", "conn_id": self.conn_id}
        if op == "ping":
            reply["ret_msg"] = "pong"
        elif op == "subscribe":
            self.topics.update(request.get("args", ()))
            self.last_subscribe = time.monotonic()
        elif op != "unsubscribe":
            reply["success"] = False
            reply["ret_msg"] = f"error:unsupported op {op!r}"
        if "req_id" in request:
            reply["req_id"] = request["req_id"]
        reply["op"] = op
        self.transport.write(ws_frame(msgspec.json.encode(reply)))


def _next_frame(buffer: bytearray) -> tuple[int, bytes, int] | None:
    """(opcode, unmasked payload, bytes used) of the first complete client frame, or None."""
    if len(buffer) < 2:
        return None
    opcode = buffer[0] & 0x0F
    masked = buffer[1] & 0x80
    size = buffer[1] & 0x7F
    at = 2
    if size == 126:
        if len(buffer) < 4:
            return None
        size, at = int.from_bytes(buffer[2:4], "big"), 4
    elif size == 127:
        if len(buffer) < 10:
            return None
        size, at = int.from_bytes(buffer[2:10], "big"), 10
    mask = b""
    if masked:
        mask, at = bytes(buffer[at : at + 4]), at + 4
    if len(buffer) < at + size:
        return None
    payload = bytes(buffer[at : at + size])
    if masked:
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        payload = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
    return opcode, payload, at + size


def serve_publisher(argv: list[str]) -> int:
    """The publisher process's body: build the window, serve until SIGTERM/SIGINT or until
    the parent is gone, printing a status line a second (the first once it listens)."""
    parser = argparse.ArgumentParser(prog="bench.load publisher")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--symbols", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cycle", type=float, default=10.0)
    parser.add_argument("--slot-ms", type=int, default=2)
    parser.add_argument("--status", type=Path, help="also rewrite this file with each status")
    args = parser.parse_args(argv)
    window = Window(args.symbols, args.rate, args.seed, args.cycle, args.slot_ms)
    asyncio.run(_serve(Publisher(window), args.port, args.status))
    return 0


async def _serve(publisher: Publisher, port: int, status_path: Path | None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(publisher.new_client, "127.0.0.1", port)
    pump = asyncio.create_task(publisher.pump())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    out = sys.stdout.buffer
    try:
        while not stop.is_set() and os.getppid() == parent:
            status = SimulatorStatus(
                time.time_ns(),
                publisher.frames_published,
                len(publisher.clients),
                publisher.dropped,
            )
            line = msgspec.json.encode(status)
            out.write(line + b"\n")
            out.flush()
            if status_path is not None:
                status_path.with_suffix(".tmp").write_bytes(line)
                status_path.with_suffix(".tmp").replace(status_path)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    except BrokenPipeError:  # the parent is gone
        pass
    finally:
        pump.cancel()
        server.close()
        for client in list(publisher.clients):
            client.transport.abort()
