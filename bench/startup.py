"""How long `scalper --help` and `scalper replay --help` take, wall clock, over repeated runs.

    .venv/bin/python -m bench.startup [--runs 10] [--other OTHER/src]

Each command runs in a fresh interpreter (`python -m scalper.cli ...`), as a user's shell would;
`--other` times another checkout's src/ the same way, interleaved, for a before/after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

COMMANDS = (("--help",), ("replay", "--help"))
TARGET_S = 0.25


def timed(args: tuple[str, ...], src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scalper.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--other", type=Path, help="another checkout's src/ to time the same way")
    args = parser.parse_args(argv)
    checkouts = {"this": Path(__file__).resolve().parents[1] / "src"}
    if args.other is not None:
        checkouts["other"] = args.other
    times: dict[tuple[str, tuple[str, ...]], list[float]] = {}
    for _ in range(args.runs):
        for name, src in checkouts.items():
            for command in COMMANDS:
                times.setdefault((name, command), []).append(timed(command, src))
    table = Table(title=f"wall time of `scalper ...`, {args.runs} runs (target <= {TARGET_S} s)")
    for column in ("checkout", "command", "best s", "median s"):
        table.add_column(column, justify="left" if column in ("checkout", "command") else "right")
    for (name, command), values in times.items():
        table.add_row(
            f"{name} ({checkouts[name]})",
            "scalper " + " ".join(command),
            f"{min(values):.3f}",
            f"{statistics.median(values):.3f}",
        )
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
