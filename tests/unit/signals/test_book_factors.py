"""Book factors read from the C arrays (signals/_book_factors.pyx) against their formulas."""

from __future__ import annotations

import statistics

from hypothesis import given
from hypothesis import strategies as st
from scalper.signals._book_factors import _level_ofi_for_tests, _median_for_tests

from scalper.book import OrderBook
from scalper.events import BookUpdate

LEVELS = 5


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300))
def test_median_is_statistics_median(values) -> None:
    assert _median_for_tests(values) == statistics.median(values)


def _side(prices: list[int], sizes: list[int], bid: bool) -> list[tuple[float, float]]:
    ordered = sorted(set(prices), reverse=bid)
    return [(float(p), float(s)) for p, s in zip(ordered, sizes, strict=False)]


def _book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> OrderBook:
    book = OrderBook("X", 50)
    book.apply(BookUpdate("X", 50, True, bids, asks, 1, 0, 0, 0))
    return book


def _reference(before: OrderBook, after: OrderBook) -> list[float]:
    """Xu, Gould and Howison's level-m OFI written out from the books' levels."""
    out = []
    for m in range(LEVELS):
        e = 0.0
        b0, b1 = before.bids.top(LEVELS), after.bids.top(LEVELS)
        a0, a1 = before.asks.top(LEVELS), after.asks.top(LEVELS)
        if m < len(b0) and m < len(b1):
            (p0, q0), (p1, q1) = b0[m], b1[m]
            e += (q1 if p1 >= p0 else 0.0) - (q0 if p1 <= p0 else 0.0)
        if m < len(a0) and m < len(a1):
            (p0, q0), (p1, q1) = a0[m], a1[m]
            e += -(q1 if p1 <= p0 else 0.0) + (q0 if p1 >= p0 else 0.0)
        out.append(e)
    return out


prices = st.lists(st.integers(1, 60), min_size=1, max_size=8, unique=True)
sizes = st.lists(st.integers(1, 100), min_size=8, max_size=8)


@given(prices, sizes, prices, sizes, prices, sizes, prices, sizes)
def test_level_ofi_is_the_formula(bp0, bs0, ap0, as0, bp1, bs1, ap1, as1) -> None:
    # bids below 100, asks above: never crossed
    before = _book(
        _side([100 - p for p in bp0], bs0, True), _side([100 + p for p in ap0], as0, False)
    )
    after = _book(
        _side([100 - p for p in bp1], bs1, True), _side([100 + p for p in ap1], as1, False)
    )
    assert _level_ofi_for_tests(before, after) == _reference(before, after)


def test_best_level_ofi_by_hand() -> None:
    """Cont, Kukanov and Stoikov: the bid rises (its new queue counts), the ask queue shrinks."""
    before = _book([(99.0, 5.0)], [(101.0, 7.0)])
    after = _book([(99.5, 2.0)], [(101.0, 4.0)])
    assert _level_ofi_for_tests(before, after)[0] == 2.0 - 4.0 + 7.0
