"""RecentTrades (the per-symbol ring of last trades) against a deque of the same Trades."""

from __future__ import annotations

import gc
import sys
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.engine import RecentTrades
from scalper.events import BUY, SELL, UNKNOWN_SIDE, Trade

trades_st = st.builds(
    Trade,
    symbol=st.just("BTCUSDT"),
    price=st.floats(0.01, 1e6),
    size=st.floats(0.0, 1e4),
    side=st.sampled_from([BUY, SELL, UNKNOWN_SIDE]),
    ts_event_ns=st.integers(0, 2**62),
    recv_ns=st.integers(0, 2**62),
    trade_id=st.text(max_size=50),  # ids of up to 40 ASCII characters are kept in the row
    tick_direction=st.sampled_from([None, "PlusTick", "MinusTick", "", "Other"]),
    is_block_trade=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7), st.lists(st.lists(trades_st, max_size=9), max_size=12))
def test_ring_holds_what_a_deque_holds(maxlen: int, batches: list[list[Trade]]) -> None:
    ring = RecentTrades("BTCUSDT", maxlen)
    want: deque[Trade] = deque(maxlen=maxlen)
    for batch in batches:
        ring.extend(batch)
        want.extend(batch)
        assert len(ring) == len(want)
        assert list(ring) == list(want)
        if want:
            assert ring[-1] == want[-1] and ring[0] == want[0]
    assert bool(ring) == bool(want)


def test_index_out_of_range_and_bad_maxlen() -> None:
    ring = RecentTrades("X", 2)
    with pytest.raises(IndexError):
        ring[0]
    with pytest.raises(ValueError, match="maxlen"):
        RecentTrades("X", 0)


@pytest.mark.parametrize(
    "trade_id",
    [
        "".join(["a-long-id-", "x" * 40]),  # longer than a row holds: held by reference
        "".join(["non-ascii-", "\u00e9"]),
    ],
)
def test_strings_are_released_when_dropped_and_with_the_ring(trade_id: str) -> None:
    tick = "".join(["Rare", "Tick"])
    rare = _RareTick(tick)
    before = (sys.getrefcount(trade_id), sys.getrefcount(rare))
    ring = RecentTrades("X", 1)
    ring.extend([Trade("X", 1.0, 1.0, BUY, 1, 1, trade_id, rare)])
    assert (sys.getrefcount(trade_id), sys.getrefcount(rare)) == (before[0] + 1, before[1] + 1)
    assert ring[0].tick_direction is rare
    ring.extend([Trade("X", 1.0, 1.0, BUY, 2, 2, "other")])  # drops the first
    assert (sys.getrefcount(trade_id), sys.getrefcount(rare)) == before
    ring.extend([Trade("X", 1.0, 1.0, BUY, 3, 3, trade_id)])
    assert ring[0].trade_id is trade_id
    del ring
    gc.collect()
    assert (sys.getrefcount(trade_id), sys.getrefcount(rare)) == before


class _RareTick(str):
    """Not exactly a str: a row holds it by reference."""


def test_short_ascii_ids_are_kept_in_the_row_and_read_back_equal() -> None:
    trade_id = "".join(["20f43950-d8dd-5b31-9112-", "a178eb6023af"])
    before = sys.getrefcount(trade_id)
    ring = RecentTrades("X", 2)
    ring.extend([Trade("X", 1.0, 1.0, BUY, 1, 1, trade_id, "PlusTick")])
    assert sys.getrefcount(trade_id) == before  # copied, not held
    (kept,) = list(ring)
    assert kept.trade_id == trade_id and kept.tick_direction == "PlusTick"


def test_a_bad_trade_leaves_the_ring_as_it_was() -> None:
    ring = RecentTrades("X", 1)
    good = Trade("X", 1.0, 1.0, BUY, 1, 1, "a")
    ring.extend([good])
    with pytest.raises(AttributeError):
        ring.extend([object()])
    assert list(ring) == [good]
