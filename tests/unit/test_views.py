"""views: the read-only values of engine state, checked against figures worked out by hand."""

from __future__ import annotations

import msgspec
import pytest

from scalper.aggregates import Candle, FlowTotals
from scalper.api.responses import basic_view, trade_view
from scalper.engine import Engine
from scalper.events import BUY, SELL, BookUpdate, Trade, TradeBatch
from scalper.settings import EngineSettings
from scalper.views import (
    CANDLE_DERIVED,
    FLOW_DERIVED,
    book_view,
    candle_view,
    engine_view,
    flow_view,
    symbol_view,
)

SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC  # a multiple of every timeframe below


def engine_with_a_known_state() -> Engine:
    """BTCUSDT: bids 100 x 2, 99 x 5; asks 101 x 1, 102 x 4; trades buy 3 @ 101, sell 1 @ 100
    at t0 + 1 s, then buy 2 @ 101 at t0 + 61 s."""
    engine = Engine(EngineSettings(timeframes=("1m",), flow_windows=("10s", "1m")))
    book = BookUpdate(
        "BTCUSDT",
        50,
        True,
        [(100.0, 2.0), (99.0, 5.0)],
        [(101.0, 1.0), (102.0, 4.0)],
        1,
        0,
        T0,
        T0,
    )
    engine.on_event(book)
    trades = [
        Trade("BTCUSDT", 101.0, 3.0, BUY, T0 + SEC, T0 + SEC, "a"),
        Trade("BTCUSDT", 100.0, 1.0, SELL, T0 + SEC, T0 + SEC, "b"),
    ]
    engine.on_event(TradeBatch("BTCUSDT", trades, T0 + SEC, T0 + SEC))
    late = [Trade("BTCUSDT", 101.0, 2.0, BUY, T0 + 61 * SEC, T0 + 61 * SEC, "c")]
    engine.on_event(TradeBatch("BTCUSDT", late, T0 + 61 * SEC, T0 + 61 * SEC))
    return engine


def test_book_view_figures() -> None:
    state = engine_with_a_known_state().symbols["BTCUSDT"]
    view = book_view(state.book, 1)  # type: ignore[arg-type]
    assert (view.best_bid, view.best_ask) == ((100.0, 2.0), (101.0, 1.0))
    assert (view.mid, view.spread) == (100.5, 1.0)
    assert view.spread_bps == pytest.approx(1.0 / 100.5 * 10_000)
    # (100 x 1 + 101 x 2) / 3 = 100.666...: prices of no decimals (no tick size known), so the
    # microprice keeps two, the mid one, the spread none
    assert view.microprice == 100.67
    assert (view.bids, view.asks) == ([(100.0, 2.0)], [(101.0, 1.0)])  # the top 1 level
    assert (view.depth, view.venue_depth, view.state, view.update_id) == (1, 50, "in_sync", 1)


def test_flow_and_candle_views_carry_the_fields_and_their_derived_figures() -> None:
    totals = FlowTotals(5.0, 1.0, 2, 1, 505.0, 100.0)
    assert msgspec.structs.asdict(flow_view(totals)) == {
        **msgspec.structs.asdict(totals),
        "delta": 4.0,
        "volume": 6.0,
        "delta_quote": 405.0,
        "volume_quote": 605.0,
        "delta_usd": 405.0,
        "volume_usd": 605.0,
    }
    candle = Candle(T0, 101.0, 101.0, 100.0, 100.0, 4.0, 403.0, 2, 3.0, 1.0, 0.5, 303.0, 100.0)
    assert msgspec.structs.asdict(candle_view(candle)) == {
        **msgspec.structs.asdict(candle),
        "delta": 2.0,
        "vwap": 403.0 / 4.0,
        "delta_quote": 203.0,
        "delta_usd": 203.0,
        "volume_usd": 403.0,
    }
    assert FLOW_DERIVED[:4] == ("delta", "volume", "delta_quote", "volume_quote")
    assert CANDLE_DERIVED[:3] == ("delta", "vwap", "delta_quote")


def test_views_carry_no_float_noise() -> None:
    """0.1 + 0.2 is 0.30000000000000004 in floats; a view says 0.3. A spread of a 5-digit
    price is rounded to the price's decimals."""
    totals = FlowTotals(0.1 + 0.2, 0.0, 2, 0, 0.0, 0.0)
    assert flow_view(totals).buy_volume == 0.3  # type: ignore[attr-defined]
    engine = Engine()
    engine.on_event(BookUpdate("B", 50, True, [(97000.4, 1.0)], [(97000.5, 1.0)], 1, 0, SEC, SEC))
    view = book_view(engine.symbols["B"].book, 1)  # type: ignore[arg-type]
    assert 97000.5 - 97000.4 != 0.1 and view.spread == 0.1
    assert view.mid == 97000.45
    tick = book_view(engine.symbols["B"].book, 1, tick_size="0.10")  # type: ignore[arg-type]
    assert tick.spread == 0.1 and tick.microprice == 97000.45


def test_a_trades_notional_carries_no_float_noise() -> None:
    """0.1 * 3 is 0.30000000000000004 in floats; the tape's notional says 0.3."""
    trade = Trade("B", 0.1, 3.0, BUY, T0, T0)
    assert trade.price * trade.size != 0.3
    view = trade_view(trade, large_notional=0.3)
    assert (view.price, view.size, view.notional, view.large) == (0.1, 3.0, 0.3, True)


