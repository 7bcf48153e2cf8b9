"""The engine of this checkout against another one's, on the same frames, in alternating processes.

    .venv/bin/python -m bench.ab OTHER/src [--symbols 300 --seconds 20 --rounds 6]

OTHER/src is another checkout's source directory with its compiled modules built in place
(`python setup.py build_ext --inplace` there). The frames (the synthetic market of `make bench`)
are generated once; each round then runs one child process per checkout, this one first in odd
rounds and the other first in even rounds, and each child times decode A (`msgspec.json.decode`,
the floor) and the engine path (decode + all state: `Engine.on_frame` where a checkout has it,
else `FrameApplier`) as the best of `--passes` passes. A shared machine drifts: compare the
engine within a round, and the medians, not single runs.
"""

from __future__ import annotations

import argparse
import marshal
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

_CHILD = """
import gc, marshal, sys, time
import msgspec
from scalper.engine import Engine
frames = marshal.loads(open(sys.argv[1], "rb").read())
passes = int(sys.argv[2])

def engine_path():
    engine = Engine()
    if hasattr(engine, "on_frame"):
        return engine.on_frame
    from scalper.venues.bybit.frames import FrameApplier
    return FrameApplier(engine)

def timed(make):
    best = float("inf")
    for _ in range(passes):
        call = make()
        gc.collect()
        started = time.perf_counter()
        for recv, raw in frames:
            call(raw, recv)
        best = min(best, time.perf_counter() - started)
    return best / len(frames) * 1e6

decode = msgspec.json.decode
floor = timed(lambda: (lambda raw, recv: decode(raw)))
engine = timed(engine_path)
print(floor, engine)
"""


Result = TypeVar("Result")


def alternate(
    rounds: int,
    checkouts: dict[str, Path],
    run: Callable[[Path], Result],
    console: Console,
) -> dict[str, list[Result]]:
    """`run(path)` for each checkout in each of `rounds` rounds, in the given order in odd
    rounds and reversed in even ones (a slow spell of the machine hits both alike): each
    checkout's results by round."""
    results: dict[str, list[Result]] = {name: [] for name in checkouts}
    order = list(checkouts.items())
    for round_ in range(rounds):
        for name, path in order if round_ % 2 == 0 else reversed(order):
            results[name].append(run(path))
            console.print(f"round {round_ + 1} {name}: {results[name][-1]}", style="dim")
    return results


def run_child(src: Path, frames: Path, passes: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(frames), str(passes)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    floor, engine = done.stdout.split()
    return float(floor), float(engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout's src/ (compiled in place)")
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args(argv)
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    this = Path(__file__).resolve().parents[1] / "src"
    market = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="scalper-ab-") as tmp:
        frames = Path(tmp) / "frames.marshal"
        frames.write_bytes(marshal.dumps(list(generate_frames(market))))
        results = alternate(
            args.rounds,
            {"this": this, "other": args.other},
            lambda src: run_child(src, frames, args.passes),
            console,
        )
    table = Table(
        title=f"{args.symbols} symbols x {args.seconds:g} s, µs/frame, best of {args.passes}"
    )
    table.add_column("checkout")
    table.add_column("engine by round", justify="right")
    table.add_column("engine median", justify="right")
    table.add_column("decode A median", justify="right")
    table.add_column("engine / decode A", justify="right")
    for name, src in (("this", this), ("other", args.other)):
        floors = [floor for floor, _ in results[name]]
        engines = [engine for _, engine in results[name]]
        table.add_row(
            f"{name} ({src})",
            " ".join(f"{value:.2f}" for value in engines),
            f"{statistics.median(engines):.2f}",
            f"{statistics.median(floors):.2f}",
            f"{statistics.median(floors) / statistics.median(engines):.0%}",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
