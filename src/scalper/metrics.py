"""Book metrics computed from the book as it is now: never cached, so never stale.

Imbalance is bid size / (bid size + ask size) over some part of the book, 0.5 when that part is
empty. The bands follow the replaced system: above 0.6 is bid pressure, below 0.4 ask pressure.
Order-flow imbalance (OFI, Cont, Kukanov and Stoikov 2014: the signed change of the best-level
queues between two consecutive book states) is summed per candle on the engine's hot path, in
`_symbol.pyx` (SymbolState._ofi_update).
"""

from __future__ import annotations

import statistics
from typing import Final

import msgspec

from scalper.book import BookSide, OrderBook
from scalper.events import Level

TOP_LEVELS: Final = (1, 5, 10, 25)
BPS_BANDS: Final = (10, 25, 50)
BID_PRESSURE_ABOVE: Final = 0.6
ASK_PRESSURE_BELOW: Final = 0.4


class Imbalance(msgspec.Struct, gc=False):
    """Imbalance of the whole book, of the top N levels and within X bps of the mid."""

    book: float
    top1: float
    top5: float
    top10: float
    top25: float
    bps10: float
    bps25: float
    bps50: float

    @property
    def label(self) -> str:
        return pressure_label(self.top10)


class Wall(msgspec.Struct, gc=False):
    """A large resting level: its size relative to the median level size of its side."""

    price: float
    size: float
    relative_size: float


def ratio(bid_size: float, ask_size: float) -> float:
    """bid / (bid + ask), 0.5 when both are zero."""
    total = bid_size + ask_size
    return bid_size / total if total > 0.0 else 0.5


def pressure_label(imbalance: float) -> str:
    """'bid_pressure' above 0.6, 'ask_pressure' below 0.4, else 'neutral'."""
    if imbalance > BID_PRESSURE_ABOVE:
        return "bid_pressure"
    if imbalance < ASK_PRESSURE_BELOW:
        return "ask_pressure"
    return "neutral"


def imbalance(book: OrderBook) -> Imbalance:
    """Every imbalance figure of the book, computed from its levels now."""
    bids = book.bids
    asks = book.asks
    top = [ratio(bids.total_size(n), asks.total_size(n)) for n in TOP_LEVELS]
    bands = [ratio(*book.size_within_bps(bps)) for bps in BPS_BANDS]
    return Imbalance(ratio(bids.total_size(), asks.total_size()), *top, *bands)


def walls(side: BookSide, count: int = 3) -> list[Wall]:
    """The `count` largest levels of a side (largest first), sized against the side's median."""
    if not side.sizes:
        return []
    median = statistics.median(side.sizes.values())
    largest = sorted(side.sizes.items(), key=_size_then_price, reverse=True)[:count]
    return [Wall(price, size, size / median if median > 0.0 else 0.0) for price, size in largest]


def _size_then_price(level: Level) -> tuple[float, float]:
    return (level[1], level[0])
