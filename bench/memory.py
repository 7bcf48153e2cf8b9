"""Memory of the engine once every candle history is full.

`python -m bench.memory` writes a sparse synthetic stream to a temporary file — 300 symbols
over 3,700 s of event time: a 50-level snapshot per symbol, then a book delta every 10 s, a
trade message every ~5 s and a ticker every minute, so the 1 h history of every candle
timeframe fills up — then feeds it, line by line, to an engine in a fresh interpreter and prints
the RSS of that interpreter after importing the engine and the venue's decoder (the baseline)
and after the stream. The file is read as a stream, so the frames never sit in memory.

Prints one JSON object; bench/__main__.py shows it as a table section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

TARGET_MB: Final = 50.0
SYMBOLS: Final = 300
SECONDS: Final = 3_700.0


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_stream(path: Path, symbols: int, seconds: float, seed: int) -> int:
    """Write `recv_ns raw` lines of the sparse market; returns the number of frames."""
    from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

    config = MarketConfig(
        symbols=symbols,
        seconds=seconds,
        seed=seed,
        book_interval_ms=10_000,
        trade_messages_per_s=0.2,
        burst_messages=1.0,
        ticker_interval_ms=60_000,
    )
    frames = 0
    with path.open("wb") as out:
        for recv_ns, raw in SyntheticMarket(config).frames():
            out.write(b"%d %s\n" % (recv_ns, raw))
            frames += 1
    return frames


def measure_engine(path: Path, candle_history: str = "1h") -> dict[str, Any]:
    """Run in the fresh interpreter: baseline after the imports, then the engine on the file."""
    # The baseline includes the modules the stream needs and their dependencies.
    from scalper.engine import Engine
    from scalper.settings import EngineSettings
    from scalper.venues.bybit.frames import FrameApplier

    baseline = rss_bytes()
    engine = Engine(EngineSettings(candle_history=candle_history))
    apply = FrameApplier(engine)
    started = time.perf_counter()
    with path.open("rb") as lines:
        for line in lines:
            recv, _, raw = line.partition(b" ")
            apply(raw, int(recv))
    elapsed = time.perf_counter() - started
    after = rss_bytes()
    full = sum(
        len(series.closed) >= series.history
        for state in engine.symbols.values()
        for series in state.candles.values()
    )
    return {
        "baseline_mb": baseline / 2**20,
        "engine_mb": (after - baseline) / 2**20,
        "frames": engine.frames,
        "symbols": len(engine.symbols),
        "seconds": elapsed,
        "full_candle_series": full,
        "candle_series": sum(len(state.candles) for state in engine.symbols.values()),
    }


def run(
    symbols: int = SYMBOLS, seconds: float = SECONDS, seed: int = 1, candle_history: str = "1h"
) -> dict[str, Any]:
    """Write the stream, measure it in a fresh interpreter and return the figures."""
    with tempfile.TemporaryDirectory(prefix="scalper-bench-") as tmp:
        path = Path(tmp) / "sparse.frames"
        started = time.perf_counter()
        written = write_stream(path, symbols, seconds, seed)
        generated = time.perf_counter() - started
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.memory",
                "--measure",
                str(path),
                "--candle-history",
                candle_history,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )
    if child.returncode != 0:
        return {"error": child.stderr.strip().splitlines()[-1:] or ["failed"]}
    result: dict[str, Any] = json.loads(child.stdout)
    result.update(written=written, generate_seconds=generated, target_mb=TARGET_MB)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--measure", type=Path, help="(internal) measure an engine on FILE")
    parser.add_argument("--symbols", type=int, default=SYMBOLS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument(
        "--candle-history",
        default="1h",
        help="engine.candle_history (the stream must span it for every ring to fill)",
    )
    args = parser.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure_engine(args.measure, args.candle_history)))
    else:
        print(
            json.dumps(
                run(args.symbols, args.seconds, candle_history=args.candle_history), indent=2
            )
        )


if __name__ == "__main__":
    main()
