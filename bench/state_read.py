"""Why the signals' tracker is compiled: what reading a symbol's state from Python costs.

    .venv/bin/python -m bench.state_read [--symbols 300 --seconds 20 --rounds 3]

The synthetic market of `make bench` goes through an engine (timed: the engine's cost per frame
and per second of market). Then, for every symbol, what one signals tick would read through the
engine's public Python API, without any factor arithmetic: the imbalance set
(`metrics.imbalance`), the microprice, the walls of both sides (`metrics.walls`) and four flow
windows (1 s, 5 s, 30 s, 1 m; `TradeFlow.window`), timed over all symbols, best of `--rounds`.
At a 100 ms cadence every symbol ticks ten times a second, so the last line compares ten such
reads per symbol with the engine's own work for one second of the market.
"""

from __future__ import annotations

import argparse
import time

from scalper.engine import Engine
from scalper.metrics import imbalance, walls
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

WINDOWS_NS = (1_000_000_000, 5_000_000_000, 30_000_000_000, 60_000_000_000)
TICKS_PER_S = 10


def read_tick(state: object, now_ns: int) -> None:
    """What a Python tracker would read for one symbol's tick."""
    book = state.book  # type: ignore[attr-defined]
    imbalance(book)
    book.microprice()
    walls(book.bids)
    walls(book.asks)
    flow = state.flow  # type: ignore[attr-defined]
    for span in WINDOWS_NS:
        flow.window(span, now_ns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.state_read", description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    frames = list(
        SyntheticMarket(
            MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
        ).frames()
    )
    engine = Engine()
    apply = FrameApplier(engine)
    started = time.process_time()
    for recv_ns, raw in frames:
        apply(raw, recv_ns)
    engine_s = time.process_time() - started
    engine_us = engine_s / len(frames) * 1e6

    states = [s for s in engine.symbols.values() if s.book is not None and s.book.in_sync]
    now_ns = engine.clock_ns
    best = float("inf")
    for _ in range(args.rounds):
        started = time.process_time()
        for state in states:
            read_tick(state, now_ns)
        best = min(best, time.process_time() - started)
    read_us = best / len(states) * 1e6

    per_market_second = engine_s / args.seconds
    reads_per_market_second = read_us * 1e-6 * TICKS_PER_S * len(states)
    print(
        f"engine: {len(frames):,} frames of {args.symbols} symbols x {args.seconds:g} s,"
        f" {engine_us:.2f} µs of CPU a frame, {per_market_second:.3f} s of CPU a market second"
    )
    print(f"one symbol's tick read from Python (best of {args.rounds}): {read_us:.1f} µs")
    print(
        f"{len(states)} symbols x {TICKS_PER_S} ticks a second: {reads_per_market_second:.3f} s"
        f" of CPU a market second, {reads_per_market_second / per_market_second:.1f} times the"
        " engine's"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
