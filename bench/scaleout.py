"""`python -m bench.scaleout`: frames/s the engine tier applies at saturation with 1 and with 2
engine processes, fed from NATS JetStream (a real `nats-server` on loopback), and the per-frame
CPU of each tier for the capacity table (docs/scaleout.md).

1. The synthetic market (`generate_frames`, the simulator's model) of `--symbols` for `--seconds`
   of market time is generated once, cut into per-symbol batches of `--batch` frames (what an
   ingest worker publishes) and published by a replay publisher: pre-encoded batches, asynchronous
   publishes with acks. Its CPU per frame is the publish half of an ingest worker.
2. For each engine-tier size K (`--engines 1,2`): K processes, each with its own durable consumer
   on its shard of the symbols (round-robin, `filter_subjects`), start together and drain the whole
   stream into their own `Engine` (decode + apply, as the engine's process does). Reported:
   frames/s = all frames / wall time from the common start to the last process done; each
   process's CPU time per frame; nats-server's CPU per frame while they drain.

The stream is filled before the engines start, so the engines, not the publisher, set the pace
(saturation). On a shared 2-CPU machine K=2 runs two engines plus nats-server on two cores: the
wall-clock speed-up is bounded by the machine, the CPU per frame is not; both are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from collections.abc import Sequence

import msgspec
import psutil

from scalper.engine import Engine
from scalper.scaleout.server import NatsServer
from scalper.scaleout.stream import (
    consumer_config,
    decode_batch,
    encode_batch,
    stream_config,
    subject_of,
)
from scalper.settings import ScaleoutSettings
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.bybit.topics import topic_of_frame
from scalper.venues.simulator.market import MarketConfig, generate_frames

CATEGORY = "linear"


class EngineResult(msgspec.Struct):
    index: int
    frames: int
    start: float
    end: float
    cpu_s: float


def market_batches(
    symbols: int, seconds: float, batch: int, seed: int
) -> tuple[list[tuple[str, bytes]], dict[str, int], int]:
    """(symbol, encoded batch) in time order, frames per symbol, frames in all."""
    pending: dict[str, list[tuple[int, bytes]]] = {}
    out: list[tuple[str, bytes]] = []
    counts: dict[str, int] = {}
    total = 0
    for recv_ns, raw in generate_frames(MarketConfig(symbols=symbols, seconds=seconds, seed=seed)):
        topic = topic_of_frame(raw)
        if not topic:
            continue
        symbol = topic.rsplit(".", 1)[-1]
        frames = pending.setdefault(symbol, [])
        frames.append((recv_ns, raw))
        counts[symbol] = counts.get(symbol, 0) + 1
        total += 1
        if len(frames) >= batch:
            out.append((symbol, encode_batch(frames)))
            pending[symbol] = []
    out.extend((symbol, encode_batch(frames)) for symbol, frames in pending.items() if frames)
    return out, counts, total


async def publish(url: str, settings: ScaleoutSettings, batches: list[tuple[str, bytes]]) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=settings.max_pending_acks)
    await js.add_stream(stream_config(settings, CATEGORY))
    for symbol, payload in batches:
        await js.publish_async(subject_of(settings, CATEGORY, symbol), payload)
    await js.publish_async_completed()
    await nc.close()


def engine_process(
    url: str,
    settings: ScaleoutSettings,
    index: int,
    name: str,
    symbols: list[str],
    expected: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    asyncio.run(_engine(url, settings, index, name, symbols, expected, barrier, results))


async def _engine(
    url: str,
    settings: ScaleoutSettings,
    index: int,
    name: str,
    symbols: list[str],
    expected: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        "",
        durable=name,
        stream=settings.stream,
        config=consumer_config(settings, CATEGORY, name, symbols),
    )
    applier = FrameApplier(Engine())
    await asyncio.to_thread(barrier.wait)
    start = time.perf_counter()
    cpu0 = time.process_time()
    applied = 0
    while applied < expected:
        try:
            messages = await sub.fetch(settings.fetch_batch, timeout=0.5)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for message in messages:
            for recv_ns, raw in decode_batch(message.data):
                applier(raw, recv_ns)
                applied += 1
        if messages:
            await messages[-1].ack()
    results.put(
        msgspec.json.encode(
            EngineResult(index, applied, start, time.perf_counter(), time.process_time() - cpu0)
        )
    )
    await nc.close()


def run_engines(
    url: str,
    settings: ScaleoutSettings,
    k: int,
    counts: dict[str, int],
    server_pid: int,
) -> dict[str, float]:
    symbols = sorted(counts)
    shards = [symbols[i::k] for i in range(k)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(k + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=engine_process,
            args=(
                url,
                settings,
                i,
                f"bench-{k}-{i}",
                shard,
                sum(counts[s] for s in shard),
                barrier,
                results,
            ),
        )
        for i, shard in enumerate(shards)
    ]
    for process in processes:
        process.start()
    server = psutil.Process(server_pid)
    barrier.wait()
    server_cpu0 = sum(server.cpu_times()[:2])
    load0 = os.getloadavg()[0]
    done = [msgspec.json.decode(results.get(timeout=600), type=EngineResult) for _ in processes]
    server_cpu = sum(server.cpu_times()[:2]) - server_cpu0
    for process in processes:
        process.join()
    frames = sum(r.frames for r in done)
    wall = max(r.end for r in done) - min(r.start for r in done)
    cpu = sum(r.cpu_s for r in done)
    return {
        "engines": k,
        "frames": frames,
        "wall_s": wall,
        "frames_per_s": frames / wall,
        "engine_cpu_us_per_frame": cpu * 1e6 / frames,
        "frames_per_engine_cpu_s": frames / cpu,
        "nats_cpu_us_per_frame": server_cpu * 1e6 / frames,
        "load_1m_before": load0,
        "load_1m_after": os.getloadavg()[0],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__)
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0, help="market time generated")
    parser.add_argument("--batch", type=int, default=64, help="frames per published batch")
    parser.add_argument("--engines", default="1,2", help="engine-tier sizes to run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    settings = ScaleoutSettings(max_bytes=8 << 30)
    started = time.process_time()
    batches, counts, total = market_batches(args.symbols, args.seconds, args.batch, args.seed)
    generate_cpu = time.process_time() - started
    size = sum(len(payload) for _, payload in batches)
    rate = total / args.seconds
    print(
        f"market: {args.symbols} symbols, {args.seconds:g} s -> {total} frames "
        f"({rate:,.0f} frames/s at 1x the simulator's rate, {rate / args.symbols:.1f} a symbol), "
        f"{len(batches)} batches, {size / total:.0f} bytes a frame; generated in "
        f"{generate_cpu:.1f} s CPU",
        flush=True,
    )

    async def serve_and_publish() -> None:
        server = NatsServer()
        await server.start()
        try:
            proc = psutil.Process(server._process.pid)  # type: ignore[union-attr]
            cpu0, server0 = time.process_time(), sum(proc.cpu_times()[:2])
            wall0 = time.perf_counter()
            await publish(server.url, settings, batches)
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            server_cpu = sum(proc.cpu_times()[:2]) - server0
            print(
                f"publisher: {total / wall:,.0f} frames/s, {cpu * 1e6 / total:.2f} us CPU a frame "
                f"(publisher), {server_cpu * 1e6 / total:.2f} us (nats-server storing), "
                f"{total * 8 / wall / 1e6 * size / total:,.0f} Mbit/s",
                flush=True,
            )
            rows = []
            for k in (int(part) for part in args.engines.split(",")):
                row = await asyncio.to_thread(
                    run_engines, server.url, settings, k, counts, proc.pid
                )
                rows.append(row)
                print(
                    f"engines={k}: {row['frames_per_s']:,.0f} frames/s applied "
                    f"({row['wall_s']:.2f} s wall), "
                    f"{row['engine_cpu_us_per_frame']:.2f} us engine CPU a frame, "
                    f"{row['nats_cpu_us_per_frame']:.2f} us nats-server CPU a frame, "
                    f"load {row['load_1m_before']:.2f} -> {row['load_1m_after']:.2f}",
                    flush=True,
                )
            if len(rows) >= 2:
                first, last = rows[0], rows[-1]
                print(
                    f"scaling {first['engines']:g} -> {last['engines']:g}: "
                    f"{last['frames_per_s'] / first['frames_per_s']:.2f}x wall-clock frames/s; "
                    f"CPU a frame {first['engine_cpu_us_per_frame']:.2f} -> "
                    f"{last['engine_cpu_us_per_frame']:.2f} us "
                    f"({first['engine_cpu_us_per_frame'] / last['engine_cpu_us_per_frame']:.2f}x "
                    "per-core efficiency)",
                    flush=True,
                )
        finally:
            await server.stop()

    asyncio.run(serve_and_publish())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
