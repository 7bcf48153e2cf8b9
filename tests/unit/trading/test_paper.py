"""trading.paper: the paper broker's fill rules on hand-built books, its clock and its memory.

Every scenario is fed the way the trading core feeds it: the engine's `OrderBook` applies an
update, then the broker hears of it. Latencies are constant (no jitter) unless a test says
otherwise: entry 1 ms, response 2 ms, so every time below is exact. Numbers are worked out by
hand in the comments.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.book import OrderBook
from scalper.events import BUY as BUYER
from scalper.events import SELL as SELLER
from scalper.events import (
    UNKNOWN_SIDE,
    BookUpdate,
    Level,
    TickerFields,
    TickerUpdate,
    Trade,
    TradeBatch,
)
from scalper.settings import PaperSettings
from scalper.trading.orders import (
    BUY,
    SELL,
    ExecutionEvent,
    Fill,
    FundingPayment,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from scalper.trading.paper import BrokerUsageError, PaperBroker

MS = 1_000_000
T0 = 1_700_000_000_000 * MS
SYMBOL = "BTCUSDT"
TAKER = 0.00055
MAKER = 0.0002

ASKS = [(100.0, 1.0), (100.5, 2.0), (101.0, 3.0)]
BIDS = [(99.5, 10.0), (99.0, 5.0)]


def at(ms: float) -> int:
    return T0 + round(ms * MS)


class Venue:
    """One symbol's engine book and a paper broker fed after each update, as the core does."""

    def __init__(
        self,
        bids: Sequence[Level] = BIDS,
        asks: Sequence[Level] = ASKS,
        **settings: object,
    ) -> None:
        defaults: dict[str, object] = {
            "entry_latency_ms": 1.0,
            "response_latency_ms": 2.0,
            "latency_jitter_ms": 0.0,
        }
        self.broker = PaperBroker(PaperSettings(**{**defaults, **settings}))  # type: ignore[arg-type]
        self.events: list[ExecutionEvent] = []
        self.broker.set_sink(self.events.append)
        self.book = OrderBook(SYMBOL, 50)
        self.update_id = 0
        self.book_update(0.0, bids, asks, snapshot=True)

    # -- market data, engine first, then the broker

    def book_update(
        self,
        ms: float,
        bids: Sequence[Level] = (),
        asks: Sequence[Level] = (),
        *,
        snapshot: bool = False,
    ) -> None:
        self.update_id += 1
        update = BookUpdate(
            SYMBOL, 50, snapshot, list(bids), list(asks), self.update_id, 0, at(ms), at(ms)
        )
        self.book.apply(update)
        assert self.book.in_sync, self.book.out_of_sync_reason
        self.broker.on_book(update, self.book)

    def trade(self, ms: float, price: float, size: float, side: int) -> None:
        trade = Trade(SYMBOL, price, size, side, at(ms), at(ms))
        self.broker.on_trades(TradeBatch(SYMBOL, [trade], at(ms), at(ms)))

    def ticker(self, ms: float, fields: TickerFields, *, snapshot: bool = True) -> None:
        self.broker.on_ticker(TickerUpdate(SYMBOL, snapshot, fields, at(ms), at(ms)))

    def advance(self, ms: float) -> None:
        self.broker.advance_to(at(ms))

    # -- orders

    def submit(
        self,
        client_id: str,
        side: int,
        qty: float,
        price: float | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        *,
        ms: float = 0.0,
        reduce_only: bool = False,
        symbol: str = SYMBOL,
    ) -> None:
        self.broker.submit(
            OrderRequest(
                client_id=client_id,
                symbol=symbol,
                side=side,
                qty=qty,
                order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
                time_in_force=tif,
                price=price,
                reduce_only=reduce_only,
                decided_ns=at(ms),
            )
        )

    # -- what the trader heard

    def fills(self, client_id: str | None = None) -> list[Fill]:
        return [
            e
            for e in self.events
            if isinstance(e, Fill) and (client_id is None or e.client_id == client_id)
        ]

    def updates(self, client_id: str) -> list[OrderUpdate]:
        return [
            e for e in self.events if isinstance(e, OrderUpdate) and e.order.client_id == client_id
        ]

    def statuses(self, client_id: str) -> list[OrderStatus]:
        return [u.order.status for u in self.updates(client_id)]

    def last(self, client_id: str) -> OrderUpdate:
        return self.updates(client_id)[-1]


NEW, PARTIAL, FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
CANCELLED, REJECTED = OrderStatus.CANCELLED, OrderStatus.REJECTED


