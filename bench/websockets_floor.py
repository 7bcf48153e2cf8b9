"""What the websockets library alone costs per frame: the floor under the live path's CPU.

    .venv/bin/python -m bench.websockets_floor [--frames 100000 --size 904 --rounds 3]

A websockets server and a client in one process and one event loop, on loopback, opened as the
live feed opens its connections (`compression=None`, no protocol ping, a 4096-frame queue).
The server sends `--frames` text frames of `--size` bytes (904: about a Bybit `orderbook.50`
delta of the synthetic market), as fast as the socket takes them; the client receives each as
bytes (`recv(decode=False)`, as `BybitConnection` does) and does nothing else with it. CPU
time is the process's (`time.process_time`, both ends together) from the first send to the
last receive; each round is a fresh pair of connections, and the best round counts.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve


async def one_round(frames: int, size: int) -> tuple[float, float]:
    """CPU and wall seconds to send and receive `frames` frames of `size` bytes."""
    payload = '{"topic":"orderbook.50.SYM000USDT","data":"' + "x" * max(0, size - 46) + '"}'
    payload = payload[:size]
    done = asyncio.Event()

    async def send_all(ws: ServerConnection) -> None:
        for _ in range(frames):
            await ws.send(payload)
        await done.wait()

    async with serve(send_all, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(
            f"ws://127.0.0.1:{port}",
            compression=None,
            ping_interval=None,
            max_queue=4096,
            proxy=None,
        ) as ws:
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(frames):
                await ws.recv(decode=False)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            done.set()
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.websockets_floor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=904, help="bytes per frame")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rounds = [asyncio.run(one_round(args.frames, args.size)) for _ in range(args.rounds)]
    for i, (cpu, wall) in enumerate(rounds, 1):
        print(
            f"round {i}: {cpu / args.frames * 1e6:.1f} µs of CPU per frame (both ends), "
            f"{args.frames / wall:,.0f} frames/s wall"
        )
    best = min(cpu for cpu, _ in rounds)
    print(
        f"websockets alone, {args.size}-byte frames, best of {args.rounds}: "
        f"{best / args.frames * 1e6:.1f} µs of CPU per frame for both ends together"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
