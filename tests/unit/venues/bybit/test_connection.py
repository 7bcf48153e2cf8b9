"""The reconnect policy of a Bybit connection: capped exponential backoff with full jitter.

It proves that `backoff_delays` draws each delay uniformly from [0, ceiling] with a ceiling that
starts at `initial`, doubles, then stays at `maximum`, drawing from the generator it is given
(the same seed gives the sequence computed here independently); and that a connection to a
port nobody listens on keeps retrying, counted in `stats.reconnects`, waiting in state
"backoff" between attempts and never counting a connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from itertools import islice, pairwise

import pytest
from tests.integration.support import wait_until

from scalper.settings import ConnectionSettings
from scalper.venues.bybit.connection import BybitConnection, backoff_delays


class CeilingRecorder(random.Random):
    """A generator whose `uniform(a, b)` records its bounds and returns the upper one."""

    def __init__(self) -> None:
        super().__init__(0)
        self.bounds: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.bounds.append((a, b))
        return b


def test_the_ceiling_doubles_from_initial_then_stays_at_the_maximum() -> None:
    rng = CeilingRecorder()
    delays = list(islice(backoff_delays(0.1, 1.0, rng), 8))
    assert rng.bounds == [(0.0, c) for c in (0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(("initial", "maximum"), [(0.5, 30.0), (0.05, 0.5), (2.0, 1.0)])
def test_delays_are_full_jitter_under_the_capped_ceiling(initial: float, maximum: float) -> None:
    """The same seed gives the sequence drawn here: uniform(0, min(maximum, initial * 2**n)).
    (An initial above the maximum: the first ceiling is the initial, the next the maximum.)"""
    count = 40
    delays = list(islice(backoff_delays(initial, maximum, random.Random(42)), count))
    reference = random.Random(42)
    ceilings = [initial] + [min(maximum, initial * 2**n) for n in range(1, count)]
    assert delays == [reference.uniform(0.0, ceiling) for ceiling in ceilings]
    assert all(0.0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    # Full jitter, not "ceiling plus a little": the delays at the cap spread over [0, maximum].
    capped = [d for d, c in zip(delays, ceilings, strict=True) if c == maximum]
    assert min(capped) < 0.25 * maximum and max(capped) > 0.75 * maximum


def test_a_seeded_generator_gives_the_same_delays_and_another_seed_others() -> None:
    def first(seed: int) -> list[float]:
        return list(islice(backoff_delays(0.5, 30.0, random.Random(seed)), 20))

    assert first(7) == first(7)
    assert first(7) != first(8)


def _unused_port() -> int:
    """A loopback port that was free a moment ago (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_connection_to_a_closed_port_keeps_retrying_in_backoff() -> None:
    async def scenario() -> None:
        url = f"ws://127.0.0.1:{_unused_port()}/v5/public/linear"
        connection = BybitConnection(
            "linear-0",
            url,
            ["publicTrade.BTCUSDT"],
            "linear",
            settings=ConnectionSettings(backoff_initial_s=0.05, backoff_max_s=0.3),
            rng=random.Random(3),
        )
        task = asyncio.create_task(connection.run())
        try:
            await wait_until(lambda: connection.stats.reconnects >= 4, 10, "4 reconnects")
            await wait_until(lambda: connection.stats.state == "backoff", 5, "state backoff")
            stats = connection.stats
            assert stats.connects == 0 and stats.frames == 0
            assert stats.last_error.startswith("ConnectionRefusedError"), stats.last_error
            assert not task.done()
        finally:
            await connection.stop()
            task.cancel()  # it may be sleeping out a backoff delay
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(scenario())


def test_each_attempt_waits_out_the_next_delay_of_the_doubling_ceiling() -> None:
    """Through the connection itself: a server that accepts and at once closes (no WebSocket
    handshake) fails every attempt. With a generator whose delays are their ceilings, the
    connection draws them in order (0.1, 0.2, 0.4, then the 0.4 cap), and the gap between two
    accepted attempts is at least the delay drawn in between (a lower bound only: a loaded
    machine may add to it, never take away)."""

    async def scenario() -> tuple[list[tuple[float, float]], list[float]]:
        loop = asyncio.get_running_loop()
        accepted: list[float] = []

        def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(loop.time())
            writer.close()

        server = await asyncio.start_server(refuse, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        rng = CeilingRecorder()
        connection = BybitConnection(
            "linear-0",
            f"ws://127.0.0.1:{port}/v5/public/linear",
            ["publicTrade.BTCUSDT"],
            "linear",
            settings=ConnectionSettings(backoff_initial_s=0.1, backoff_max_s=0.4),
            rng=rng,
        )
        task = asyncio.create_task(connection.run())
        try:
            await wait_until(lambda: len(accepted) >= 6, 30, "6 attempts")
            assert connection.stats.connects == 0 and not task.done()
        finally:
            await connection.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            server.close()
            await server.wait_closed()
        return rng.bounds, accepted

    bounds, accepted = asyncio.run(scenario())
    delays = [high for _, high in bounds]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert all(low == 0.0 for low, _ in bounds)
    gaps = [later - earlier for earlier, later in pairwise(accepted)]
    for gap, delay in zip(gaps[:5], delays, strict=False):
        assert gap >= delay - 0.001, (gaps, delays)  # the loop's clock resolution


def test_a_connection_that_held_for_the_longest_wait_starts_its_backoff_again() -> None:
    """A server that completes the handshake, then drops the connection: at once the first three
    times (the ceiling doubles to the cap, as for a refused connect), then after holding it
    longer than `backoff_max_s`. A connection lost after such a stretch is a new start: the next
    delay is drawn under `backoff_initial_s` again, not under the cap (else a feed that drops
    once a day would wait up to 30 s for every later drop)."""
    from websockets.asyncio.server import ServerConnection, serve

    async def scenario() -> list[tuple[float, float]]:
        served = 0

        async def handler(ws: ServerConnection) -> None:
            nonlocal served
            served += 1
            if served == 4:
                await asyncio.sleep(0.5)  # longer than backoff_max_s
            ws.transport.abort()

        rng = CeilingRecorder()
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            connection = BybitConnection(
                "linear-0",
                f"ws://127.0.0.1:{port}/v5/public/linear",
                ["publicTrade.BTCUSDT"],
                "linear",
                settings=ConnectionSettings(backoff_initial_s=0.05, backoff_max_s=0.3),
                rng=rng,
            )
            task = asyncio.create_task(connection.run())
            try:
                await wait_until(lambda: len(rng.bounds) >= 5, 30, "5 backoff delays")
                assert connection.stats.connects >= 4
            finally:
                await connection.stop()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return rng.bounds

    bounds = asyncio.run(scenario())
    # dropped at once three times: 0.05, 0.1, 0.2; the fourth held 0.5 s: back to 0.05, then 0.1
    assert [high for _, high in bounds[:5]] == [0.05, 0.1, 0.2, 0.05, 0.1]