# ----------------------------------------------------------------------------- taker orders


def test_market_order_walks_three_levels_at_vwap_with_the_taker_fee() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 4.0)  # band: 100 * 1.01 = 101, so all three levels are in it
    venue.advance(3)
    fills = venue.fills("m1")
    assert [(f.price, f.qty) for f in fills] == [(100.0, 1.0), (100.5, 2.0), (101.0, 1.0)]
    # fees: 100*1*0.00055 = 0.055, 201*0.00055 = 0.11055, 101*0.00055 = 0.05555
    assert [f.fee for f in fills] == pytest.approx([0.055, 0.11055, 0.05555])
    assert all(f.liquidity is Liquidity.TAKER for f in fills)
    assert venue.statuses("m1") == [NEW, FILLED]
    done = venue.last("m1").order
    # VWAP (100 + 201 + 101) / 4 = 100.5
    assert (done.filled_qty, done.avg_price) == (4.0, pytest.approx(100.5))
    assert venue.broker.position(SYMBOL) == 4.0


def test_market_sell_walks_the_bids() -> None:
    venue = Venue()
    venue.submit("s1", SELL, 12.0)
    venue.advance(3)
    # 10 at 99.5, 2 at 99.0 (band 99.5 * 0.99 = 98.505)
    assert [(f.price, f.qty) for f in venue.fills("s1")] == [(99.5, 10.0), (99.0, 2.0)]
    assert venue.broker.position(SYMBOL) == -12.0


def test_market_order_beyond_the_slippage_band_is_cut_there() -> None:
    venue = Venue(asks=[(100.0, 1.0), (100.5, 1.0), (102.0, 5.0)])
    venue.submit("m1", BUY, 3.0)  # band 101: 102 is out of it
    venue.advance(3)
    assert [(f.price, f.qty) for f in venue.fills("m1")] == [(100.0, 1.0), (100.5, 1.0)]
    last = venue.last("m1").order
    assert (last.status, last.filled_qty) == (CANCELLED, 2.0)
    assert "slippage band" in last.reason


def test_a_narrower_band_from_the_settings() -> None:
    venue = Venue(market_slippage_bps=10.0)  # band 100 * 1.001 = 100.1: the best level only
    venue.submit("m1", BUY, 3.0)
    venue.advance(3)
    assert [(f.price, f.qty) for f in venue.fills("m1")] == [(100.0, 1.0)]
    assert venue.last("m1").order.status is CANCELLED


def test_market_order_without_liquidity_is_cancelled() -> None:
    venue = Venue(asks=[])
    venue.submit("m1", BUY, 1.0)
    venue.advance(3)
    assert venue.fills() == []
    assert venue.statuses("m1") == [NEW, CANCELLED]
    assert "no ask" in venue.last("m1").order.reason


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    venue = Venue()
    venue.submit("i1", BUY, 5.0, 100.5, TimeInForce.IOC)
    venue.advance(3)
    assert [(f.price, f.qty) for f in venue.fills("i1")] == [(100.0, 1.0), (100.5, 2.0)]
    last = venue.last("i1").order
    assert (last.status, last.filled_qty) == (CANCELLED, 3.0)
    # the VWAP of 1 at 100 and 2 at 100.5 is 301/3
    assert last.avg_price == pytest.approx(301 / 3)
    assert "immediate-or-cancel" in last.reason
    assert venue.broker.open_orders() == []


def test_fok_is_killed_when_the_limit_holds_too_little() -> None:
    venue = Venue()
    venue.submit("f1", BUY, 5.0, 100.5, TimeInForce.FOK)  # 3 at or below 100.5
    venue.advance(3)
    assert venue.fills() == []
    last = venue.last("f1").order
    assert (last.status, last.filled_qty) == (CANCELLED, 0.0)
    assert "fill-or-kill: only 3 of 5" in last.reason
    assert venue.broker.position(SYMBOL) == 0.0


def test_fok_fills_in_full_when_it_can() -> None:
    venue = Venue()
    venue.submit("f1", BUY, 3.0, 100.5, TimeInForce.FOK)
    venue.advance(3)
    assert [(f.price, f.qty) for f in venue.fills("f1")] == [(100.0, 1.0), (100.5, 2.0)]
    assert venue.statuses("f1") == [NEW, FILLED]


