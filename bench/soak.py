"""`make soak ARGS="--duration 20m"`: the whole system for a long time, sampled, judged, plotted.

Runs the real processes: `scalper simulate` (N symbols at `--rate`, faults switched on) and
`scalper run` against it (engine + API + recorder with a disk budget, logging to a rotating
file). A client polls the API every second and holds a `/ws` subscription. Every
`--sample-every` seconds a row goes to `samples.csv`: the engine process's RSS, CPU and open
files, the recorder's queue depth and dropped frames, the worst receive lag, books in sync,
reconnects, gaps and resyncs, disk use of the data dir and log sizes. At the end `soak.png`
plots them and the verdicts are printed:

- memory: the RSS trend after warm-up, a Theil-Sen slope (bench/trend.py) in MB per hour,
  stays under `--max-rss-slope-pct` (1 %) of the median RSS per hour, and every RSS sample
  after warm-up under the ceiling (`--max-rss-mb`, default `rss_ceiling_mb`: the interpreter,
  each symbol's state and the working memory, as measured in the README's "Memory") plus
  `QUEUED_CHUNK_MB` for each chunk then waiting in the recorder's queue;
- lag stays bounded: the worst lag after warm-up under `--max-lag-ms`, and the last quarter's
  median lag at most twice the second quarter's (no trend);
- the data dir stays under its budget, and the log files under their cap;
- every fault healed: faults happened (gaps, reconnects), no book stayed out of sync longer
  than `--heal-within` seconds, and at the end every book is in sync with every connection open.

With `--memory-report-every S` (60 by default) `scalper run` also writes a memory report every S
seconds to `memory.jsonl` (glibc's arenas, Arrow's pool, the recorder's buffers; Python's
allocation sites with `--tracemalloc`), drawn in the plot's "memory owners" panel.
`--judge DIR` judges and plots the samples of an earlier run again (e.g. with other limits).

Exit status 0 when every verdict passes, 1 otherwise. Output goes to `artifacts/soak/`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any, Final, NamedTuple

import httpx
import psutil
import websockets

from bench.trend import theil_sen
from scalper.settings import FootprintSettings
from scalper.storage.budget import disk_usage
from scalper.units import parse_duration_ns, parse_size

DEFAULT_FAULTS: Final = (
    "gap_per_frame=0.00002,drop_per_s=0.002,stall_per_s=0.001,reset_per_frame=0.000005,"
    "malformed_per_frame=0.00002,truncated_per_frame=0.00002"
)
BASE_MB: Final = 130.0
"""`scalper run` with everything it imports, before the first frame (its first memory report)."""
PER_SYMBOL_MB: Final = 0.07
"""The engine's state of one symbol, every ring allocated (`python -m bench.memory`)."""
FOOTPRINT_PER_SYMBOL_MB: Final = (
    FootprintSettings().candles * (FootprintSettings().max_levels * 16 + 300)
    + FootprintSettings().session_levels * 16
) / 1e6
"""The footprints of one symbol at their ceiling: `footprint.candles` candles, each spanning
at most `footprint.max_levels` levels of 16 bytes, plus the candle object (about 300 bytes;
reached once `footprint.candles` candles are kept, 30 minutes by default), and the session
volume profile (`footprint.session_levels` levels of 16 bytes)."""
WORKING_MB: Final = 200.0
"""Everything else `scalper run` holds once running: the recorder's buffers (a raw row group
of 65,536 frames, the metrics of a 15-minute segment), Arrow's work on a row group, the
arenas of glibc and of Python's allocator, library code paged in, the feed's, API's and
clients' buffers. Measured, not derived: the largest RSS after warm-up of the 1-hour soak in
the README ("Memory") less the other two terms, rounded up."""
LAG_NOISE_MS: Final = 25.0
"""Lag medians below this are the noise of a shared machine (scheduling, GC pauses), not a
trend: the lag-trend verdict compares the last quarter with twice the larger of the second
quarter's median and this."""
QUEUED_CHUNK_MB: Final = 2.2
"""A chunk waiting in the recorder's queue (4,096 of the simulator's frames: their payloads,
kept alive by the queue, and their columns: `python -m bench.recorder_memory --queued-chunk`
gives 2.23). The queue fills only while the writer is behind, up to `recorder.queue_chunks`
(256), so the ceiling of a sample grows by this much for each chunk queued when it was
taken."""
LOG_CAP_BYTES: Final = 4 * 10 * 2**20
"""The rotating log handler keeps at most 4 files of 10 MB (scalper.logs)."""
COLUMNS: Final = (
    "t_s",
    "rss_mb",
    "cpu_pct",
    "open_files",
    "frames",
    "frames_per_s",
    "books_in_sync",
    "connections_open",
    "max_lag_ms",
    "queue_depth",
    "frames_dropped",
    "reconnects",
    "gaps",
    "resyncs",
    "disk_mb",
    "log_mb",
    "ws_messages",
    "api_errors",
    "recorder_buffered_mb",
)


