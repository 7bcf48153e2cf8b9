"""The recorder's memory over a long stretch of market time, allocator by allocator.

`python -m bench.recorder_memory --minutes 5 --symbols 100` writes the synthetic market's
frames (the simulator's, ~75 a second per symbol) to a temporary file once, then runs each
variant in a fresh interpreter (so each has its own allocator state and environment): the
frames are read back, decoded, recorded and applied to an engine as the live feed does, with
the recorder's flush every 250 ms and metrics every second of market time, as fast as the
writer thread keeps up, under a 100 MB disk budget (a segment closes at 1/16 of it, as in the
soak; nothing is deleted within 5 minutes of market). Every 10 s of market time it samples
RSS, glibc's arenas and Arrow's pool, and reports RSS after the first `--warmup-minutes`:
first, largest and last, and its Theil-Sen slope (bench/trend.py) in MB per hour of market
time (over a few minutes the sawtooth's phase decides it: compare the levels).

No network and no simulator process: what differs between variants is only how the process
allocates, so a variant's figures are comparable with the others' of the same run. A variant
is an environment (e.g. MALLOC_ARENA_MAX=2) and recorder settings (e.g. Arrow's pool).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from bench.trend import theil_sen

_GLIBC_RULE: Final = {"map_blocks_from_bytes": None}
"""glibc's own mmap threshold (the recorder before issue 14 fixed it)."""
VARIANTS: Final[dict[str, tuple[dict[str, str], dict[str, Any]]]] = {
    "before: glibc's rule, Arrow on system": ({}, _GLIBC_RULE),
    "MALLOC_ARENA_MAX=2": ({"MALLOC_ARENA_MAX": "2"}, _GLIBC_RULE),
    "Arrow on jemalloc": ({}, {**_GLIBC_RULE, "arrow_memory_pool": "jemalloc"}),
    "Arrow on mimalloc": ({}, {**_GLIBC_RULE, "arrow_memory_pool": "mimalloc"}),
    "malloc_trim every 10 s": ({"BENCH_TRIM_HEAP": "1"}, _GLIBC_RULE),
    "now: blocks from 128 KiB mapped (the default)": ({}, {}),
}
"""name -> (environment, RecorderSettings fields) of each variant. BENCH_TRIM_HEAP: the child
calls malloc_trim at every sample."""
SAMPLE_EVERY_S: Final = 10


def write_frames(path: Path, minutes: float, symbols: int) -> int:
    """The market's frames as `recv_ns raw` lines (generating them costs more than recording
    them: once for all variants)."""
    from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

    market = SyntheticMarket(MarketConfig(symbols=symbols, seconds=minutes * 60, seed=1))
    count = 0
    with path.open("wb") as out:
        for recv_ns, raw in market.frames():
            out.write(b"%d %s\n" % (recv_ns, raw))
            count += 1
    return count