def test_post_only_that_would_cross_is_cancelled() -> None:
    venue = Venue()
    venue.submit("p1", BUY, 1.0, 100.0, TimeInForce.POST_ONLY)
    venue.advance(3)
    assert venue.fills() == []
    assert venue.statuses("p1") == [NEW, CANCELLED]
    assert "post-only order would take liquidity" in venue.last("p1").order.reason


def test_post_only_that_would_not_cross_rests() -> None:
    venue = Venue()
    venue.submit("p1", BUY, 1.0, 99.9, TimeInForce.POST_ONLY)
    venue.advance(3)
    assert venue.statuses("p1") == [NEW]
    assert [o.client_id for o in venue.broker.open_orders()] == ["p1"]


def test_a_marketable_gtc_limit_takes_then_rests_the_rest() -> None:
    venue = Venue()
    venue.submit("g1", BUY, 2.0, 100.0)
    venue.advance(3)
    assert [(f.price, f.qty, f.liquidity) for f in venue.fills("g1")] == [
        (100.0, 1.0, Liquidity.TAKER)
    ]
    assert venue.statuses("g1") == [NEW, PARTIAL]
    (resting,) = venue.broker.open_orders()
    assert (resting.client_id, resting.remaining) == ("g1", 1.0)


# ----------------------------------------------------------------------------- resting orders


def test_queue_advances_by_opposite_trades_and_fills_by_the_excess() -> None:
    venue = Venue()  # 10 bid at 99.5
    venue.submit("b1", BUY, 2.0, 99.5)  # front = 10
    venue.advance(1)
    venue.trade(5, 99.5, 4.0, SELLER)  # front 6
    venue.trade(6, 99.5, 50.0, BUYER)  # a buyer at our price does not reach our queue
    venue.advance(20)
    assert venue.fills() == []
    venue.trade(21, 99.5, 7.0, SELLER)  # front -1: the excess, 1, fills
    venue.advance(23)
    (first,) = venue.fills("b1")
    assert (first.price, first.qty, first.liquidity) == (99.5, 1.0, Liquidity.MAKER)
    assert first.fee == pytest.approx(99.5 * 1.0 * MAKER)  # 0.0199
    assert first.ts_ns == at(21)
    assert venue.statuses("b1") == [NEW, PARTIAL]
    venue.trade(30, 99.5, 5.0, SELLER)  # at the head now: 5 more, 1 left to fill
    venue.advance(40)
    assert [f.qty for f in venue.fills("b1")] == [1.0, 1.0]
    assert venue.statuses("b1") == [NEW, PARTIAL, FILLED]
    assert venue.broker.position(SYMBOL) == 2.0


def test_a_trade_of_unknown_side_at_our_price_counts() -> None:
    venue = Venue()
    venue.submit("b1", BUY, 2.0, 99.5)
    venue.advance(1)
    venue.trade(5, 99.5, 11.0, UNKNOWN_SIDE)  # 10 ahead, 1 to us
    venue.advance(10)
    assert [f.qty for f in venue.fills("b1")] == [1.0]


def test_queue_advance_by_cancels_power3() -> None:
    venue = Venue(bids=[(99.5, 4.0)])
    venue.submit("b1", BUY, 2.0, 99.5)  # front 4
    venue.advance(1)
    venue.book_update(2, bids=[(99.5, 10.0)])  # 6 join behind us: front 4, back 6
    # 3 cancelled: p = 6^3 / (6^3 + 4^3) = 216/280; front = 4 - (64/280)*3 + 0 = 116/35
    venue.book_update(3, bids=[(99.5, 7.0)])
    venue.trade(4, 99.5, 3.3, SELLER)  # front 116/35 - 3.3 = 1/70: no fill
    venue.advance(10)
    assert venue.fills() == []
    venue.trade(11, 99.5, 1.0, SELLER)  # front 1/70 - 1 = -69/70: fills 69/70
    venue.advance(20)
    assert [f.qty for f in venue.fills("b1")] == [pytest.approx(69 / 70)]


def test_queue_advance_by_cancels_risk_averse() -> None:
    venue = Venue(bids=[(99.5, 4.0)], queue_model="risk_averse")
    venue.submit("b1", BUY, 2.0, 99.5)
    venue.advance(1)
    venue.book_update(2, bids=[(99.5, 10.0)])
    venue.book_update(3, bids=[(99.5, 7.0)])  # cancels are behind us: front min(4, 7) = 4
    venue.trade(4, 99.5, 3.3, SELLER)  # front 0.7
    venue.trade(11, 99.5, 1.0, SELLER)  # front -0.3: fills 0.3
    venue.advance(20)
    assert [f.qty for f in venue.fills("b1")] == [pytest.approx(0.3)]


