"""What the paper trader adds to engine+signals, this checkout against another, in alternating
processes on the same frames.

    .venv/bin/python -m bench.ab_trading OTHER [--seconds 60 --rounds 4]

OTHER is another checkout's root (its compiled modules built in place: `python setup.py
build_ext --inplace` there). `make bench`'s market is generated once; each round then runs one
child process per checkout, this one first in odd rounds and the other first in even rounds, and
each child times its own `make bench` rows `engine+signals` and `+trading` (bench/__main__.py)
one after the other over every frame. What trading adds is judged per round, then by the
median, as `make bench` judges it: on a shared machine a slow spell hits both rows of a round.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.ab import alternate

ROWS = ("engine+signals", "+trading")

_CHILD = """
import gc, pickle, sys, time
from array import array
import bench.__main__ as bench
from scalper.venues.simulator.market import MarketConfig

blob, offsets, recv, config = pickle.loads(open(sys.argv[1], "rb").read())
frames = bench.Frames(blob, array("q", offsets), array("q", recv))
bench._MARKET.append(MarketConfig(**config))
for row in sys.argv[2:]:
    on_frame = bench.IMPLEMENTATIONS[row][1]()
    gc.collect()
    print(bench._throughput(on_frame, frames) / len(frames) * 1e6)
    del on_frame
"""


def run_child(root: Path, frames: Path) -> dict[str, float]:
    """µs a frame of each of ROWS, from `root`'s own code."""
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(frames), *ROWS],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(zip(ROWS, map(float, done.stdout.split()), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ab_trading", description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout's root (compiled in place)")
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    import bench.__main__ as bench
    from scalper.venues.simulator.market import MarketConfig

    this = Path(__file__).resolve().parents[1]
    config = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
    frames, _, _ = bench.generate(config)
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="scalper-ab-trading-") as tmp:
        path = Path(tmp) / "frames.pickle"
        fields = {"symbols": args.symbols, "seconds": args.seconds, "seed": args.seed}
        path.write_bytes(
            pickle.dumps((frames.blob, frames.offsets.tolist(), frames.recv_ns.tolist(), fields))
        )
        checkouts = {"this": this, "other": args.other.resolve()}
        results = alternate(args.rounds, checkouts, lambda root: run_child(root, path), console)
    table = Table(
        title=f"{args.symbols} symbols x {args.seconds:g} s ({len(frames):,} frames), µs/frame"
    )
    for column in ("checkout", *ROWS, "trading: added by round", "median"):
        table.add_column(column, justify="left" if column == "checkout" else "right")
    for name, root in checkouts.items():
        rounds = results[name]
        added = [r["+trading"] / r["engine+signals"] - 1.0 for r in rounds]
        table.add_row(
            f"{name} ({root})",
            *(" ".join(f"{r[row]:.2f}" for r in rounds) for row in ROWS),
            " ".join(f"{a:+.0%}" for a in added),
            f"{statistics.median(added):+.1%}",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