def test_symbol_view_windows_candles_and_counters() -> None:
    engine = engine_with_a_known_state()
    view = symbol_view(engine, engine.symbols["BTCUSDT"], levels=2)
    assert view.cumulative.buy_volume == 5.0 and view.cumulative.sell_volume == 1.0
    assert view.cumulative.delta == 4.0
    # "now" is t0 + 61 s: the 10 s window holds only the last buy, 1 m also the first pair
    # is out (its bucket starts 60 s before "now"'s bucket start: (t0 + 1 s) is excluded).
    assert (view.windows["10s"].buy_volume, view.windows["10s"].sell_volume) == (2.0, 0.0)
    assert (view.windows["1m"].buy_volume, view.windows["1m"].sell_volume) == (2.0, 0.0)
    (closed,) = view.candles["1m"]  # the first minute closed when the t0 + 61 s trade came
    assert (closed.open, closed.high, closed.low, closed.close) == (101.0, 101.0, 100.0, 100.0)
    assert (closed.volume, closed.buy_volume, closed.sell_volume, closed.trades) == (4, 3, 1, 2)
    assert closed.delta == 2.0 and closed.vwap == pytest.approx((303.0 + 100.0) / 4.0)
    assert (closed.buy_turnover, closed.sell_turnover, closed.delta_quote) == (303.0, 100.0, 203.0)
    assert view.counters.trades == 3 and view.counters.book_frames == 1
    assert view.book is not None and view.book.bids == [(100.0, 2.0), (99.0, 5.0)]
    assert view.walls is not None and view.walls.bids[0].price == 99.0  # the larger level


def test_engine_view_lists_symbols_sorted_with_engine_counters() -> None:
    engine = engine_with_a_known_state()
    engine.on_event(BookUpdate("AAAUSDT", 50, True, [(1.0, 1.0)], [(2.0, 1.0)], 7, 0, T0, T0))
    view = engine_view(engine, 1)
    assert list(view["symbols"]) == ["AAAUSDT", "BTCUSDT"]  # type: ignore[call-overload]
    assert view["frames"] == 4 and view["clock_ns"] == T0 + 61 * SEC
    assert view["malformed"] == {}


# mid 1000.0; 10 / 25 / 50 bps are 1.0 / 2.5 / 5.0 either side of it
HAND_BIDS = [(999.5, 2.0), (999.0, 3.0), (997.0, 4.0), (990.0, 10.0)]
HAND_ASKS = [(1000.5, 1.0), (1001.5, 2.0), (1003.0, 5.0), (1010.0, 1.0)]
HAND_IMBALANCE = {
    "book": 19 / 28,  # bids 2 + 3 + 4 + 10, asks 1 + 2 + 5 + 1
    "top1": 2 / 3,
    "top5": 19 / 28,  # four levels a side: top 5, 10 and 25 are the whole book
    "top10": 19 / 28,
    "top25": 19 / 28,
    "bps10": 5 / 6,  # bids >= 999.0: 2 + 3; asks <= 1001.0: 1
    "bps25": 5 / 8,  # bids >= 997.5: 5; asks <= 1002.5: 1 + 2
    "bps50": 9 / 17,  # bids >= 995.0: 2 + 3 + 4; asks <= 1005.0: 1 + 2 + 5
}
# sizes against the side's median: bids 2, 3, 4, 10 (3.5); asks 1, 1, 2, 5 (1.5), the tie of
# size 1 broken by the higher price
HAND_WALLS = {
    "bids": [(990.0, 10.0, 10 / 3.5), (997.0, 4.0, 4 / 3.5), (999.0, 3.0, 3 / 3.5)],
    "asks": [(1003.0, 5.0, 5 / 1.5), (1001.5, 2.0, 2 / 1.5), (1010.0, 1.0, 1 / 1.5)],
}


def engine_with_a_hand_worked_book() -> Engine:
    engine = Engine()
    engine.on_event(BookUpdate("ETHUSDT", 50, True, HAND_BIDS, HAND_ASKS, 1, 0, T0, T0))
    return engine


def test_symbol_view_imbalance_set_and_walls_are_the_hand_worked_figures() -> None:
    engine = engine_with_a_hand_worked_book()
    view = symbol_view(engine, engine.symbols["ETHUSDT"], levels=4)

    assert view.imbalance is not None and view.walls is not None
    assert msgspec.structs.asdict(view.imbalance.values) == HAND_IMBALANCE
    assert view.imbalance.label == "bid_pressure"  # top 10: 19 / 28 > 0.6
    walls = {
        side: [(w.price, w.size, w.relative_size) for w in getattr(view.walls, side)]
        for side in ("bids", "asks")
    }
    assert walls == HAND_WALLS


def test_the_served_imbalance_set_has_six_decimals_and_the_unrounded_label() -> None:
    engine = Engine()
    bids, asks = [(99.0, 2.0)], [(101.0, 1.0)]
    engine.on_event(BookUpdate("B", 50, True, bids, asks, 1, 0, T0, T0))
    view = basic_view(engine, engine.symbols["B"], None, T0)
    assert view.imbalance is not None
    assert view.imbalance.values.top1 == 0.666667 and view.imbalance.values.book == 0.666667
    assert view.imbalance.label == "bid_pressure"
