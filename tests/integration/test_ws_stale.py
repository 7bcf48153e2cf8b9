"""A connection that goes silent is replaced after `stale_after_s`, and only then (loopback)."""

from __future__ import annotations

import asyncio
import random
import time

from websockets.asyncio.server import ServerConnection, serve

from scalper.settings import ConnectionSettings
from scalper.venues.bybit.connection import BybitConnection

STALE_S = 0.5
FRAME = b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT"},"ts":1}'


async def _frames_then_silence(ws: ServerConnection, every_s: float, count: int) -> None:
    for _ in range(count):
        await ws.send(FRAME)
        await asyncio.sleep(every_s)
    await ws.wait_closed()  # silent, socket open, until the client gives up


def test_silence_is_detected_after_stale_after_and_frames_keep_it_alive() -> None:
    async def body() -> None:
        # Frames every 0.2 s for 1.6 s (3.2 x stale_after), then silence.
        async def handler(ws: ServerConnection) -> None:
            await _frames_then_silence(ws, 0.2, 8)

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            connection = BybitConnection(
                "test",
                f"ws://127.0.0.1:{port}",
                ["tickers.BTCUSDT"],
                "linear",
                settings=ConnectionSettings(stale_after_s=STALE_S, backoff_initial_s=5.0),
                rng=random.Random(1),  # first backoff 0.67 s: no new session while we look
            )
            task = asyncio.create_task(connection.run())
            stats = connection.stats
            deadline = time.monotonic() + 10
            while stats.stale_timeouts == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            detected_ns = time.time_ns()
            assert stats.stale_timeouts == 1
            assert stats.frames == 8  # none missed while frames kept coming
            silence_s = (detected_ns - stats.last_frame_ns) / 1e9
            # Not before stale_after_s: that is the point. The upper bound only catches a
            # deadline that never fires; a busy machine runs the timer late.
            assert STALE_S <= silence_s <= 1.1 * STALE_S + 2.0, silence_s
            await connection.stop()
            task.cancel()

    asyncio.run(asyncio.wait_for(body(), 20))


def test_a_connection_silent_from_its_start_is_replaced_after_stale_after() -> None:
    """The first deadline counts from the connection's start (it once was `asyncio.timeout`
    given an absolute loop time, i.e. days away, until a frame arrived)."""

    async def body() -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.wait_closed()  # accepts, then never sends anything

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            connection = BybitConnection(
                "test",
                f"ws://127.0.0.1:{port}",
                ["tickers.BTCUSDT"],
                "linear",
                settings=ConnectionSettings(stale_after_s=STALE_S, backoff_initial_s=5.0),
                rng=random.Random(1),
            )
            started = time.monotonic()
            task = asyncio.create_task(connection.run())
            deadline = started + 10
            while connection.stats.stale_timeouts == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            assert connection.stats.stale_timeouts == 1
            assert connection.stats.frames == 0
            assert time.monotonic() - started >= STALE_S
            await connection.stop()
            task.cancel()

    asyncio.run(asyncio.wait_for(body(), 20))
