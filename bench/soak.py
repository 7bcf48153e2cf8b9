"""`make soak ARGS="--duration 20m"`: the whole system for a long time, sampled, judged, plotted.

Runs the real processes: `scalper simulate` (N symbols at `--rate`, faults switched on) and
`scalper run` against it (engine + API + recorder with a disk budget, logging to a rotating
file). A client polls the API every second and holds a `/ws` subscription. Every
`--sample-every` seconds a row goes to `samples.csv`: the engine process's RSS, CPU and open
files, the recorder's queue depth and dropped frames, the worst receive lag, books in sync,
reconnects, gaps and resyncs, disk use of the data dir and log sizes. At the end `soak.png`
plots them and the verdicts are printed:

- RSS grows less than 5 % from the first to the last minute after warm-up;
- lag stays bounded: the worst lag after warm-up under `--max-lag-ms`, and the last quarter's
  median lag at most twice the second quarter's (no trend);
- the data dir stays under its budget, and the log files under their cap;
- every fault healed: faults happened (gaps, reconnects), no book stayed out of sync longer
  than `--heal-within` seconds, and at the end every book is in sync with every connection open.

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
from typing import Any, Final

import httpx
import psutil
import websockets

from scalper.storage.budget import disk_usage
from scalper.units import parse_duration_ns, parse_size

DEFAULT_FAULTS: Final = (
    "gap_per_frame=0.00002,drop_per_s=0.002,stall_per_s=0.001,reset_per_frame=0.000005,"
    "malformed_per_frame=0.00002,truncated_per_frame=0.00002"
)
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
)


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


def verdicts(
    samples: list[dict[str, float]], args: argparse.Namespace, symbols: int
) -> list[tuple[str, bool, str]]:
    """(what, passed, figures) for each criterion."""
    warm = [s for s in samples if s["t_s"] >= args.warmup]
    if len(warm) < 4:
        return [("enough samples after warm-up", False, f"{len(warm)} samples")]
    minute = max(1, int(60 / args.sample_every))
    first = median(s["rss_mb"] for s in warm[:minute])
    last = median(s["rss_mb"] for s in warm[-minute:])
    growth = (last - first) / first
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
        (
            "RSS growth after warm-up < 5 %",
            growth < 0.05,
            f"{first:.1f} -> {last:.1f} MB ({growth:+.1%})",
        ),
        (
            "worst lag after warm-up bounded",
            worst_lag < args.max_lag_ms,
            f"{worst_lag:.0f} ms (limit {args.max_lag_ms:.0f})",
        ),
        (
            "no lag trend (last quarter <= 2x second)",
            last_q <= 2 * max(second_q, 1.0),
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


def plot(samples: list[dict[str, float]], path: Path, title: str) -> None:
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
    ]
    figure, axes = plt.subplots(4, 2, figsize=(14, 12), sharex=True)
    for axis, (label, keys) in zip(axes.flat, panels, strict=True):
        for key in keys:
            axis.plot(t, [s[key] for s in samples], label=key)
        axis.set_title(label)
        axis.grid(alpha=0.3)
        if len(keys) > 1:
            axis.legend(fontsize=8)
    for axis in axes[-1]:
        axis.set_xlabel("minutes")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


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
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    samples = asyncio.run(_run(args, args.out))
    if not samples:
        print("soak: no samples")
        return 1
    title = (
        f"soak: {args.symbols} symbols x {args.rate:g} rate, {args.duration}, faults {args.faults}"
    )
    plot(samples, args.out / "soak.png", title[:150])
    results = verdicts(samples, args, args.symbols)
    print(f"\nsamples: {args.out / 'samples.csv'}  plot: {args.out / 'soak.png'}")
    for what, passed, figures in results:
        print(f"{'PASS' if passed else 'FAIL'}  {what}: {figures}")
    return 0 if all(passed for _, passed, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