def test_the_level_shrinking_below_our_estimate_moves_us_up() -> None:
    venue = Venue(bids=[(99.5, 4.0)], queue_model="risk_averse")
    venue.submit("b1", BUY, 2.0, 99.5)  # front 4
    venue.advance(1)
    venue.book_update(2, bids=[(99.5, 1.0)])  # front min(4, 1) = 1
    venue.trade(3, 99.5, 1.5, SELLER)  # front -0.5
    venue.advance(10)
    assert [f.qty for f in venue.fills("b1")] == [pytest.approx(0.5)]


def test_a_trade_through_our_price_fills_in_full() -> None:
    venue = Venue()
    venue.submit("b1", BUY, 2.0, 99.5)  # 10 ahead, yet:
    venue.submit("a1", SELL, 1.5, 101.0, ms=0.1)
    venue.advance(1.1)
    venue.trade(5, 99.0, 0.1, SELLER)  # a seller got 99.0: our 99.5 bid would have gone first
    venue.trade(6, 101.5, 0.1, BUYER)  # a buyer paid 101.5: our 101.0 ask would have gone first
    venue.advance(10)
    b1, a1 = venue.fills("b1"), venue.fills("a1")
    assert [(f.price, f.qty, f.liquidity) for f in b1] == [(99.5, 2.0, Liquidity.MAKER)]
    assert [(f.price, f.qty, f.liquidity) for f in a1] == [(101.0, 1.5, Liquidity.MAKER)]
    assert venue.statuses("b1")[-1] is FILLED and venue.statuses("a1")[-1] is FILLED


def test_the_opposite_best_reaching_our_price_fills_in_full() -> None:
    venue = Venue(bids=[(99.0, 5.0)], asks=[(100.0, 1.0), (100.5, 2.0)])
    venue.submit("b1", BUY, 2.0, 99.5)  # inside the spread: nobody ahead
    venue.advance(1)
    venue.book_update(5, asks=[(100.0, 0.0), (100.5, 0.0), (99.5, 3.0)])  # asks fall to 99.5
    venue.advance(10)
    assert [(f.price, f.qty, f.liquidity) for f in venue.fills("b1")] == [
        (99.5, 2.0, Liquidity.MAKER)
    ]
    assert venue.statuses("b1") == [NEW, FILLED]
    # the cross took 2 of the 3 at 99.5: a market buy gets the 1 left, not 3
    venue.submit("m1", BUY, 2.0, ms=10)
    venue.advance(20)
    assert [(f.price, f.qty) for f in venue.fills("m1")] == [(99.5, 1.0)]


def test_two_of_our_orders_at_one_price_queue_one_behind_the_other() -> None:
    venue = Venue(bids=[(99.5, 1.0)])
    venue.submit("b1", BUY, 1.0, 99.5)  # front 1
    venue.submit("b2", BUY, 1.0, 99.5)  # front 1 + our 1 = 2
    venue.advance(2)
    venue.trade(5, 99.5, 2.5, SELLER)  # 1 to the crowd, 1 to b1, 0.5 to b2
    venue.advance(10)
    assert [f.qty for f in venue.fills("b1")] == [1.0]
    assert [f.qty for f in venue.fills("b2")] == [0.5]


# ----------------------------------------------------------------------------- consumed liquidity


def test_the_same_displayed_liquidity_is_not_filled_twice() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 1.0)
    venue.submit("m2", BUY, 1.0, ms=0.5)
    venue.advance(5)
    # m1 took the 1 at 100.0; the book still shows it, but m2 gets 100.5
    assert [f.price for f in venue.fills("m1")] == [100.0]
    assert [f.price for f in venue.fills("m2")] == [100.5]
    assert venue.broker.consumed_levels() == 2
    venue.book_update(6, asks=[(101.0, 4.0)])  # fresh data elsewhere: 100.0 stays taken
    venue.submit("m3", BUY, 1.0, ms=6)
    venue.advance(10)
    assert [f.price for f in venue.fills("m3")] == [100.5]
    venue.book_update(11, asks=[(100.0, 1.0)])  # fresh data at 100.0: available again
    venue.submit("m4", BUY, 1.0, ms=11)
    venue.advance(15)
    assert [f.price for f in venue.fills("m4")] == [100.0]


