"""trading.taker: walking the book level by level, against hand numbers and a unit-lot reference."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.trading.taker import band_limit, first_available, vwap, walk

ASKS = [(100.0, 1.0), (100.5, 2.0), (101.0, 3.0)]
BIDS = [(99.5, 2.0), (99.0, 3.0), (98.5, 4.0)]
NOTHING_TAKEN: dict[float, float] = {}


def test_a_buy_walks_three_levels() -> None:
    fills = walk(ASKS, 4.0, 1_000.0, True, NOTHING_TAKEN)
    assert fills == [(100.0, 1.0), (100.5, 2.0), (101.0, 1.0)]
    # (100*1 + 100.5*2 + 101*1) / 4 = 402 / 4
    assert vwap(fills) == 100.5


def test_a_sell_walks_the_bids_down_to_its_limit() -> None:
    assert walk(BIDS, 6.0, 99.0, False, NOTHING_TAKEN) == [(99.5, 2.0), (99.0, 3.0)]


def test_the_limit_stops_the_walk() -> None:
    assert walk(ASKS, 10.0, 100.5, True, NOTHING_TAKEN) == [(100.0, 1.0), (100.5, 2.0)]
    assert walk(ASKS, 10.0, 99.9, True, NOTHING_TAKEN) == []


def test_a_limit_equal_to_a_computed_price_still_matches() -> None:
    # 0.1 * 3 is 0.30000000000000004, the book's level is 0.3
    assert walk([(0.3, 5.0)], 1.0, 0.1 * 3, True, NOTHING_TAKEN) == [(0.3, 1.0)]


def test_what_we_took_is_not_available() -> None:
    fills = walk(ASKS, 4.0, 1_000.0, True, {100.0: 0.6, 100.5: 2.0})
    assert fills == [(100.0, pytest.approx(0.4)), (101.0, 3.0)]


def test_first_available_skips_levels_we_took() -> None:
    assert first_available(ASKS, NOTHING_TAKEN) == 100.0
    assert first_available(ASKS, {100.0: 1.0}) == 100.5
    assert first_available(ASKS, {100.0: 1.0, 100.5: 2.0, 101.0: 3.0}) is None
    assert first_available([], NOTHING_TAKEN) is None


def test_band_limit_is_bps_beyond_the_best() -> None:
    assert band_limit(100.0, True, 100.0) == pytest.approx(101.0)
    assert band_limit(100.0, False, 100.0) == pytest.approx(99.0)
    assert band_limit(20_000.0, True, 5.0) == pytest.approx(20_010.0)


def test_vwap_of_nothing() -> None:
    assert vwap([]) == 0.0


# ----------------------------------------------------------------- property: a unit-lot reference


def reference_walk(
    levels: list[tuple[int, int]], qty: int, limit: int, taken: dict[int, int]
) -> list[tuple[float, float]]:
    """Buy `qty` unit lots, one at a time, from a queue of every available lot in price order
    (integers, so every sum is exact)."""
    lots = [
        price
        for price, size in sorted(levels)
        if price <= limit
        for _ in range(max(size - taken.get(price, 0), 0))
    ]
    bought: dict[int, int] = {}
    for price in lots[:qty]:
        bought[price] = bought.get(price, 0) + 1
    return [(float(price), float(n)) for price, n in sorted(bought.items())]


book_levels = st.dictionaries(
    st.integers(min_value=90, max_value=110), st.integers(min_value=1, max_value=6), max_size=8
)


@given(
    levels=book_levels,
    qty=st.integers(min_value=1, max_value=40),
    limit=st.integers(min_value=85, max_value=115),
    data=st.data(),
)
def test_walk_matches_buying_unit_lots_in_price_order(
    levels: dict[int, int], qty: int, limit: int, data: st.DataObject
) -> None:
    taken = {
        price: data.draw(st.integers(min_value=0, max_value=size + 1), label=f"taken@{price}")
        for price, size in levels.items()
    }
    asks = sorted(levels.items())
    fills = walk(
        [(float(p), float(s)) for p, s in asks],
        float(qty),
        float(limit),
        True,
        {float(p): float(t) for p, t in taken.items()},
    )
    assert fills == reference_walk(asks, qty, limit, taken)
    # the same book seen from the bid side, prices negated: a sell is the mirror of a buy
    bids = [(float(-p), float(s)) for p, s in asks]
    mirrored = walk(bids, float(qty), float(-limit), False, {-p: t for p, t in taken.items()})
    assert [(-p, q) for p, q in mirrored] == fills
