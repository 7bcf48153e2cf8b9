"""Which structure should hold one side of the book? Measured on the synthetic market's deltas.

Every structure gets the same decoded stream (a snapshot, then deltas) and answers one best-level
query per update, which is what the engine needs for order-flow imbalance:

- `BookSide`: scalper.book's compiled side, two C arrays (keys, sizes) kept sorted by binary
  search and memmove (the engine's choice);
- `dict + bisect keys`: a dict plus a key list kept sorted with bisect, in Python (the engine's
  BookSide before it was compiled);
- `SortedDict`: sortedcontainers.SortedDict per side;
- `dict + min/max`: a plain dict, best level by a scan of all keys;
- `dict + sorted()`: a plain dict sorted on demand (what the seed system did for its top 10).

Depths 50, 200 and 1000 use Bybit's push intervals for those depths (20, 100, 200 ms;
/docs/v5/websocket/public/orderbook) and proportionally more level changes per delta.

Run alone: python -m bench.book_structures
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections.abc import Callable, Sequence
from typing import Final

from sortedcontainers import SortedDict

from scalper.book import BookSide
from scalper.events import BookUpdate, Level
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

DEPTHS: Final = (50, 200, 1000)
_INTERVAL_MS: Final = {50: 20, 200: 100, 1000: 200}
_MEAN_CHANGES: Final = {50: 3.0, 200: 6.0, 1000: 12.0}

Updates = list[tuple[bool, list[Level], list[Level]]]
Best = tuple[Level | None, Level | None]
Runner = Callable[[Updates], Best]
"""Applies the stream, querying the best levels after every update; returns the last answer."""


def book_stream(depth: int, updates: int, seed: int = 1) -> Updates:
    """(is_snapshot, bids, asks) of about `updates` book frames of one synthetic symbol."""
    interval = _INTERVAL_MS.get(depth, 20)
    config = MarketConfig(
        symbols=1,
        seconds=updates * interval / 1000.0,
        seed=seed,
        depth=depth,
        book_interval_ms=interval,
        mean_changes=_MEAN_CHANGES.get(depth, 3.0),
    )
    stream: Updates = []
    for recv_ns, raw in SyntheticMarket(config).frames():
        event = decode_frame(raw, recv_ns)
        if isinstance(event, BookUpdate):
            stream.append((event.is_snapshot, event.bids, event.asks))
    return stream


def run_book_side(stream: Updates) -> Best:
    bids, asks = BookSide(is_bid=True), BookSide(is_bid=False)
    best: Best = (None, None)
    for is_snapshot, bid_levels, ask_levels in stream:
        if is_snapshot:
            bids.replace(bid_levels)
            asks.replace(ask_levels)
        else:
            bids.apply(bid_levels)
            asks.apply(ask_levels)
        best = (bids.best(), asks.best())
    return best


def _apply_bisect(
    sizes: dict[float, float], keys: list[float], sign: float, levels: Sequence[Level]
) -> None:
    for price, size in levels:
        if size == 0.0:
            if sizes.pop(price, None) is not None:
                del keys[bisect_left(keys, sign * price)]
        else:
            if price not in sizes:
                insort(keys, sign * price)
            sizes[price] = size


def run_dict_bisect(stream: Updates) -> Best:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    bid_keys: list[float] = []
    ask_keys: list[float] = []
    best: Best = (None, None)
    for is_snapshot, bid_levels, ask_levels in stream:
        if is_snapshot:
            bids = {price: size for price, size in bid_levels if size != 0.0}
            asks = {price: size for price, size in ask_levels if size != 0.0}
            bid_keys = sorted(-price for price in bids)
            ask_keys = sorted(asks)
        else:
            _apply_bisect(bids, bid_keys, -1.0, bid_levels)
            _apply_bisect(asks, ask_keys, 1.0, ask_levels)
        best = (
            (-bid_keys[0], bids[-bid_keys[0]]) if bid_keys else None,
            (ask_keys[0], asks[ask_keys[0]]) if ask_keys else None,
        )
    return best


def _apply_sorted(side: SortedDict, levels: Sequence[Level]) -> None:
    for price, size in levels:
        if size == 0.0:
            side.pop(price, None)
        else:
            side[price] = size


def run_sorted_dict(stream: Updates) -> Best:
    bids, asks = SortedDict(), SortedDict()
    best: Best = (None, None)
    for is_snapshot, bid_levels, ask_levels in stream:
        if is_snapshot:
            bids, asks = SortedDict(bid_levels), SortedDict(ask_levels)
        else:
            _apply_sorted(bids, bid_levels)
            _apply_sorted(asks, ask_levels)
        best = (bids.peekitem(-1), asks.peekitem(0))
    return best


def _apply_dict(side: dict[float, float], levels: Sequence[Level]) -> None:
    for price, size in levels:
        if size == 0.0:
            side.pop(price, None)
        else:
            side[price] = size


def run_dict_scan(stream: Updates) -> Best:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    best: Best = (None, None)
    for is_snapshot, bid_levels, ask_levels in stream:
        if is_snapshot:
            bids, asks = dict(bid_levels), dict(ask_levels)
        else:
            _apply_dict(bids, bid_levels)
            _apply_dict(asks, ask_levels)
        best_bid = max(bids)
        best_ask = min(asks)
        best = ((best_bid, bids[best_bid]), (best_ask, asks[best_ask]))
    return best


def run_dict_sorted(stream: Updates) -> Best:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    best: Best = (None, None)
    for is_snapshot, bid_levels, ask_levels in stream:
        if is_snapshot:
            bids, asks = dict(bid_levels), dict(ask_levels)
        else:
            _apply_dict(bids, bid_levels)
            _apply_dict(asks, ask_levels)
        best_bid = sorted(bids, reverse=True)[0]
        best_ask = sorted(asks)[0]
        best = ((best_bid, bids[best_bid]), (best_ask, asks[best_ask]))
    return best


STRUCTURES: Final[dict[str, Runner]] = {
    "BookSide (C arrays, binary search)": run_book_side,
    "dict + bisect keys (Python)": run_dict_bisect,
    "SortedDict": run_sorted_dict,
    "dict + min/max": run_dict_scan,
    "dict + sorted()": run_dict_sorted,
}


def measure(updates: int = 10_000, repeats: int = 3) -> dict[int, dict[str, float]]:
    """µs per update (best of `repeats`) by depth and structure."""
    results: dict[int, dict[str, float]] = {}
    for depth in DEPTHS:
        stream = book_stream(depth, updates)
        row: dict[str, float] = {}
        for name, runner in STRUCTURES.items():
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                runner(stream)
                best = min(best, time.perf_counter() - started)
            row[name] = best / len(stream) * 1e6
        results[depth] = row
    return results


def main() -> None:
    results = measure()
    names = list(STRUCTURES)
    print("µs per update (apply + best bid/ask), best of 3")
    print(f"{'structure':32}" + "".join(f"{f'depth {d}':>12}" for d in DEPTHS))
    for name in names:
        print(f"{name:32}" + "".join(f"{results[d][name]:12.2f}" for d in DEPTHS))


if __name__ == "__main__":
    main()
