"""Replaying a data dir: the JSON frame path against the columnar path, on one recording, same run.

`python -m bench.replay` (and a section of `make bench`): the first `--frames` frames of the
bench's synthetic market (300 symbols x 60 s, seed 1) are recorded with the default recorder
settings (book and trade frames split into columns), then replayed through a fresh engine by both
paths of `scalper.replay.replay_recording`:

- `json`: every row joined back to its frame bytes and decoded (`--decode json`), as before;
- `columns`: book frames applied from their level columns, trade batches built from their
  columns, the rest decoded (the default);
- `backtest json` and `backtest columns`: what `scalper backtest` runs (the engine with the
  signals and the paper trader: reference strategy, entries allowed while regimes warm up, as
  in the demo) by each path (`--decode`); the trader sees every book update either way.

Each pass runs in its own forked child, the two paths alternating for `--rounds` rounds; each
path's best round counts (the machine is shared). Frames/s are given by the wall clock and by
the child's CPU time (what one core did, whatever else ran on the machine). Every pass ends
with a digest of the engine's full view (every book level, candles, flows, tickers, counters):
the paths must agree.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Final

import msgspec
from rich.console import Console
from rich.table import Table

from bench.isolation import run_forked
from scalper.backtest.runner import (
    build_trader,
    recorded_instruments,
    run_backtest,
    write_run_context,
)
from scalper.engine import Engine
from scalper.events import Instrument
from scalper.replay import replay_recording
from scalper.settings import EngineSettings, RecorderSettings, Settings
from scalper.settings_sources import load_settings
from scalper.storage.reader import recorded_span
from scalper.storage.recorder import Recorder
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.frames import FrameApplier, record_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket
from scalper.views import engine_view

COLUMNS_TARGET_FPS: Final = 300_000
"""Issue 20: replay alone, per core, on the bench's 300-symbol recording."""
BACKTEST_TARGET_FPS: Final = 150_000
"""Issue 20: with signals, strategy and broker."""
PATHS: Final[dict[str, str]] = {
    "json": "every frame joined back and decoded (--decode json)",
    "columns": "book and trade frames from their columns, the rest decoded (default)",
    "backtest json": "json + signals + paper trader (scalper backtest --decode json)",
    "backtest columns": "columns + signals + paper trader (scalper backtest, default)",
}
DEMO_LIKE_TRADING: Final[dict[str, object]] = {
    "trading.strategy.allowed_volatility": ["warming_up", "low", "normal", "high"],
    "trading.strategy.allowed_volume": ["warming_up", "quiet", "normal", "active", "surge"],
}


def record(frames: Iterator[tuple[int, bytes]], directory: Path) -> int:
    """Record frames as the live feed does, with the default settings; returns the count."""
    recorder = Recorder(
        directory, RecorderSettings(retention_days=None), source="bench", codec=FRAME_CODEC
    )
    recorder.start()
    count = 0
    for recv_ns, raw in frames:
        record_frame(recorder, raw, recv_ns)
        count += 1
    recorder.stop()
    return count


def record_isolated(frames: Iterator[tuple[int, bytes]], directory: Path) -> int:
    """`record` in a forked child. The passes fork from this process: had it recorded, they
    would inherit the heap the recording freed (hundreds of MB, scattered) and reuse it
    copy-on-write, a page fault and a copy per page touched (about a fifth of a columnar pass's CPU,
    in the kernel), which no replay run on its own pays."""
    result = run_forked(lambda: {"count": record(frames, directory)})
    if "error" in result:
        raise RuntimeError(f"recording failed: {result['error']}")
    return int(result["count"])


def state_digest(engine: Engine) -> str:
    """A digest of everything the engine's view holds, with every book level."""
    view = msgspec.json.encode(engine_view(engine, levels=1_000_000))
    return hashlib.sha256(view).hexdigest()[:16]


def replay_once(directory: Path, decode: str) -> dict[str, Any]:
    """One replay of the data dir through a fresh engine (run in a forked child)."""
    if decode.startswith("backtest "):
        settings = load_settings(env={}, command_defaults=DEMO_LIKE_TRADING).settings
        trader = build_trader(settings, recorded_instruments(directory))
        engine = trader.engine
        cpu = time.process_time()
        started = time.perf_counter()
        run, rows_of = run_backtest(trader, directory, decode=decode.split()[1])  # type: ignore[arg-type]
        rows = run.rows
        fills = len(rows_of.fills)
    else:
        engine = Engine(EngineSettings())
        cpu = time.process_time()
        started = time.perf_counter()
        rows = replay_recording(FrameApplier(engine), directory, decode=decode)  # type: ignore[arg-type]
        fills = None
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    digest = state_digest(engine)
    return {"rows": rows, "wall_s": wall_s, "cpu_s": cpu_s, "digest": digest, "fills": fills}