def _diagnostics(args: argparse.Namespace, out: Path) -> list[str]:
    """`scalper run`'s memory reports into the soak's artifacts (diagnostics.* settings)."""
    if args.memory_report_every <= 0:
        return []
    options = [
        "--set",
        f"diagnostics.memory_report_file={out / 'memory.jsonl'}",
        "--set",
        f"diagnostics.memory_report_every_s={args.memory_report_every:g}",
    ]
    if args.tracemalloc:
        options += ["--set", "diagnostics.tracemalloc=true"]
    return options


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scalper.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


class Client:
    """Polls the API every second and holds a /ws subscription, as a dashboard would."""

    def __init__(self, base_url: str, symbols: list[str]) -> None:
        self.base_url = base_url
        self.symbols = symbols
        self.health: dict[str, Any] = {}
        self.ws_messages = 0
        self.api_errors = 0

    async def poll(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as http:
            while True:
                try:
                    await http.get("/api/symbols", params={"sort": "-imbalance", "limit": 50})
                    if self.symbols:
                        await http.get(f"/api/symbol/{self.symbols[0]}/profile")
                    self.health = (await http.get("/api/monitor/health")).json()
                except (httpx.HTTPError, ValueError):
                    self.api_errors += 1
                await asyncio.sleep(1.0)

    async def hold_websocket(self) -> None:
        url = self.base_url.replace("http", "ws", 1) + "/ws"
        while True:
            try:
                async with websockets.connect(url, max_size=2**24) as ws:
                    await ws.send(json.dumps({"op": "subscribe", "symbols": self.symbols[:10]}))
                    async for _ in ws:
                        self.ws_messages += 1
            except (OSError, websockets.WebSocketException):
                self.api_errors += 1
                await asyncio.sleep(1.0)


def _sample(
    started: float, engine: psutil.Process, client: Client, data_dir: Path, log_dir: Path
) -> dict[str, float]:
    health = client.health
    connections = health.get("connections", [])
    recorder = (health.get("data_dir") or {}).get("recorder") or {}
    lags = [c["max_lag_ms"] for c in connections if c.get("lag_ms") is not None]
    current = [c["lag_ms"] for c in connections if c.get("lag_ms") is not None]
    with engine.oneshot():
        rss = engine.memory_info().rss
        cpu = engine.cpu_percent()
        fds = engine.num_fds()
    return {
        "t_s": round(time.monotonic() - started, 1),
        "rss_mb": round(rss / 2**20, 1),
        "cpu_pct": cpu,
        "open_files": fds,
        "frames": health.get("frames", 0),
        "frames_per_s": 0.0,
        "books_in_sync": health.get("books_in_sync", 0),
        "connections_open": sum(c.get("state") == "open" for c in connections),
        "max_lag_ms": round(max(current, default=0.0), 1),
        "queue_depth": recorder.get("queue_depth", 0),
        "frames_dropped": recorder.get("frames_dropped", 0),
        "reconnects": sum(c.get("reconnects", 0) for c in connections),
        "gaps": sum(c.get("gaps", 0) for c in connections),
        "resyncs": sum(c.get("resyncs_sent", 0) for c in connections),
        "disk_mb": round(disk_usage(data_dir, None).bytes_used / 2**20, 2),
        "log_mb": round(disk_usage(log_dir, None).bytes_used / 2**20, 2),
        "recorder_buffered_mb": round(recorder.get("buffered_bytes", 0) / 2**20, 2),
        "ws_messages": client.ws_messages,
        "api_errors": client.api_errors,
        "_worst_lag_ms": max(lags, default=0.0),
    }


async def _run(args: argparse.Namespace, out: Path) -> list[dict[str, float]]:
    sim_port, api_port = _free_port(), _free_port()
    data_dir, log_dir = out / "data", out / "logs"
    log_dir.mkdir(parents=True)
    simulator = _cli(
        [
            "simulate",
            "--port",
            str(sim_port),
            "--symbols",
            str(args.symbols),
            "--rate",
            str(args.rate),
            "--faults",
            args.faults,
            "--log-file",
            str(log_dir / "simulator.log"),
        ],
        out / "simulator.out",
    )
    engine_process: subprocess.Popen[bytes] | None = None
    samples: list[dict[str, float]] = []
    try:
        await _wait_http(f"http://127.0.0.1:{sim_port}/v5/market/tickers?category=linear", 60)
        if simulator.poll() is not None:
            raise SystemExit(f"soak: the simulator exited: {(out / 'simulator.out').read_text()}")
        engine_process = _cli(
            [
                "run",
                "--rest-url",
                f"http://127.0.0.1:{sim_port}",
                "--ws-url",
                f"ws://127.0.0.1:{sim_port}/v5/public/linear",
                "--top",
                str(args.symbols),
                "--port",
                str(api_port),
                "--data-dir",
                str(data_dir),
                "--max-disk",
                args.max_disk,
                "--log-file",
                str(log_dir / "engine.log"),
                *_diagnostics(args, out),
                *(part for assignment in args.set for part in ("--set", assignment)),
            ],
            out / "engine.out",
        )
        base_url = f"http://127.0.0.1:{api_port}"
        await _wait_http(f"{base_url}/api/symbols", 60)
        async with httpx.AsyncClient(base_url=base_url) as http:
            rows = (await http.get("/api/symbols")).json()["symbols"]
        client = Client(base_url, sorted(row["symbol"] for row in rows))
        tasks = [asyncio.create_task(client.poll()), asyncio.create_task(client.hold_websocket())]
        engine = psutil.Process(engine_process.pid)
        engine.cpu_percent()
        started = time.monotonic()
        duration = parse_duration_ns(args.duration) / 1e9
        with (out / "samples.csv").open("w", newline="") as file:
            writer = csv.DictWriter(file, COLUMNS, extrasaction="ignore")
            writer.writeheader()
            while time.monotonic() - started < duration:
                await asyncio.sleep(args.sample_every)
                for name, process in (("simulator", simulator), ("engine", engine_process)):
                    if process.poll() is not None:
                        raise SystemExit(
                            f"soak: the {name} exited ({process.returncode}); see {out}"
                        )
                row = _sample(started, engine, client, data_dir, log_dir)
                if samples:
                    elapsed = row["t_s"] - samples[-1]["t_s"]
                    row["frames_per_s"] = round((row["frames"] - samples[-1]["frames"]) / elapsed)
                samples.append(row)
                writer.writerow(row)
                file.flush()
                print(_progress_line(row), flush=True)
        for task in tasks:
            task.cancel()
    finally:
        for process in (engine_process, simulator):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return samples


def _progress_line(row: dict[str, float]) -> str:
    return (
        f"{row['t_s']:7.0f}s rss {row['rss_mb']:7.1f} MB  lag {row['max_lag_ms']:8.1f} ms"
        f"  {row['frames_per_s']:7.0f} frames/s  in sync {row['books_in_sync']:4.0f}"
        f"  queue {row['queue_depth']:3.0f}  disk {row['disk_mb']:8.1f} MB"
    )


async def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.5)
    raise SystemExit(f"soak: {url} did not answer within {timeout:.0f} s")