def test_a_snapshot_refreshes_every_level() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 3.0)
    venue.advance(5)
    assert venue.broker.consumed_levels() == 2
    venue.book_update(6, BIDS, ASKS, snapshot=True)
    assert venue.broker.consumed_levels() == 0


# ----------------------------------------------------------------------------- latency


def test_an_order_acts_on_the_book_when_it_arrives_not_when_decided() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 1.0)  # decided at 0, arrives at 1 ms
    venue.book_update(0.5, asks=[(100.0, 0.0)])  # the 100.0 level vanishes meanwhile
    venue.advance(3)
    assert [f.price for f in venue.fills("m1")] == [100.5]


def test_events_after_the_arrival_do_not_reach_the_order() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 1.0)  # arrives at 1 ms
    # the engine applies this update before the broker hears of it; the order, 0.5 ms
    # earlier, still finds the 100.0 level (the broker's copy of the book)
    venue.book_update(1.5, asks=[(100.0, 0.0), (99.9, 5.0)])
    venue.advance(3)
    assert [f.price for f in venue.fills("m1")] == [100.0]
    assert venue.broker.shadow_books() == 0


def test_an_event_at_the_arrival_time_goes_first() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 1.0)
    venue.book_update(1, asks=[(100.0, 0.0)])
    venue.advance(3)
    assert [f.price for f in venue.fills("m1")] == [100.5]


def test_fills_reach_the_trader_after_the_response_latency() -> None:
    venue = Venue()
    venue.submit("b1", BUY, 1.0, 99.5)
    venue.advance(2.9)
    assert venue.events == []  # arrived at 1 ms, acknowledged at 1 + 2 ms
    venue.advance(3)
    assert venue.statuses("b1") == [NEW]
    assert venue.last("b1").ts_ns == at(1)  # the venue's time
    venue.trade(10, 99.0, 1.0, SELLER)  # through our price at 10 ms
    venue.advance(11.999)
    assert venue.fills() == []
    venue.advance(12)
    (fill,) = venue.fills("b1")
    assert fill.ts_ns == at(10)


def test_deliveries_keep_their_order_with_jitter() -> None:
    venue = Venue(latency_jitter_ms=5.0, seed=3)
    for i in range(20):
        venue.submit(f"m{i}", BUY if i % 2 else SELL, 0.1, ms=i * 0.1)
    venue.advance(500)
    stamps = [e.ts_ns for e in venue.events]
    assert stamps == sorted(stamps)
    assert len(venue.fills()) == 20


def test_requests_arrive_in_the_order_sent() -> None:
    venue = Venue(latency_jitter_ms=5.0, seed=11)
    venue.submit("b1", BUY, 1.0, 99.0)
    venue.broker.cancel("b1", at(0))  # sent right after: it never overtakes the order
    venue.advance(500)
    assert venue.statuses("b1") == [NEW, CANCELLED]
    assert venue.last("b1").order.reason == "cancelled on request"


# ----------------------------------------------------------------------------- funding

FUNDING_MS = 60_000.0
FUNDING_AT = T0 // MS + 60_000
"""The next funding time as the ticker gives it (ms since the epoch): 60 s after T0."""


def test_funding_at_the_funding_time_longs_pay_a_positive_rate() -> None:
    venue = Venue()
    venue.ticker(
        0, TickerFields(funding_rate=0.0001, mark_price=100.2, next_funding_time_ms=FUNDING_AT)
    )
    venue.submit("m1", BUY, 3.0)  # long 3
    venue.advance(FUNDING_MS - 1)
    assert [e for e in venue.events if isinstance(e, FundingPayment)] == []
    venue.advance(FUNDING_MS + 2)  # settled at the funding time, heard 2 ms later
    (payment,) = [e for e in venue.events if isinstance(e, FundingPayment)]
    # 3 * 100.2 * 0.0001 = 0.03006 paid
    assert payment.amount == pytest.approx(0.03006)
    assert (payment.position_qty, payment.mark_price, payment.rate) == (3.0, 100.2, 0.0001)
    assert payment.ts_ns == at(FUNDING_MS)
    # a ticker repeating the settled time pays nothing more
    venue.ticker(FUNDING_MS + 5, TickerFields(next_funding_time_ms=FUNDING_AT), snapshot=False)
    venue.advance(FUNDING_MS + 100)
    assert len([e for e in venue.events if isinstance(e, FundingPayment)]) == 1


