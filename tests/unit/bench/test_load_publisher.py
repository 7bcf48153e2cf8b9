"""bench/load_publisher.py: the frames it serves are Bybit's as the live feed reads them."""

from __future__ import annotations

import asyncio
import time

from bench.load_publisher import Publisher, Window, _next_frame, ws_frame

from scalper.engine import Engine
from scalper.settings import EngineSettings
from scalper.venues.bybit.feed import LiveFeed


def _masked(payload: bytes, opcode: int = 1) -> bytes:
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + body


def test_client_frames_are_unmasked_and_server_frames_carry_their_length() -> None:
    buffer = bytearray(_masked(b'{"op":"ping"}') + b"\x81")
    assert _next_frame(buffer) == (1, b'{"op":"ping"}', len(buffer) - 1)
    assert _next_frame(bytearray(b"\x81")) is None
    assert ws_frame(b"x" * 200)[:4] == bytes((0x81, 126, 0, 200))


def test_a_stream_restamps_each_cycle_to_the_wall_clock() -> None:
    window = Window(2, 1.0, 1, cycle_s=0.2, slot_ms=20)
    stream = window.stream(set(window.parts))
    assert stream.counts.tolist() and sum(stream.counts) == window.frames
    first = bytes(stream.take()[0])
    for _ in range(window.slots - 1):
        stream.take()
    again = bytes(stream.take()[0])  # the same slot, one cycle (200 ms) later
    assert len(first) == len(again) and first != again
    now_ms = time.time_ns() // 1_000_000
    assert str(now_ms)[:8].encode() in first


def test_the_live_feed_keeps_its_books_in_sync_on_the_publisher() -> None:
    """Snapshots, then deltas with consecutive `u`, over two cycles (a snapshot again at the
    start of each): every book in sync, nothing malformed, no reconnect."""

    async def scenario() -> tuple[LiveFeed, Engine]:
        window = Window(3, 1.0, 1, cycle_s=1.0, slot_ms=5)
        publisher = Publisher(window)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(publisher.new_client, "127.0.0.1", 0)
        pump = asyncio.create_task(publisher.pump())
        port = server.sockets[0].getsockname()[1]
        engine = Engine(EngineSettings())
        feed = LiveFeed(engine, window.symbols, f"ws://127.0.0.1:{port}/v5/public/linear")
        await feed.start()
        try:
            deadline = time.monotonic() + 30
            while publisher.frames_published < 2 * window.frames + 10:
                assert time.monotonic() < deadline, publisher.frames_published
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
        finally:
            await feed.stop()
            pump.cancel()
            server.close()
        return feed, engine

    feed, engine = asyncio.run(asyncio.wait_for(scenario(), 60))
    books = [state.book for state in engine.symbols.values()]
    assert len(books) == 3 and all(book is not None and book.in_sync for book in books)
    assert not sum(engine.malformed.values())
    assert engine.frames >= 2 * 3 * 50  # books every 20 ms, trades and tickers, two cycles
    assert all(link.stats.reconnects == 0 for link in feed.connections)
