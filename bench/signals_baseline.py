"""What full regime baselines cost: the signals' memory and the warm start's CPU.

    .venv/bin/python -m bench.signals_baseline [--symbols 300 --hours 24 --seed 1]

Two fresh interpreters, each building `--hours` of 1m and 5m candles per symbol (a seeded random
walk; the same candles in both, one symbol's at a time) and an engine of `--symbols` symbols
with the default settings:
- "engine": the engine alone, every symbol created;
- "signals": the engine with a `SignalEngine`, every symbol's baselines rebuilt from the candles
  by `SignalEngine.restore`, the path `warm_start_signals` takes after reading the recording.
Both drop each symbol's candles once used, so the difference of the two RSS figures is what the
signals hold with every baseline full (a warm start also holds the rows it read until it is
done: not counted here); the CPU time is that of the
`restore` calls alone (reading the candles from Parquet is not in it). The regimes keep
`signals.regimes.baseline` (24 h) of candles: `--hours` beyond it adds CPU, not memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time
from typing import Any, Final

from scalper.aggregates import Candle

MB: Final = 1e6
MINUTE_NS: Final = 60 * 10**9
START_NS: Final = 1_764_000_000 * 10**9 // (5 * MINUTE_NS) * (5 * MINUTE_NS)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def candles_of(rng: random.Random, minutes: int, hours: float) -> list[Candle]:
    """A random walk of `minutes`-minute candles over `hours`, prices near 100."""
    price, candles = 100.0, []
    for i in range(int(hours * 60 / minutes)):
        open_ = price
        price *= 1.0 + rng.gauss(0.0, 0.0005 * minutes**0.5)
        volume = rng.lognormvariate(3.0, 1.0)
        buy = volume * rng.random()
        candles.append(
            Candle(
                START_NS + i * minutes * MINUTE_NS,
                open_,
                max(open_, price) * 1.0002,
                min(open_, price) * 0.9998,
                price,
                volume,
                volume * price,
                max(1, int(volume)),
                buy,
                volume - buy,
            )
        )
    return candles


def child(kind: str, symbols: int, hours: float, seed: int) -> dict[str, Any]:
    from scalper.engine import Engine
    from scalper.signals import SignalEngine

    gc.collect()
    baseline = rss_bytes()
    rng = random.Random(seed)
    engine = Engine()
    signals = SignalEngine(engine) if kind == "signals" else None
    cpu, fed = 0.0, 0
    for i in range(symbols):
        name = f"SYM{i:03d}USDT"
        series = {"1m": candles_of(rng, 1, hours), "5m": candles_of(rng, 5, hours)}
        fed += sum(len(c) for c in series.values())
        if signals is not None:
            started = time.process_time()
            signals.restore(name, series)
            cpu += time.process_time() - started
        else:
            engine.symbol(name)
        del series
    gc.collect()
    return {"kind": kind, "rss_growth_bytes": rss_bytes() - baseline, "cpu_s": cpu, "fed": fed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.signals_baseline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=("engine", "signals"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.symbols, args.hours, args.seed)))
        return 0
    results = {}
    for kind in ("engine", "signals"):
        wall = time.perf_counter()
        out = subprocess.run(
            [
                *(sys.executable, "-m", "bench.signals_baseline", "--child", kind),
                *("--symbols", str(args.symbols), "--hours", str(args.hours)),
                *("--seed", str(args.seed)),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[kind] = json.loads(out) | {"wall_s": time.perf_counter() - wall}
    engine, signals = results["engine"], results["signals"]
    added = (signals["rss_growth_bytes"] - engine["rss_growth_bytes"]) / MB
    print(
        f"{args.symbols} symbols, {args.hours:g} h of 1m and 5m candles each"
        f" ({signals['fed']:,} candles)"
    )
    print(
        f"RSS growth: engine alone {engine['rss_growth_bytes'] / MB:.1f} MB, with signals and"
        f" full baselines {signals['rss_growth_bytes'] / MB:.1f} MB: the signals add {added:.1f} MB"
        f" ({added * MB / args.symbols / 1e3:.0f} KB a symbol)"
    )
    print(
        f"warm start of the signals (SignalEngine.restore): {signals['cpu_s']:.1f} s of CPU"
        f" (its child process took {signals['wall_s']:.1f} s wall, candles generated included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