def test_shorts_receive_a_positive_rate_at_the_mid_without_a_mark() -> None:
    venue = Venue()
    venue.ticker(0, TickerFields(funding_rate=0.0001, next_funding_time_ms=FUNDING_AT))
    venue.submit("s1", SELL, 2.0)  # short 2 at 99.5
    venue.advance(FUNDING_MS + 2)
    (payment,) = [e for e in venue.events if isinstance(e, FundingPayment)]
    # mid (99.5 + 100.0) / 2 = 99.75; -2 * 99.75 * 0.0001 = -0.01995: received
    assert payment.amount == pytest.approx(-0.01995)
    assert payment.mark_price == 99.75


def test_funding_uses_the_rate_known_before_a_ticker_at_the_funding_time() -> None:
    venue = Venue()
    venue.ticker(
        0, TickerFields(funding_rate=0.0001, mark_price=100.0, next_funding_time_ms=FUNDING_AT)
    )
    venue.submit("m1", BUY, 1.0)
    venue.advance(10)
    # the settlement's own ticker announces the next period's rate and time
    later = TickerFields(funding_rate=-0.0005, next_funding_time_ms=FUNDING_AT + 60_000)
    venue.ticker(FUNDING_MS, later, snapshot=False)
    venue.advance(FUNDING_MS + 2)
    (payment,) = [e for e in venue.events if isinstance(e, FundingPayment)]
    assert (payment.rate, payment.amount) == (0.0001, pytest.approx(0.01))
    venue.advance(2 * FUNDING_MS + 2)  # the next funding time: long 1 receives 0.05 %
    payments = [e for e in venue.events if isinstance(e, FundingPayment)]
    assert [p.amount for p in payments] == [pytest.approx(0.01), pytest.approx(-0.05)]


def test_no_position_no_funding() -> None:
    venue = Venue()
    venue.ticker(
        0, TickerFields(funding_rate=0.0001, mark_price=100.0, next_funding_time_ms=FUNDING_AT)
    )
    venue.advance(FUNDING_MS + 10)
    assert venue.events == []


# ----------------------------------------------------------------------------- reduce-only


def test_a_reduce_only_order_larger_than_the_position_is_cut_to_it() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 2.0)  # long 2 (1 at 100.0, 1 at 100.5)
    venue.submit("r1", SELL, 5.0, ms=0.5, reduce_only=True)
    venue.advance(5)
    new = venue.updates("r1")[0].order
    assert (new.status, new.request.qty) == (NEW, 2.0)
    assert new.reason == "reduce-only: qty cut from 5 to 2, the position"
    assert [(f.price, f.qty) for f in venue.fills("r1")] == [(99.5, 2.0)]
    assert venue.last("r1").order.status is FILLED
    assert venue.broker.position(SYMBOL) == 0.0


def test_a_reduce_only_order_that_would_open_or_add_is_rejected() -> None:
    venue = Venue()
    venue.submit("r0", SELL, 1.0, reduce_only=True)  # flat: nothing to reduce
    venue.submit("m1", BUY, 1.0, ms=0.5)
    venue.submit("r1", BUY, 1.0, ms=1, reduce_only=True)  # long: a buy adds
    venue.advance(10)
    assert venue.statuses("r0") == [REJECTED]
    assert venue.statuses("r1") == [REJECTED]
    assert "would open or add to a position (position 1)" in venue.last("r1").order.reason
    assert venue.broker.position(SYMBOL) == 1.0


def test_a_resting_reduce_only_order_shrinks_with_the_position() -> None:
    venue = Venue()
    venue.submit("m1", BUY, 2.0)  # long 2
    venue.submit("r1", SELL, 2.0, 101.5, ms=0.1, reduce_only=True)  # resting take-profit
    venue.submit("m2", SELL, 1.5, ms=0.2)  # long 0.5 left
    venue.advance(10)
    cut = venue.last("r1").order
    assert (cut.status, cut.request.qty, cut.remaining) == (NEW, 0.5, 0.5)
    assert "cut from 2 to 0.5" in cut.reason
    venue.submit("m3", SELL, 0.5, ms=10)  # flat
    venue.advance(20)
    gone = venue.last("r1").order
    assert (gone.status, gone.reason) == (CANCELLED, "reduce-only: no position left to reduce")
    assert venue.broker.open_orders() == []


# ----------------------------------------------------------------------------- rejects and cancels