def _read_frames(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as lines:
        for line in lines:
            recv, _, raw = line.rstrip(b"\n").partition(b" ")
            yield int(recv), raw


def measure(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Run in the child: record the frames of `path`, sampling as it goes."""
    from scalper.allocators import arrow_pool, glibc_heap, trim_heap
    from scalper.engine import Engine
    from scalper.memory_report import rss_bytes
    from scalper.settings import RecorderSettings
    from scalper.storage.recorder import Recorder
    from scalper.venues.bybit.frame_codec import FRAME_CODEC
    from scalper.venues.bybit.frames import record_frame

    engine = Engine()
    apply = engine.on_event
    now = [0]
    directory = Path(tempfile.mkdtemp(prefix="scalper-bench-recmem-"))
    options = RecorderSettings(max_disk_bytes=100 * 10**6, retention_days=None, **settings)
    recorder = Recorder(directory, options, clock=lambda: now[0], codec=FRAME_CODEC)
    recorder.start()
    engine.subscribe(recorder.on_notification)
    samples: list[dict[str, Any]] = []
    trim = os.environ.get("BENCH_TRIM_HEAP") == "1"
    first = next_flush = next_second = next_sample = 0
    started = time.perf_counter()
    try:
        for recv_ns, raw in _read_frames(path):
            now[0] = recv_ns
            if not first:
                first = next_flush = next_second = next_sample = recv_ns
            if recv_ns >= next_flush:
                recorder.flush()
                next_flush += 250_000_000
                if recorder.refresh_stats().queue_depth > 4:  # keep pace with the writer
                    recorder.drain()
            if recv_ns >= next_second:
                recorder.record_metrics(engine, recv_ns)
                next_second += 1_000_000_000
            if recv_ns >= next_sample:
                if trim:
                    trim_heap()
                heap, pool = glibc_heap(), arrow_pool()
                samples.append(
                    {
                        "t_s": (recv_ns - first) / 1e9,
                        "rss_mb": rss_bytes() / 2**20,
                        "glibc_free_mb": heap.free_bytes / 2**20 if heap else None,
                        "glibc_arenas": heap.arenas if heap else None,
                        "arrow_mb": pool.allocated_bytes / 2**20 if pool else None,
                    }
                )
                next_sample += SAMPLE_EVERY_S * 1_000_000_000
            apply(record_frame(recorder, raw, recv_ns))  # type: ignore[arg-type]
        recorder.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    stats = recorder.stats
    return {
        "samples": samples,
        "frames": stats.frames_recorded,
        "dropped": stats.frames_dropped,
        "segments_deleted": stats.segments_deleted,
        "wall_s": time.perf_counter() - started,
    }


def queued_chunk_mb(symbols: int = 100) -> float:
    """MB a chunk of `chunk_rows` frames holds while it waits in the recorder's queue: the
    frames' payloads (kept alive by the queue: otherwise freed once applied) and the columns
    `record_frame` appends (traced by tracemalloc)."""
    import tracemalloc
    from itertools import islice

    from scalper.settings import RecorderSettings
    from scalper.storage.recorder import Recorder
    from scalper.venues.bybit.frames import record_frame
    from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

    rows = RecorderSettings().chunk_rows
    market = SyntheticMarket(MarketConfig(symbols=symbols, seconds=60, seed=1))
    frames = list(islice(market.frames(), rows, 2 * rows))  # after every symbol's snapshot
    with tempfile.TemporaryDirectory(prefix="scalper-bench-chunk-") as tmp:
        recorder = Recorder(Path(tmp), RecorderSettings(chunk_rows=rows + 1))
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        payloads = [bytes(bytearray(raw)) for _, raw in frames]  # fresh, as received
        for (recv_ns, _), raw in zip(frames, payloads, strict=True):
            record_frame(recorder, raw, recv_ns)
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    return held / 2**20


def summarise(result: dict[str, Any], warmup_minutes: float) -> dict[str, Any]:
    """Slope (Theil-Sen, MB per hour of market time) and largest RSS after warm-up."""
    warm = [s for s in result["samples"] if s["t_s"] >= warmup_minutes * 60]
    slope = theil_sen([s["t_s"] / 3600 for s in warm], [s["rss_mb"] for s in warm])
    free = [s["glibc_free_mb"] for s in warm if s["glibc_free_mb"] is not None]
    return {
        "slope_mb_per_h": slope,
        "rss_first_mb": warm[0]["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in warm),
        "rss_last_mb": warm[-1]["rss_mb"],
        "glibc_free_max_mb": max(free, default=0.0),
        "glibc_arenas": max((s["glibc_arenas"] or 0) for s in warm),
        "arrow_max_mb": max((s["arrow_mb"] or 0.0) for s in warm),
        "frames": result["frames"],
        "dropped": result["dropped"],
        "segments_deleted": result["segments_deleted"],
        "wall_s": result["wall_s"],
    }


def run_variant(name: str, frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    environment, settings = VARIANTS[name]
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.recorder_memory",
            "--measure",
            json.dumps(settings),
            "--frames",
            str(frames),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **environment},
        cwd=Path(__file__).resolve().parents[1],
    )
    if child.returncode != 0:
        return {"error": (child.stderr.strip().splitlines() or ["failed"])[-1]}
    result = json.loads(child.stdout)
    if args.samples is not None:
        args.samples.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() else "_" for c in name)
        (args.samples / f"{safe}.json").write_text(json.dumps(result["samples"]))
    return summarise(result, args.warmup_minutes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recorder_memory")
    parser.add_argument("--minutes", type=float, default=5.0, help="market time per variant")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--warmup-minutes", type=float, default=1.0)
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="default: all")
    parser.add_argument("--samples", type=Path, help="write each variant's samples here (JSON)")
    parser.add_argument("--measure", help="(internal) measure with these recorder settings")
    parser.add_argument("--frames", type=Path, help="(internal) the frames to record")
    parser.add_argument(
        "--queued-chunk",
        action="store_true",
        help="only print the MB of one chunk waiting in the recorder's queue",
    )
    parser.add_argument(
        "--frames-file",
        type=Path,
        help="keep the generated frames here, or reuse them if the file exists (generating "
        "them takes longer than a variant); --minutes and --symbols must match",
    )
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.frames, json.loads(args.measure))))
        return
    if args.queued_chunk:
        print(f"a queued chunk holds {queued_chunk_mb(args.symbols):.2f} MB")
        return
    with tempfile.TemporaryDirectory(prefix="scalper-bench-recmem-") as tmp:
        frames = args.frames_file or Path(tmp) / "market.frames"
        if not frames.exists():
            write_frames(frames, args.minutes, args.symbols)
        print(f"{args.symbols} symbols x {args.minutes:g} min of market time ({frames})\n")
        _table(frames, args)


def _table(frames: Path, args: argparse.Namespace) -> None:
    print(
        "| variant | RSS MB/h (Theil-Sen) | RSS first / max / last MB | glibc free max MB "
        "| arenas | Arrow max MB | deleted | wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.variant or list(VARIANTS):
        row = run_variant(name, frames, args)
        if "error" in row:
            print(f"| {name} | {row['error']} |")
            continue
        print(
            f"| {name} | {row['slope_mb_per_h']:+.1f} | {row['rss_first_mb']:.0f} / "
            f"{row['rss_max_mb']:.0f} / {row['rss_last_mb']:.0f} | "
            f"{row['glibc_free_max_mb']:.0f} | {row['glibc_arenas']} | "
            f"{row['arrow_max_mb']:.0f} | {row['segments_deleted']} | {row['wall_s']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
