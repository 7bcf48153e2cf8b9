"""The engine's per-trade loops read a Trade's fields from their slots (_trade_fields.pxd): the
same trades as a Trade, as a subclass of it and as a plain object (both read by attribute)
give the same ring, flow, candle summary and footprints; a trade missing a field raises before
the ring changes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.test_recent_trades import trades_st

from scalper.candles import summarize
from scalper.engine import RecentTrades
from scalper.events import BUY, Trade, TradeBatch
from scalper.flow import TradeFlow
from scalper.footprint import Footprints


class _TradeSubclass(Trade):
    """Not exactly a Trade: read by attribute."""


def _as(kind: str, trade: Trade) -> Any:
    fields = msgspec.structs.asdict(trade)
    if kind == "subclass":
        return _TradeSubclass(**fields)
    if kind == "object":
        return SimpleNamespace(**fields)
    return trade


def _digest(trades: list[Any]) -> tuple[Any, ...]:
    ring = RecentTrades("BTCUSDT", 5)
    ring.extend(trades)
    flow = TradeFlow()
    sides = flow.add_batch(trades)
    summary = summarize(trades, sides)
    footprints = Footprints(tick_sizes={"BTCUSDT": "0.01"})
    ordered = sorted(trades, key=lambda trade: trade.ts_event_ns)
    if ordered:
        footprints.on_trades(TradeBatch("BTCUSDT", ordered, ordered[-1].ts_event_ns, 0))
    now = ordered[-1].ts_event_ns if ordered else 0
    view = footprints.view("BTCUSDT", 10, now)
    profile = footprints.profile("BTCUSDT", ordered[-1].price if ordered else None, 20)
    return list(ring), sides, flow.totals, summary, view, profile


@settings(max_examples=100, deadline=None)
@given(st.lists(trades_st, max_size=8))
def test_slots_and_attributes_give_the_same_state(trades: list[Trade]) -> None:
    want = _digest(trades)
    for kind in ("subclass", "object"):
        assert _digest([_as(kind, trade) for trade in trades]) == want


def test_a_trade_missing_a_field_leaves_the_ring_as_it_was() -> None:
    ring = RecentTrades("BTCUSDT", 3)
    good = Trade("BTCUSDT", 1.0, 2.0, BUY, 10, 11)
    ring.extend([good])
    broken = SimpleNamespace(**msgspec.structs.asdict(good))
    del broken.trade_id
    with pytest.raises(AttributeError):
        ring.extend([broken])
    with pytest.raises(TypeError):
        ring.extend([SimpleNamespace(**{**msgspec.structs.asdict(good), "price": "x"})])
    assert list(ring) == [good]
