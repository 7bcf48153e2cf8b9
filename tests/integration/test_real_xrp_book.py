"""Replay the recorded XRPUSDT orderbook.500 frames through decode_frame + OrderBook.

The reference book is built straight from json.loads with Decimal prices and sizes and shares no
code with scalper. Sizes of this instrument are whole numbers, so the float sums of the book are
exact and can be compared with the Decimal sums for equality; ratios are compared with the
correctly rounded float of the exact ratio (Fraction), which is what one float division of two
exact floats gives.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

from scalper.book import ApplyResult, OrderBook, SyncState
from scalper.events import BookUpdate
from scalper.venues.bybit.wire import decode_frame

DEPTH = 500
TOP = 10


class DecimalBook:
    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, frame: dict) -> None:
        data = frame["data"]
        if frame["type"] == "snapshot":
            self.bids, self.asks = {}, {}
        for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
            for price_text, size_text in levels:
                price, size = Decimal(price_text), Decimal(size_text)
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def sorted_bids(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.bids.items(), reverse=True)

    def sorted_asks(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.asks.items())


def imbalance(bid_size: Decimal, ask_size: Decimal) -> float:
    return float(Fraction(bid_size) / Fraction(bid_size + ask_size))


def test_replay_matches_an_independent_decimal_book(xrp_frames: list[bytes]) -> None:
    book = OrderBook("XRPUSDT", DEPTH)
    reference = DecimalBook()
    last_u: int | None = None
    results = []

    for index, raw in enumerate(xrp_frames):
        frame = json.loads(raw)
        reference.apply(frame)
        event = decode_frame(raw, index)
        assert isinstance(event, BookUpdate), event

        result = book.apply(event)
        results.append(result)

        u = frame["data"]["u"]
        if index == 0:
            assert result is ApplyResult.SNAPSHOT
        else:
            assert u == last_u + 1, f"frame {index}: u {u} after {last_u}"
            assert result is ApplyResult.APPLIED, (index, result, book.out_of_sync_reason)
        last_u = u
        assert book.state is SyncState.IN_SYNC
        assert book.update_id == u
        assert book.ts_event_ns == frame["cts"] * 1_000_000

        bids, asks = reference.sorted_bids(), reference.sorted_asks()
        assert len(bids) == len(asks) == DEPTH, "the venue keeps the 500-level window full"
        assert bids[0][0] < asks[0][0], f"frame {index}: reference book crossed"

        # Best levels and the whole book, level by level.
        assert book.best_bid() == (float(bids[0][0]), float(bids[0][1]))
        assert book.best_ask() == (float(asks[0][0]), float(asks[0][1]))
        assert book.bids.top(DEPTH) == [(float(p), float(s)) for p, s in bids]
        assert book.asks.top(DEPTH) == [(float(p), float(s)) for p, s in asks]

        # Imbalance over the top 10 levels and over the whole book.
        top_bid = sum(s for _, s in bids[:TOP])
        top_ask = sum(s for _, s in asks[:TOP])
        all_bid = sum(reference.bids.values())
        all_ask = sum(reference.asks.values())
        assert book.bids.total_size(TOP) == float(top_bid)
        assert book.asks.total_size(TOP) == float(top_ask)
        assert book.bids.total_size() == float(all_bid)
        assert book.asks.total_size() == float(all_ask)
        book_top = book.bids.total_size(TOP) / (
            book.bids.total_size(TOP) + book.asks.total_size(TOP)
        )
        book_all = book.bids.total_size() / (book.bids.total_size() + book.asks.total_size())
        assert book_top == imbalance(top_bid, top_ask), index
        assert book_all == imbalance(all_bid, all_ask), index

    assert results.count(ApplyResult.APPLIED) == 49
    assert book.trimmed_levels == 0
    assert last_u == 20254918


def test_replay_end_state(xrp_frames: list[bytes]) -> None:
    """Concrete values after the last frame, read off the recording."""
    book = OrderBook("XRPUSDT", DEPTH)
    for index, raw in enumerate(xrp_frames):
        event = decode_frame(raw, index)
        assert isinstance(event, BookUpdate)
        book.apply(event)

    assert book.in_sync
    assert book.update_id == 20254918
    assert book.best_bid() == (1.9537, 10605.0)
    assert book.best_ask() == (1.9538, 6702.0)
    assert book.bids.top(DEPTH)[-1] == (1.9037, 175.0)
    assert book.asks.top(DEPTH)[-1] == (2.0037, 71.0)
    assert book.bids.total_size(TOP) == 83859.0
    assert book.asks.total_size(TOP) == 150471.0
    assert book.bids.total_size() == 8328816.0
    assert book.asks.total_size() == 9911460.0
    assert book.spread() == 1.9538 - 1.9537
    assert book.mid() == (1.9538 + 1.9537) / 2