def test_rejects_name_their_reason() -> None:
    venue = Venue()
    venue.submit("x1", BUY, 1.0, symbol="NOPEUSDT")
    venue.submit("x2", BUY, 0.0, 99.0)
    venue.submit("x3", BUY, -1.0)
    venue.submit("x4", BUY, 1.0, -5.0)
    venue.submit("x5", BUY, 1.0, None, TimeInForce.POST_ONLY)
    venue.advance(10)
    reasons = {cid: venue.last(cid).order.reason for cid in ("x1", "x2", "x3", "x4", "x5")}
    assert all(venue.statuses(cid) == [REJECTED] for cid in reasons)
    assert reasons["x1"] == "unknown symbol 'NOPEUSDT': no order book for it"
    assert reasons["x2"] == "qty must be positive, not 0.0"
    assert reasons["x3"] == "qty must be positive, not -1.0"
    assert reasons["x4"] == "a limit order needs a positive price, not -5.0"
    assert reasons["x5"] == "a market order cannot be post-only"
    assert venue.fills() == []


def test_a_duplicate_open_client_id_is_rejected() -> None:
    venue = Venue()
    venue.submit("b1", BUY, 1.0, 99.0)
    venue.submit("b1", BUY, 1.0, 98.0, ms=0.5)
    venue.advance(10)
    assert venue.statuses("b1") == [NEW, REJECTED]
    assert "duplicate client_id 'b1'" in venue.last("b1").order.reason
    assert [o.request.price for o in venue.broker.open_orders()] == [99.0]


def test_cancel_of_an_open_order_of_an_unknown_one_and_of_a_filled_one() -> None:
    venue = Venue()
    venue.submit("b1", BUY, 1.0, 99.0)
    venue.submit("m1", BUY, 1.0, ms=0.1)
    venue.advance(5)
    venue.broker.cancel("b1", at(5))
    venue.broker.cancel("ghost", at(5))
    venue.broker.cancel("m1", at(5))  # filled at 1.1 ms: too late
    venue.advance(10)
    assert venue.statuses("b1") == [NEW, CANCELLED]
    assert venue.last("ghost").order.status is REJECTED
    assert venue.last("ghost").order.reason == "cancel rejected: no order 'ghost'"
    assert venue.statuses("m1") == [NEW, FILLED, REJECTED]
    assert venue.last("m1").order.reason == "cancel rejected: order 'm1' is already filled"
    assert venue.broker.open_orders() == []


def test_an_order_for_an_out_of_sync_book_is_rejected() -> None:
    venue = Venue()
    venue.book.invalidate("test: a frame was lost")
    venue.submit("m1", BUY, 1.0)
    venue.advance(5)
    assert venue.statuses("m1") == [REJECTED]
    assert "no synced order book" in venue.last("m1").order.reason


def test_submit_needs_a_sink_and_the_sink_may_not_feed_market_data() -> None:
    broker = PaperBroker()
    request = OrderRequest(
        client_id="a",
        symbol=SYMBOL,
        side=BUY,
        qty=1.0,
        order_type=OrderType.MARKET,
        decided_ns=T0,
    )
    with pytest.raises(BrokerUsageError, match="set_sink"):
        broker.submit(request)
    venue = Venue()
    venue.broker.set_sink(lambda _event: venue.broker.advance_to(at(100)))
    venue.submit("m1", BUY, 1.0)
    with pytest.raises(BrokerUsageError, match="sink"):
        venue.advance(10)


def test_the_sink_may_submit_in_reply() -> None:
    venue = Venue()
    replies: list[ExecutionEvent] = []

    def take_profit(event: ExecutionEvent) -> None:
        replies.append(event)
        if isinstance(event, Fill) and event.client_id == "m1":
            venue.submit("tp", SELL, event.qty, 101.5, ms=(event.ts_ns - T0) / MS + 2)

    venue.broker.set_sink(take_profit)
    venue.submit("m1", BUY, 1.0)
    venue.advance(50)
    tp = [e for e in replies if isinstance(e, OrderUpdate) and e.order.client_id == "tp"]
    assert [u.order.status for u in tp] == [NEW]


def test_an_order_sent_from_the_sink_while_a_book_update_is_processed() -> None:
    venue = Venue()
    replies: list[ExecutionEvent] = []

    def buy_more(event: ExecutionEvent) -> None:
        replies.append(event)
        if isinstance(event, Fill) and event.client_id == "b1":
            venue.submit("m1", BUY, 1.0, ms=(event.ts_ns - T0) / MS + 2)

    venue.broker.set_sink(buy_more)
    venue.submit("b1", BUY, 1.0, 99.5)
    venue.trade(10, 99.0, 1.0, SELLER)  # fills b1 at 10 ms, heard at 12 ms
    # the fill is delivered while the broker catches up with this update, which the engine
    # has applied already: m1 cannot act before it, and finds 100.0 gone
    venue.book_update(20, asks=[(100.0, 0.0)])
    venue.advance(30)
    m1 = [e for e in replies if isinstance(e, Fill) and e.client_id == "m1"]
    assert [(f.price, f.ts_ns) for f in m1] == [(100.5, at(20))]


