"""metrics: imbalance sets, pressure labels and walls, on small books with hand-computed answers.

Imbalance is bid size / (bid size + ask size) over a part of the book; 0.5 when that part holds
nothing. The bps bands measure from the mid and include a level exactly on the band's edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.book import BookSide, OrderBook
from scalper.events import BookUpdate, Level
from scalper.metrics import (
    BPS_BANDS,
    TOP_LEVELS,
    Imbalance,
    Wall,
    imbalance,
    pressure_label,
    ratio,
    walls,
)


def book_of(bids: Sequence[Level], asks: Sequence[Level], depth: int = 50) -> OrderBook:
    """A synced book holding exactly these levels (one snapshot)."""
    book = OrderBook("BTCUSDT", depth)
    book.apply(
        BookUpdate(
            symbol="BTCUSDT",
            depth=depth,
            is_snapshot=True,
            bids=list(bids),
            asks=list(asks),
            update_id=1,
            seq=1,
            ts_event_ns=1_700_000_000_000_000_000,
            recv_ns=1_700_000_000_000_000_005,
        )
    )
    assert book.in_sync
    return book


def side_of(levels: Sequence[Level], *, is_bid: bool = True) -> BookSide:
    side = BookSide(is_bid)
    side.replace(list(levels))
    return side


# 30 bids of size 1, half a unit apart below 999.5; 8 asks from 1000.5, the best one of size 3.
# The mid is 1000.0, so 10 / 25 / 50 bps are 1.0 / 2.5 / 5.0 price units either side.
BIDS = [(999.5 - 0.5 * i, 1.0) for i in range(30)]
ASKS = [(1000.5 + 0.5 * i, 3.0 if i == 0 else 1.0) for i in range(8)]


# --------------------------------------------------------------------------- imbalance


def test_imbalance_of_a_hand_built_book() -> None:
    values = imbalance(book_of(BIDS, ASKS))

    # asks: 3 at the top, then 1 a level, 10 in all
    assert values.book == 30 / (30 + 10)
    assert values.top1 == 1 / (1 + 3)
    assert values.top5 == 5 / (5 + 3 + 4)
    assert values.top10 == 10 / (10 + 10)  # the ask side has only 8 levels: all of them
    assert values.top25 == 25 / (25 + 10)
    # 10 bps: bids >= 999.0 (2 levels), asks <= 1001.0 (3 + 1)
    assert values.bps10 == 2 / (2 + 4)
    # 25 bps: bids >= 997.5 (5 levels), asks <= 1002.5 (3 + 4)
    assert values.bps25 == 5 / (5 + 7)
    # 50 bps: bids >= 995.0 (10 levels), asks <= 1005.0 (all 8: 10)
    assert values.bps50 == 10 / (10 + 10)
    assert values.label == "neutral"  # the label reads top10


def test_bps_band_includes_a_level_on_its_edge_and_excludes_one_just_beyond() -> None:
    # mid 100.0; 10 bps = 0.1: the band is [99.9, 100.1]
    on_edge = book_of([(99.95, 1.0), (99.9, 2.0)], [(100.05, 1.0), (100.1, 4.0)])
    beyond = book_of([(99.95, 1.0), (99.89, 2.0)], [(100.05, 1.0), (100.11, 4.0)])

    assert on_edge.mid() == 100.0
    assert imbalance(on_edge).bps10 == 3 / (3 + 5)
    assert imbalance(beyond).bps10 == 1 / (1 + 1)


def test_empty_book_is_balanced_everywhere() -> None:
    values = imbalance(OrderBook("BTCUSDT", 50))

    assert values == Imbalance(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)
    assert values.label == "neutral"


def test_one_sided_book_is_all_bid_by_level_and_balanced_by_band() -> None:
    # No ask: every level count is all bid, but without a mid there is no band to measure.
    values = imbalance(book_of([(100.0, 2.0), (99.0, 1.0)], []))

    assert (values.book, values.top1, values.top5, values.top10, values.top25) == (1.0,) * 5
    assert (values.bps10, values.bps25, values.bps50) == (0.5, 0.5, 0.5)
    assert values.label == "bid_pressure"


def test_ask_only_book_reads_ask_pressure() -> None:
    values = imbalance(book_of([], [(100.0, 2.0)]))

    assert values.book == 0.0
    assert values.label == "ask_pressure"


def test_ratio_is_a_half_when_both_sizes_are_zero() -> None:
    assert ratio(0.0, 0.0) == 0.5
    assert ratio(3.0, 0.0) == 1.0
    assert ratio(0.0, 3.0) == 0.0
    assert ratio(1.0, 3.0) == 0.25


# --------------------------------------------------------------------------- pressure labels


def test_pressure_boundaries_are_exclusive() -> None:
    assert pressure_label(0.6) == "neutral"
    assert pressure_label(math.nextafter(0.6, 1.0)) == "bid_pressure"
    assert pressure_label(0.4) == "neutral"
    assert pressure_label(math.nextafter(0.4, 0.0)) == "ask_pressure"
    assert pressure_label(0.5) == "neutral"
    assert pressure_label(1.0) == "bid_pressure"
    assert pressure_label(0.0) == "ask_pressure"


@pytest.mark.parametrize(
    ("bid_size", "ask_size", "label"),
    [
        (3.0, 2.0, "neutral"),  # exactly 0.6
        (61.0, 39.0, "bid_pressure"),  # 0.61
        (2.0, 3.0, "neutral"),  # exactly 0.4
        (39.0, 61.0, "ask_pressure"),  # 0.39
    ],
)
def test_book_label_at_and_past_the_boundaries(
    bid_size: float, ask_size: float, label: str
) -> None:
    book = book_of([(100.0, bid_size)], [(101.0, ask_size)])

    assert imbalance(book).label == label


# --------------------------------------------------------------------------- walls


def test_walls_are_the_largest_levels_against_the_median() -> None:
    side = side_of([(100.0, 2.0), (99.0, 3.0), (98.0, 5.0), (97.0, 1.0), (96.0, 10.0)])

    # sizes 1, 2, 3, 5, 10: median 3
    assert walls(side) == [
        Wall(96.0, 10.0, 10 / 3),
        Wall(98.0, 5.0, 5 / 3),
        Wall(99.0, 3.0, 1.0),
    ]


def test_walls_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    side = side_of([(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0)], is_bid=False)

    # median (2 + 3) / 2 = 2.5
    assert walls(side, count=2) == [Wall(4.0, 4.0, 4 / 2.5), Wall(3.0, 3.0, 3 / 2.5)]


def test_walls_of_an_equal_size_break_ties_by_the_higher_price() -> None:
    side = side_of([(10.0, 2.0), (11.0, 2.0), (12.0, 1.0)], is_bid=False)

    assert walls(side) == [Wall(11.0, 2.0, 1.0), Wall(10.0, 2.0, 1.0), Wall(12.0, 1.0, 0.5)]


def test_walls_of_an_empty_side_and_of_a_short_side() -> None:
    assert walls(side_of([])) == []
    assert walls(side_of([(5.0, 4.0)]), count=3) == [Wall(5.0, 4.0, 1.0)]
    assert walls(side_of([(5.0, 4.0), (4.0, 1.0)]), count=0) == []


# --------------------------------------------------------------------------- property test

# Prices on a grid of 0.5 around 1000 and sizes in whole lots: every sum and band edge is exact.
_bid_prices = st.lists(st.integers(1, 400), min_size=0, max_size=40, unique=True)
_ask_prices = st.lists(st.integers(1, 400), min_size=0, max_size=40, unique=True)
_sizes = st.lists(st.integers(1, 50), min_size=40, max_size=40)


def _reference(bids: list[Level], asks: list[Level]) -> Imbalance:
    """Imbalance from plain lists: sort, slice, filter, sum."""
    bids = sorted(bids, reverse=True)
    asks = sorted(asks)

    def share(b: float, a: float) -> float:
        return b / (b + a) if b + a else 0.5

    def top(levels: list[Level], n: int | None) -> float:
        return sum(size for _, size in levels[:n])

    tops = [share(top(bids, n), top(asks, n)) for n in TOP_LEVELS]
    bands = []
    for bps in BPS_BANDS:
        if not bids or not asks:
            bands.append(0.5)
            continue
        mid = (bids[0][0] + asks[0][0]) / 2
        low, high = mid - mid * bps / 10_000, mid + mid * bps / 10_000
        b = sum(size for price, size in bids if price >= low)
        a = sum(size for price, size in asks if price <= high)
        bands.append(share(b, a))
    return Imbalance(share(top(bids, None), top(asks, None)), *tops, *bands)


@given(_bid_prices, _ask_prices, _sizes)
def test_imbalance_matches_a_reference_on_random_books(
    bid_ticks: list[int], ask_ticks: list[int], sizes: list[int]
) -> None:
    # bids at or below 999.5, asks at or above 1000.5: never crossed
    bids = [(1000.0 - 0.5 * t, float(sizes[i])) for i, t in enumerate(bid_ticks)]
    asks = [(1000.0 + 0.5 * t, float(sizes[-1 - i])) for i, t in enumerate(ask_ticks)]

    assert imbalance(book_of(bids, asks)) == _reference(bids, asks)
