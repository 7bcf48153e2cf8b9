"""What the paper trader adds to the engine and signals, in CPU instructions (cachegrind).

Wall-clock and CPU-time figures of `make bench` swing by tens of percent on a shared machine;
instruction counts do not. This generates `make bench`'s market once, then runs each case in
its own interpreter under `valgrind --tool=cachegrind --cache-sim=no` over the same frames:
the harness alone (decode and slicing excluded: it only slices), engine+signals, and
engine+signals+trader (the `+trading` row of `make bench`), and that with the footprints tapping
the engine as well, as a Python tap (`+footprints py`, before) and through the compiled
`TradeTap` (`+footprints C`, as `scalper run` does), each against `+trading`. With `--other ROOT`
the trading case also runs on another checkout's `src/` (built in place), for a before/after in
one run.

    .venv/bin/python -m bench.trading_instructions --seconds 10 [--other /path/to/checkout]

Needs valgrind (Debian package `valgrind`); takes a few minutes (valgrind runs ~50x slower).
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("harness", "engine+signals", "+trading", "+footprints py", "+footprints C")


def _run_case(case: str, frames_path: str) -> None:
    """In the measured interpreter: build the case and feed it every frame."""
    import bench.__main__ as bench
    from scalper.venues.simulator.market import MarketConfig

    with open(frames_path, "rb") as f:
        config, blob, offsets_bytes, recv_bytes = pickle.load(f)
    bench._MARKET.append(MarketConfig(**config))
    offsets, recv = array("q"), array("q")
    offsets.frombytes(offsets_bytes)
    recv.frombytes(recv_bytes)
    factory = {
        "harness": bench._harness,
        "engine+signals": bench._engine_with_signals,
        "+trading": bench._engine_with_trading,
        "+footprints py": lambda: _with_footprints(compiled=False),
        "+footprints C": lambda: _with_footprints(compiled=True),
    }[case]
    on_frame = factory()
    for i in range(len(recv)):
        on_frame(blob[offsets[i] : offsets[i + 1]], recv[i])


def _with_footprints(compiled: bool) -> Callable[[bytes, int], None]:
    """The `+trading` case with the footprints tapping the engine too: through a `TradeTap`
    (compiled, as `scalper run` does) or as a Python tap (before)."""
    import bench.__main__ as bench
    from scalper.engine import TradeTap
    from scalper.footprint import Footprints
    from scalper.settings import FootprintSettings
    from scalper.venues.bybit.frames import FrameApplier

    ticks = {symbol: i.tick_size for symbol, i in bench.bench_instruments().items()}
    footprints = Footprints(FootprintSettings(), ticks)
    engine = bench.trading_engine()
    engine.add_tap(TradeTap(footprints.on_trades) if compiled else footprints.on_event)
    return FrameApplier(engine)


def _instructions(case: str, frames_path: str, src_root: Path) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "bench.trading_instructions",
            "--case",
            case,
            "--frames",
            frames_path,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{src_root / 'src'}:{ROOT}"},
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trading_instructions")
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--other", type=Path, help="another checkout: its trading case too")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--frames", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        _run_case(args.case, args.frames)
        return 0

    import bench.__main__ as bench
    from scalper.venues.simulator.market import MarketConfig

    config = {"symbols": args.symbols, "seconds": args.seconds, "seed": args.seed}
    frames, _, _ = bench.generate(MarketConfig(**config))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "frames.pkl")
        with open(path, "wb") as f:
            blob, offsets, recv = frames.blob, frames.offsets.tobytes(), frames.recv_ns.tobytes()
            pickle.dump((config, blob, offsets, recv), f)
        jobs = [(case, "this checkout", ROOT) for case in CASES]
        if args.other is not None:
            jobs.append(("+trading", str(args.other), args.other))
        with ThreadPoolExecutor() as pool:  # one valgrind process per case, side by side
            counts = list(pool.map(lambda job: _instructions(job[0], path, job[2]), jobs))
        rows = [(case, where, counts[i]) for i, (case, where, _) in enumerate(jobs)]
    n = len(frames)
    base = {name: count for name, where, count in rows if where == "this checkout"}
    signals = base["engine+signals"] - base["harness"]
    trading = base["+trading"] - base["harness"]
    print(f"{n:,} frames ({args.symbols} symbols x {args.seconds:g} s, seed {args.seed})")
    print(f"{'case':16} {'checkout':32} {'instructions':>16} {'per frame':>10} {'added':>8}")
    for name, where, count in rows:
        own = count - base["harness"]
        added = ""
        if name == "+trading":
            added = f"{(own - signals) / signals:+.1%}"
        elif name.startswith("+footprints"):  # over +trading
            added = f"{(own - trading) / trading:+.1%}"
        print(f"{name:16} {where[-32:]:32} {count:>16,} {own / n:>10,.0f} {added:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