def measure_dir(directory: Path, rounds: int, console: Console | None = None) -> dict[str, Any]:
    """Both paths, alternating, `rounds` times; each one's rounds and best."""
    recorded_span(directory)  # pyarrow's lazy imports paid here, once, not by every pass
    results: dict[str, dict[str, Any]] = {name: {"rounds": []} for name in PATHS}
    for number in range(1, rounds + 1):
        for name in PATHS:
            if console is not None:
                console.print(f"running   replay {name} (round {number}/{rounds}) ...", style="dim")
            result = run_forked(replay_once, directory, name)
            if "error" in result:
                results[name]["error"] = result["error"]
                continue
            results[name]["rounds"].append(result)
    for result in results.values():
        passes = result["rounds"]
        if passes:
            result["rows"] = passes[0]["rows"]
            result["wall_fps"] = max(p["rows"] / p["wall_s"] for p in passes)
            result["cpu_fps"] = max(p["rows"] / p["cpu_s"] for p in passes)
            result["digests"] = {p["digest"] for p in passes}
    return results


def measure(
    frames: Iterator[tuple[int, bytes]],
    rounds: int = 3,
    console: Console | None = None,
    market: MarketConfig | None = None,
) -> dict[str, Any]:
    """Record `frames` (of `market`, for its instruments) into a temporary data dir and
    measure every path on it."""
    directory = Path(tempfile.mkdtemp(prefix="scalper-bench-replay-"))
    try:
        started = time.perf_counter()
        count = record_isolated(frames, directory)
        write_run_context(directory, Settings(), instruments_of(market or MarketConfig()))
        span = recorded_span(directory)
        if console is not None:
            seconds = (span[1] - span[0]) / 1e9 if span is not None else 0.0
            console.print(
                f"recorded  {count:,} frames ({seconds:.1f} s of receive time) in"
                f" {time.perf_counter() - started:.1f} s",
                style="dim",
            )
        return measure_dir(directory, rounds, console)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def instruments_of(market: MarketConfig) -> dict[str, Instrument]:
    """The synthetic market's instruments as the venue's REST would give them."""
    return {c.symbol: c.instrument for c in SyntheticMarket(market).instruments.values()}


def identical(results: dict[str, Any]) -> bool:
    """Every pass of both paths left the same engine state."""
    digests = [result.get("digests", set()) for result in results.values()]
    return all(digests) and len(set().union(*digests)) == 1


def replay_table(results: dict[str, Any]) -> Table:
    first = next((r for r in results.values() if "rows" in r), {})
    title = "Replay of a data dir: JSON frame path vs columnar path (same recording, same run)"
    if first:
        title += (
            f"\n{first['rows']:,} recorded rows; best of {len(first['rounds'])} alternating"
            " rounds, each in a fresh forked child"
        )
    table = Table(title=title)
    table.add_column("path")
    table.add_column("what")
    for column in ("frames/s (CPU)", "µs/frame (CPU)", "frames/s (wall)", "CPU s by round"):
        table.add_column(column, justify="right")
    table.add_column("vs json path", justify="right")
    table.add_column("target", justify="right")
    for name, result in results.items():
        baseline = "backtest json" if name.startswith("backtest") else "json"
        json_fps = results.get(baseline, {}).get("cpu_fps")
        if "error" in result:
            table.add_row(name, PATHS[name], f"[red]failed: {result['error']}[/red]", *[""] * 6)
            continue
        cpu_fps = result["cpu_fps"]
        target = ""
        goal = {"columns": COLUMNS_TARGET_FPS, "backtest columns": BACKTEST_TARGET_FPS}.get(name)
        if goal is not None:
            verdict = "[green]PASS[/green]" if cpu_fps >= goal else "[red]FAIL[/red]"
            target = f">= {goal:,} {verdict}"
        table.add_row(
            name,
            PATHS[name],
            f"{cpu_fps:,.0f}",
            f"{1e6 / cpu_fps:.2f}",
            f"{result['wall_fps']:,.0f}",
            " ".join(f"{p['cpu_s']:.2f}" for p in result["rounds"]),
            f"{cpu_fps / json_fps:.2f}x" if json_fps else "",
            target,
        )
    return table


def print_results(console: Console, results: dict[str, Any]) -> None:
    console.print(replay_table(results))
    same = identical(results)
    verdict = "identical" if same else "[red]DIFFERENT[/red]"
    digests = ", ".join(sorted(set().union(*(r.get("digests", set()) for r in results.values()))))
    console.print(f"engine state after each pass (full view digest): {verdict} ({digests})")
    fills = {name: {p["fills"] for p in r.get("rounds", [])} for name, r in results.items()}
    fills = {name: counts for name, counts in fills.items() if counts != {None}}
    if fills:
        console.print(
            "backtest fills by pass: "
            + ", ".join(f"{name} {sorted(counts)}" for name, counts in fills.items())
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replay", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--frames",
        type=int,
        default=500_000,
        help="frames recorded (make bench's recorder: 500,000)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--data-dir", type=Path, help="replay this data dir instead of recording one"
    )
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    if args.data_dir is not None:
        results = measure_dir(args.data_dir, args.rounds, console)
    else:
        config = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
        frames = islice(SyntheticMarket(config).frames(), args.frames)
        results = measure(frames, args.rounds, console, config)
    print_results(console, results)
    return 0 if identical(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
