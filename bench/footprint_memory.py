"""`python -m bench.footprint_memory`: what the footprint candles hold per symbol at their
ceiling (`footprint.candles` candles kept), on the simulator's market, traced by tracemalloc.

Only the public API is used, so the same command in another checkout measures its footprints.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

from scalper.events import TradeBatch
from scalper.footprint import Footprints
from scalper.settings import FootprintSettings
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=30.0, help="market time fed")
    args = parser.parse_args()
    market = SyntheticMarket(MarketConfig(symbols=args.symbols, seconds=args.minutes * 60))
    batches = [
        event
        for recv_ns, raw in market.frames()
        if b"publicTrade" in raw
        for event in (decode_frame(raw, recv_ns),)
        if type(event) is TradeBatch
    ]
    ticks = {symbol: contract.tick_size for symbol, contract in market.instruments.items()}
    settings = FootprintSettings()
    gc.collect()
    tracemalloc.start()
    footprints = Footprints(settings, ticks)
    for batch in batches:
        footprints.on_trades(batch)
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    symbols = len(footprints.symbols)
    candles = sum(len(entry.candles) for entry in footprints.symbols.values()) / symbols
    print(
        f"{len(batches):,} trade batches, {symbols} symbols, {candles:.0f} candles each "
        f"(footprint.candles {settings.candles}, max_levels {settings.max_levels}): "
        f"{held / 1e6:.2f} MB, {held / symbols / 1e3:.0f} KB a symbol"
    )


if __name__ == "__main__":
    main()