def memory_trend(samples: list[dict[str, float]], warmup_s: float) -> MemoryTrend | None:
    """The RSS trend after warm-up: Theil-Sen slope in MB per hour, the median and the largest
    RSS (None with fewer than 4 samples)."""
    warm = [s for s in samples if s["t_s"] >= warmup_s]
    if len(warm) < 4:
        return None
    rss = [s["rss_mb"] for s in warm]
    slope = theil_sen([s["t_s"] / 3600 for s in warm], rss)
    return MemoryTrend(slope, median(rss), max(rss), len(warm))


class MemoryTrend(NamedTuple):
    slope_mb_per_h: float
    median_mb: float
    max_mb: float
    samples: int


def rss_ceiling_mb(symbols: int) -> float:
    """The most `scalper run` may hold in the soak: the interpreter with everything imported,
    each symbol's state and footprints, and the working memory (docs/performance.md,
    "Memory": each term measured)."""
    return BASE_MB + (PER_SYMBOL_MB + FOOTPRINT_PER_SYMBOL_MB) * symbols + WORKING_MB


def memory_verdicts(
    samples: list[dict[str, float]], args: argparse.Namespace
) -> list[tuple[str, bool, str]]:
    """The trend (robust to the sawtooth of buffers filling and being written) and the ceiling:
    every sample after warm-up under the ceiling plus the chunks then queued."""
    trend = memory_trend(samples, args.warmup)
    if trend is None:
        return [("enough samples after warm-up", False, "fewer than 4")]
    limit = args.max_rss_slope_pct / 100 * trend.median_mb
    ceiling = args.max_rss_mb or rss_ceiling_mb(args.symbols)
    warm = [s for s in samples if s["t_s"] >= args.warmup]
    worst = max(warm, key=lambda s: s["rss_mb"] - QUEUED_CHUNK_MB * s.get("queue_depth", 0.0))
    allowed = ceiling + QUEUED_CHUNK_MB * worst.get("queue_depth", 0.0)
    return [
        (
            f"RSS trend after warm-up < {args.max_rss_slope_pct:g} % of RSS per hour",
            trend.slope_mb_per_h < limit,
            f"Theil-Sen {trend.slope_mb_per_h:+.2f} MB/h over {trend.samples} samples "
            f"(limit {limit:.2f} MB/h: {args.max_rss_slope_pct:g} % of the median "
            f"{trend.median_mb:.1f} MB)",
        ),
        (
            "RSS after warm-up under the ceiling",
            worst["rss_mb"] <= allowed,
            f"max {trend.max_mb:.1f} MB; closest to the ceiling {worst['rss_mb']:.1f} MB at "
            f"{worst['t_s'] / 60:.0f} min (ceiling {ceiling:.0f} MB + {QUEUED_CHUNK_MB:g} MB x "
            f"{worst.get('queue_depth', 0.0):.0f} chunks queued = {allowed:.0f} MB)",
        ),
    ]


