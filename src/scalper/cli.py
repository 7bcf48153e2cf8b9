"""Command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from scalper.config import EngineConfig
from scalper.engine import Engine
from scalper.errors import ScalperError
from scalper.replay import replay_file
from scalper.summary import summary_table
from scalper.views import engine_view

_TABLE_WIDTH = 200
"""Fixed width when stdout is not a terminal, so the same replay prints the same bytes."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scalper", description="Real-time market-microstructure engine for Bybit v5."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    replay = commands.add_parser("replay", help="replay a file of raw frames through the engine")
    replay.add_argument("file", type=Path, help="one raw frame per line; plain, .gz or .zst")
    replay.add_argument("--json", type=Path, metavar="OUT", help="write the final state as JSON")
    replay.add_argument("--levels", type=int, default=25, help="book levels a side in --json")
    replay.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    demo = commands.add_parser(
        "demo", help="run the engine on a synthetic Bybit market and print the summary"
    )
    demo.add_argument("--symbols", type=int, default=20, help="number of symbols")
    demo.add_argument("--seconds", type=float, default=60.0, help="seconds of market time")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--json", type=Path, metavar="OUT", help="write the final state as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "replay":
            return _replay(args)
        return _demo(args)
    except ScalperError as exc:
        print(f"scalper: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _stdout() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=_TABLE_WIDTH)


def _replay(args: argparse.Namespace) -> int:
    path: Path = args.file
    engine = Engine(EngineConfig())
    started = time.perf_counter()
    if args.no_progress or not sys.stderr.isatty():
        frames = replay_file(engine, path)
    else:
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"replay {path.name}", total=path.stat().st_size)
            frames = replay_file(engine, path, lambda done: progress.update(task, completed=done))
    elapsed = time.perf_counter() - started
    _finish(engine, args.json, args.levels if args.json else 25)
    print(f"replayed {frames} frames in {elapsed:.2f} s", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    market = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
    engine = Engine(EngineConfig())
    started = time.perf_counter()
    for recv_ns, frame in generate_frames(market):
        engine.on_frame(frame, recv_ns)
    elapsed = time.perf_counter() - started
    _finish(engine, args.json, 25)
    rate = engine.frames / elapsed if elapsed > 0 else 0.0
    print(
        f"{engine.frames} frames in {elapsed:.2f} s ({rate:,.0f} frames/s, generation included)",
        file=sys.stderr,
    )
    return 0


def _finish(engine: Engine, json_path: Path | None, levels: int) -> None:
    _stdout().print(summary_table(engine))
    if json_path is not None:
        json_path.write_bytes(msgspec.json.encode(engine_view(engine, levels)) + b"\n")


if __name__ == "__main__":
    raise SystemExit(main())