# ----------------------------------------------------------------------------- determinism, memory


def script(seed: int) -> list[bytes]:
    """A busy session with jitter: market, IOC, resting, queue fills, cancels, a delta."""
    venue = Venue(latency_jitter_ms=2.0, seed=seed)
    venue.submit("m1", BUY, 1.5)
    venue.submit("b1", BUY, 2.0, 99.5, ms=0.2)
    venue.submit("i1", SELL, 3.0, 99.0, TimeInForce.IOC, ms=0.4)
    venue.book_update(2, bids=[(99.5, 8.0)], asks=[(100.0, 2.0)])
    venue.trade(3, 99.5, 9.0, SELLER)
    venue.submit("a1", SELL, 1.0, 100.5, ms=3)
    venue.trade(6, 100.5, 3.0, BUYER)
    venue.broker.cancel("b1", at(7))
    venue.advance(100)
    return [msgspec.json.encode(e) for e in venue.events]


def test_same_seed_same_events_gives_the_same_fills() -> None:
    first, again = script(5), script(5)
    assert first == again
    assert any(b'"liquidity":"maker"' in e for e in first)
    assert script(6) != first  # another seed, other latencies


def test_memory_holds_only_what_is_open_or_undelivered() -> None:
    venue = Venue()
    for i in range(50):
        venue.submit(f"m{i}", BUY if i % 2 else SELL, 0.01, ms=i)
    venue.submit("b1", BUY, 1.0, 99.0, ms=60)
    venue.advance(70)
    broker = venue.broker
    assert (broker.undelivered(), broker.in_flight(), broker.shadow_books()) == (0, 0, 0)
    assert [o.client_id for o in broker.open_orders()] == ["b1"]
    venue.book_update(80, BIDS, ASKS, snapshot=True)
    assert broker.consumed_levels() == 0


def test_updates_carry_copies_of_the_order() -> None:
    venue = Venue()
    venue.submit("b1", BUY, 2.0, 99.5)
    venue.advance(3)
    venue.trade(5, 99.5, 11.0, SELLER)
    venue.trade(6, 99.5, 1.0, SELLER)
    venue.advance(10)
    assert [(u.order.status, u.order.filled_qty) for u in venue.updates("b1")] == [
        (NEW, 0.0),
        (PARTIAL, 1.0),
        (FILLED, 2.0),
    ]


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=6),
    orders=st.lists(
        st.tuples(st.integers(min_value=1, max_value=8), st.sampled_from(["market", "ioc"])),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(min_value=0, max_value=1_000),
)
def test_taker_orders_never_take_a_displayed_lot_twice(
    sizes: list[int], orders: list[tuple[int, str]], seed: int
) -> None:
    # asks 100.0, 100.1, ... one tick apart: all inside the 1 % band of the first ones
    asks = [(round(100.0 + 0.1 * i, 1), float(size)) for i, size in enumerate(sizes)]
    venue = Venue(asks=asks, latency_jitter_ms=1.0, seed=seed)
    for i, (qty, kind) in enumerate(orders):
        price = None if kind == "market" else asks[-1][0]
        venue.submit(f"o{i}", BUY, float(qty), price, TimeInForce.IOC, ms=i * 0.5)
    venue.advance(1_000)
    taken: dict[float, float] = {}
    for fill in venue.fills():
        taken[fill.price] = taken.get(fill.price, 0.0) + fill.qty
    for price, size in asks:
        assert taken.get(price, 0.0) <= size + 1e-9
    # the book holds sum(sizes); the orders ask for sum(qty): they get the smaller, exactly
    wanted = sum(qty for qty, _ in orders)
    assert sum(taken.values()) == pytest.approx(min(wanted, sum(sizes)))
    for i in range(len(orders)):
        final = venue.last(f"o{i}").order
        fills = venue.fills(f"o{i}")
        assert final.filled_qty == pytest.approx(sum(f.qty for f in fills))
        if fills:
            vwap = sum(f.price * f.qty for f in fills) / sum(f.qty for f in fills)
            assert final.avg_price == pytest.approx(vwap)