def verdicts(
    samples: list[dict[str, float]], args: argparse.Namespace, symbols: int
) -> list[tuple[str, bool, str]]:
    """(what, passed, figures) for each criterion."""
    warm = [s for s in samples if s["t_s"] >= args.warmup]
    if len(warm) < 4:
        return [("enough samples after warm-up", False, f"{len(warm)} samples")]
    worst_lag = max(s["_worst_lag_ms"] for s in warm)
    quarter = max(1, len(warm) // 4)
    second_q = median(s["max_lag_ms"] for s in warm[quarter : 2 * quarter]) or 0.0
    last_q = median(s["max_lag_ms"] for s in warm[-quarter:]) or 0.0
    budget_mb = parse_size(args.max_disk) / 2**20
    disk = max(s["disk_mb"] for s in samples)
    logs = max(s["log_mb"] for s in samples)
    longest = run = 0
    for sample in warm:
        run = run + 1 if sample["books_in_sync"] < symbols else 0
        longest = max(longest, run)
    stuck_s = longest * args.sample_every
    end = samples[-max(1, int(30 / args.sample_every)) :]
    healed_at_end = any(s["books_in_sync"] == symbols and s["connections_open"] >= 1 for s in end)
    last_row = samples[-1]
    faults = last_row["gaps"] + last_row["reconnects"]
    fault_counts = (
        f"{last_row['gaps']:.0f} gaps, {last_row['reconnects']:.0f} reconnects, "
        f"{last_row['resyncs']:.0f} resyncs"
    )
    return [
        *memory_verdicts(samples, args),
        (
            "worst lag after warm-up bounded",
            worst_lag < args.max_lag_ms,
            f"{worst_lag:.0f} ms (limit {args.max_lag_ms:.0f})",
        ),
        (
            "no lag trend (last quarter <= 2x second)",
            last_q <= 2 * max(second_q, LAG_NOISE_MS),
            f"median {second_q:.0f} -> {last_q:.0f} ms",
        ),
        ("disk under budget", disk <= budget_mb, f"max {disk:.1f} MB of {budget_mb:.0f} MB"),
        ("logs under their cap", logs * 2**20 <= LOG_CAP_BYTES, f"max {logs:.1f} MB"),
        ("faults happened", faults > 0, fault_counts),
        (
            f"no book out of sync > {args.heal_within:.0f} s",
            stuck_s <= args.heal_within,
            f"longest {stuck_s:.0f} s",
        ),
        (
            "all books in sync at the end",
            healed_at_end,
            f"{last_row['books_in_sync']:.0f}/{symbols}",
        ),
        (
            "no frames dropped by the recorder",
            last_row["frames_dropped"] == 0,
            f"{last_row['frames_dropped']:.0f}",
        ),
    ]


def _memory_reports(path: Path) -> list[dict[str, Any]]:
    """The lines of `scalper run`'s memory.jsonl (none if it wrote none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _plot_memory_owners(axis: Any, reports: list[dict[str, Any]]) -> None:
    if not reports:
        axis.set_visible(False)
        return
    t = [r["uptime_s"] / 60 for r in reports]
    series = {
        "glibc in use": [(r["glibc"] or {}).get("in_use_bytes", 0) for r in reports],
        "glibc free (kept)": [(r["glibc"] or {}).get("free_bytes", 0) for r in reports],
        "glibc mapped": [(r["glibc"] or {}).get("mmapped_bytes", 0) for r in reports],
        "Arrow pool": [(r["arrow"] or {}).get("allocated_bytes", 0) for r in reports],
        "recorder buffers": [
            sum((r.get("recorder_buffered_bytes") or {}).values()) for r in reports
        ],
    }
    for label, values in series.items():
        axis.plot(t, [v / 2**20 for v in values], label=label)
    axis.set_title("memory owners MB (scalper run's memory reports)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)


def plot(
    samples: list[dict[str, float]],
    path: Path,
    title: str,
    warmup_s: float,
    reports: list[dict[str, Any]],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_s"] / 60 for s in samples]
    panels = [
        ("RSS MB", ["rss_mb"]),
        ("lag ms", ["max_lag_ms"]),
        ("frames/s", ["frames_per_s"]),
        ("books in sync", ["books_in_sync"]),
        ("recorder", ["queue_depth", "frames_dropped"]),
        ("disk / logs MB", ["disk_mb", "log_mb"]),
        ("open files", ["open_files"]),
        ("faults healed", ["gaps", "reconnects", "resyncs"]),
        ("CPU % (scalper run)", ["cpu_pct"]),
    ]
    figure, axes = plt.subplots(5, 2, figsize=(14, 15), sharex=True)
    for axis, (label, keys) in zip(axes.flat, panels, strict=False):
        for key in keys:
            axis.plot(t, [s.get(key, 0.0) for s in samples], label=key)
        axis.set_title(label)
        axis.grid(alpha=0.3)
        if len(keys) > 1:
            axis.legend(fontsize=8)
    trend = memory_trend(samples, warmup_s)
    if trend is not None:
        rss_axis = axes.flat[0]
        warm = [s for s in samples if s["t_s"] >= warmup_s]
        middle = median(s["t_s"] for s in warm)
        ends = (warm[0]["t_s"], warm[-1]["t_s"])
        rss_axis.plot(
            [x / 60 for x in ends],
            [trend.median_mb + trend.slope_mb_per_h * (x - middle) / 3600 for x in ends],
            color="red",
            label=f"Theil-Sen {trend.slope_mb_per_h:+.2f} MB/h",
        )
        rss_axis.axvline(warmup_s / 60, color="grey", linestyle=":", label="end of warm-up")
        rss_axis.legend(fontsize=8)
    _plot_memory_owners(axes.flat[-1], reports)
    for axis in axes[-1]:
        axis.set_xlabel("minutes")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def memory_report_table(reports: list[dict[str, Any]], every_s: float = 600.0) -> list[str]:
    """Markdown rows of the memory reports nearest to every `every_s` of uptime (and the last):
    RSS, glibc's largest arena other than the main one (the writer thread's), glibc's free and
    in-use bytes, Arrow's pool now and at most, the recorder's buffers, Python's traced bytes."""
    if not reports:
        return []
    marks = [every_s * k for k in range(int(reports[-1]["uptime_s"] // every_s) + 1)]
    chosen = sorted(
        {min(range(len(reports)), key=lambda i: abs(reports[i]["uptime_s"] - m)) for m in marks}
        | {len(reports) - 1}
    )
    rows = [
        "| uptime min | RSS | writer arena | glibc free | glibc in use | Arrow now / max "
        "| recorder buffers | Python traced |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for report in (reports[i] for i in chosen):
        glibc = report.get("glibc") or {}
        arrow = report.get("arrow") or {}
        traced = (report.get("tracemalloc") or {}).get("traced_bytes")
        others = glibc.get("arena_sizes", [0])[1:]
        mb = [
            report["rss_bytes"],
            max(others, default=0),
            glibc.get("free_bytes", 0),
            glibc.get("in_use_bytes", 0),
        ]
        buffers = sum((report.get("recorder_buffered_bytes") or {}).values())
        rows.append(
            f"| {report['uptime_s'] / 60:.0f} | "
            + " | ".join(f"{v / 2**20:.0f}" for v in mb)
            + f" | {arrow.get('allocated_bytes', 0) / 2**20:.0f} / "
            f"{arrow.get('max_bytes', 0) / 2**20:.0f} | {buffers / 2**20:.0f} | "
            + ("-" if traced is None else f"{traced / 2**20:.0f}")
            + " |"
        )
    return rows


def _read_samples(path: Path) -> list[dict[str, float]]:
    """samples.csv of an earlier run, as numbers (its worst-lag column is the sampled lag)."""
    with path.open(newline="") as file:
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]
    for row in rows:
        row["_worst_lag_ms"] = row["max_lag_ms"]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", default="20m", help="e.g. 90s, 20m, 2h")
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1.0, help="simulator event-rate multiplier")
    parser.add_argument("--faults", default=DEFAULT_FAULTS)
    parser.add_argument("--max-disk", default="2GB", help="the recorder's budget")
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds not judged")
    parser.add_argument("--max-lag-ms", type=float, default=5000.0)
    parser.add_argument("--heal-within", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("artifacts/soak"))
    parser.add_argument(
        "--max-rss-slope-pct",
        type=float,
        default=1.0,
        help="the RSS trend's limit, in %% of the median RSS per hour",
    )
    parser.add_argument(
        "--max-rss-mb", type=float, help="RSS ceiling after warm-up (default: rss_ceiling_mb)"
    )
    parser.add_argument(
        "--judge",
        type=Path,
        metavar="DIR",
        help="judge and plot DIR/samples.csv of an earlier run (the run's other flags too)",
    )
    parser.add_argument(
        "--memory-report-every",
        type=float,
        default=60.0,
        metavar="S",
        help="scalper run writes a memory report (RSS, glibc arenas, Arrow's pool, recorder "
        "buffers) to OUT/memory.jsonl this often; 0: none",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="memory reports include Python's allocation sites (slows the engine)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of scalper run, e.g. engine.candle_history=5m (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.judge is not None:
        args.out = args.judge
        samples = _read_samples(args.judge / "samples.csv")
    else:
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        samples = asyncio.run(_run(args, args.out))
    if not samples:
        print("soak: no samples")
        return 1
    minutes = samples[-1]["t_s"] / 60
    title = (
        f"soak: {args.symbols} symbols x {args.rate:g} rate, {minutes:.0f} min, "
        f"budget {args.max_disk}, faults {args.faults}"
    )
    reports = _memory_reports(args.out / "memory.jsonl")
    plot(samples, args.out / "soak.png", title[:150], args.warmup, reports)
    results = verdicts(samples, args, args.symbols)
    print(f"\nsamples: {args.out / 'samples.csv'}  plot: {args.out / 'soak.png'}")
    if reports:
        print("memory reports (MB):", *memory_report_table(reports), sep="\n")
    for what, passed, figures in results:
        print(f"{'PASS' if passed else 'FAIL'}  {what}: {figures}")
    return 0 if all(passed for _, passed, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
