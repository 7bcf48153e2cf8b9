"""The risk engine on hand-computed cases: sizing on BTCUSDT's real grid (tick 0.10, step 0.001,
min 0.001), the notional, leverage and position limits, the daily loss escalation ACTIVE ->
REDUCING -> HALTED, the kill switch, cooldown after a loss, the order-rate bucket, market-data
and execution-health refusals and halts."""

from __future__ import annotations

import pytest

from scalper.events import Instrument
from scalper.settings import RiskSettings
from scalper.trading.intents import CancelIntent, EnterIntent, ExitIntent
from scalper.trading.orders import (
    BUY,
    SELL,
    Fill,
    FundingPayment,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from scalper.trading.portfolio import Exposure, Portfolio
from scalper.trading.risk import (
    DAY_NS,
    Approved,
    BookState,
    CancelApproved,
    RefusalReason,
    Refused,
    RiskContext,
    RiskEngine,
    TradingState,
)
from scalper.trading.throttle import OrderRateLimiter

S = 1_000_000_000
T0 = 20_000 * DAY_NS + 3_600 * S  # 2024-10-04 01:00 UTC
BTC = Instrument("BTCUSDT", "Trading", "USDT", tick_size="0.10", qty_step="0.001", min_qty="0.001")
ETH = Instrument("ETHUSDT", "Trading", "USDT", tick_size="0.01", qty_step="0.01", min_qty="0.01")
WIDE = RiskSettings(max_notional_per_symbol=50_000.0, max_notional_total=100_000.0, max_leverage=5)


def book(ts_ns: int = T0, bid: float = 64_999.9, ask: float = 65_000.0, **kw) -> BookState:
    return BookState(bid=bid, ask=ask, in_sync=kw.get("in_sync", True), last_update_ns=ts_ns)


def context(ts_ns: int = T0, equity: float = 10_000.0, **kw) -> RiskContext:
    return RiskContext(
        ts_ns=ts_ns,
        equity=equity,
        instrument=kw.pop("instrument", BTC),
        book=kw.pop("book", book(ts_ns)),
        **kw,
    )


def enter(side: int = BUY, stop: float = 64_870.0, cid: str = "e1", **kw) -> EnterIntent:
    if kw.setdefault("order_type", OrderType.MARKET) is OrderType.MARKET:
        kw.setdefault("time_in_force", TimeInForce.IOC)
    return EnterIntent(
        client_id=cid, symbol="BTCUSDT", side=side, stop_price=stop, decided_ns=T0, **kw
    )


def exit_(cid: str = "x1", **kw) -> ExitIntent:
    return ExitIntent(client_id=cid, symbol="BTCUSDT", decided_ns=T0, **kw)


def approved(decision) -> Approved:
    assert isinstance(decision, Approved), decision
    return decision


def refused(decision) -> RefusalReason:
    assert isinstance(decision, Refused), decision
    return decision.reason


def order(cid: str, symbol: str, side: int, qty: float, price: float | None, **kw) -> Order:
    request = OrderRequest(
        client_id=cid,
        symbol=symbol,
        side=side,
        qty=qty,
        order_type=OrderType.LIMIT if price else OrderType.MARKET,
        price=price,
        reduce_only=kw.pop("reduce_only", False),
        decided_ns=T0,
    )
    return Order(request=request, status=kw.pop("status", OrderStatus.NEW), **kw)


# -- sizing -------------------------------------------------------------------------------------


def test_market_entry_is_sized_by_risk_from_the_far_touch_and_rounded_down():
    # risk 0.25 % of 10 000 = 25 USDT; entry at the ask 65 000.0, stop 64 870.0: 130 a BTC;
    # 25 / 130 = 0.19230... -> 0.192 on the 0.001 step (notional 12 480: within the limits)
    decision = approved(RiskEngine(WIDE).check(enter(), context()))
    request = decision.request
    assert request.qty == 0.192
    assert request.side == BUY and request.price is None and not request.reduce_only
    assert request.order_type is OrderType.MARKET and request.time_in_force is TimeInForce.IOC
    assert request.decision_mid == pytest.approx(64_999.95)
    assert decision.stop_price == 64_870.0
    assert decision.capped_by is None


def test_sizing_is_exact_where_float_division_would_lose_a_step():
    # 0.3 % of 1 000 = 3 USDT over a 10 USDT stop: exactly 0.3. In floats 3 / 10 / 0.001 is
    # 299.99999999999994, which floors to 0.299.
    instrument = Instrument("SOLUSDT", "Trading", "USDT", "0.01", "0.001", "0.001")
    settings = RiskSettings(risk_per_trade=0.003)
    intent = EnterIntent(
        client_id="e",
        symbol="SOLUSDT",
        side=BUY,
        stop_price=90.0,
        order_type=OrderType.MARKET,
        decided_ns=T0,
    )
    ctx = context(equity=1_000.0, instrument=instrument, book=book(bid=99.99, ask=100.0))
    assert approved(RiskEngine(settings).check(intent, ctx)).request.qty == 0.3


def test_limit_prices_round_buys_down_and_sells_up_and_stops_away_from_the_position():
    engine = RiskEngine(WIDE)
    buy = approved(
        engine.check(enter(price=65_000.07, stop=64_870.05, order_type=OrderType.LIMIT), context())
    )
    # buy limit 65 000.07 -> 65 000.0; stop 64 870.05 -> 64 870.0: distance 130 -> 0.192
    assert (buy.request.price, buy.stop_price, buy.request.qty) == (65_000.0, 64_870.0, 0.192)
    assert buy.request.time_in_force is TimeInForce.POST_ONLY
    sell = approved(
        engine.check(
            enter(SELL, price=65_000.01, stop=65_130.04, cid="e2", order_type=OrderType.LIMIT),
            context(),
        )
    )
    # sell limit 65 000.01 -> 65 000.1; stop 65 130.04 -> 65 130.1: distance 130 -> 0.192
    assert (sell.request.price, sell.stop_price, sell.request.qty) == (65_000.1, 65_130.1, 0.192)


def test_a_stop_on_the_wrong_side_or_a_limit_without_price_is_refused():
    engine = RiskEngine(WIDE)
    assert refused(engine.check(enter(stop=65_100.0), context())) is RefusalReason.INVALID_STOP
    assert refused(engine.check(enter(SELL, stop=64_000.0), context())) is (
        RefusalReason.INVALID_STOP
    )
    no_price = enter(order_type=OrderType.LIMIT)
    assert refused(engine.check(no_price, context())) is RefusalReason.INVALID_PRICE


def test_a_risk_size_below_the_minimum_quantity_is_refused():
    # 0.25 % of 100 = 0.25 USDT over a 1 000 USDT stop: 0.00025 BTC < 0.001
    decision = RiskEngine(WIDE).check(enter(stop=64_000.0), context(equity=100.0))
    assert refused(decision) is RefusalReason.BELOW_MIN_QTY


# -- limits -------------------------------------------------------------------------------------


def test_the_notional_per_symbol_caps_the_size():
    # default limit 5 000 per symbol: 5 000 / 65 000 = 0.0769... -> 0.076 (risk size 0.192)
    decision = approved(RiskEngine(RiskSettings()).check(enter(), context()))
    assert decision.request.qty == 0.076
    assert decision.capped_by is RefusalReason.NOTIONAL_PER_SYMBOL


def test_the_total_notional_counts_positions_and_open_entries():
    # ETH 4 ETH at 2 500 = 10 000 and an open SOL buy of 20 at 200 = 4 000: 15 000 - 14 000
    # leaves 1 000 -> 1 000 / 65 000 = 0.01538... -> 0.015
    ctx = context(
        positions={"ETHUSDT": Exposure(4.0, 2_500.0)},
        open_orders=[order("s1", "SOLUSDT", BUY, 20.0, 200.0)],
    )
    decision = approved(RiskEngine(RiskSettings(max_leverage=10.0)).check(enter(), ctx))
    assert decision.request.qty == 0.015
    assert decision.capped_by is RefusalReason.NOTIONAL_TOTAL


def test_leverage_caps_the_size_and_a_full_limit_refuses():
    # equity 1 000 at 3x: 3 000 -> 3 000 / 65 000 = 0.0461... -> 0.046
    engine = RiskEngine(RiskSettings(risk_per_trade=0.05))
    decision = approved(engine.check(enter(), context(equity=1_000.0)))
    assert (decision.request.qty, decision.capped_by) == (0.046, RefusalReason.LEVERAGE)
    # a short ETH position of 2 960 notional leaves 40: less than 0.001 BTC (65)
    full = context(equity=1_000.0, positions={"ETHUSDT": Exposure(-1.184, 2_500.0)})
    assert refused(engine.check(enter(cid="e2"), full)) is RefusalReason.LEVERAGE


def test_max_open_positions_counts_positions_and_open_entries_but_not_exits():
    engine = RiskEngine(RiskSettings(max_open_positions=2, max_notional_per_symbol=50_000.0))
    two = context(
        positions={"ETHUSDT": Exposure(0.1, 2_500.0)},
        open_orders=[order("x1", "XRPUSDT", BUY, 100.0, 0.5)],
    )
    assert refused(engine.check(enter(), two)) is RefusalReason.MAX_POSITIONS
    one = context(
        positions={"ETHUSDT": Exposure(0.1, 2_500.0), "SOLUSDT": Exposure(0.0, 150.0)},
        open_orders=[order("x1", "ETHUSDT", SELL, 0.1, None, reduce_only=True)],
    )
    assert isinstance(engine.check(enter(), one), Approved)


def test_no_second_entry_on_an_exposed_symbol():
    engine = RiskEngine(WIDE)
    held = context(positions={"BTCUSDT": Exposure(0.05, 65_000.0)})
    assert refused(engine.check(enter(), held)) is RefusalReason.ALREADY_EXPOSED
    pending = context(open_orders=[order("e0", "BTCUSDT", BUY, 0.1, 64_990.0)])
    assert refused(engine.check(enter(), pending)) is RefusalReason.ALREADY_EXPOSED


def test_exits_close_the_position_reduce_only_less_what_is_already_closing():
    engine = RiskEngine(WIDE)
    long = context(positions={"BTCUSDT": Exposure(0.192, 65_000.0)})
    request = approved(engine.check(exit_(), long)).request
    assert (request.side, request.qty, request.reduce_only) == (SELL, 0.192, True)
    partial = approved(engine.check(exit_(cid="x2", qty=0.1005), long)).request
    assert partial.qty == 0.1  # floored to the step
    closing = context(
        positions={"BTCUSDT": Exposure(-0.192, 65_000.0)},
        open_orders=[order("x0", "BTCUSDT", BUY, 0.092, 64_000.0, reduce_only=True)],
    )
    rest = approved(
        engine.check(exit_(cid="x3", order_type=OrderType.LIMIT, price=64_000.05), closing)
    )
    # a buy to close the short: 0.192 - 0.092 open = 0.1, limit rounded down to 64 000.0
    assert (rest.request.side, rest.request.qty, rest.request.price) == (BUY, 0.1, 64_000.0)
    flat = context()
    assert refused(engine.check(exit_(cid="x4"), flat)) is RefusalReason.NO_POSITION


# -- market-data integrity ----------------------------------------------------------------------


def test_stale_out_of_sync_crossed_missing_books_and_a_down_feed_refuse_entries_not_exits():
    engine = RiskEngine(WIDE)  # stale_book_s = 5
    fresh = book(T0 - 4_999_999_999)
    assert isinstance(engine.check(enter(cid="a"), context(book=fresh)), Approved)
    cases = {
        RefusalReason.BOOK_STALE: context(book=book(T0 - 5 * S)),
        RefusalReason.BOOK_OUT_OF_SYNC: context(book=book(in_sync=False)),
        RefusalReason.NO_BOOK: context(
            book=BookState(bid=None, ask=1.0, in_sync=True, last_update_ns=T0)
        ),
        RefusalReason.FEED_DOWN: context(feed_up=False),
    }
    crossed = context(book=book(bid=65_000.0, ask=65_000.0))
    assert refused(engine.check(enter(cid="b"), crossed)) is RefusalReason.BOOK_OUT_OF_SYNC
    for reason, ctx in cases.items():
        assert refused(engine.check(enter(cid="c"), ctx)) is reason
    stale_long = context(
        book=book(T0 - 60 * S), feed_up=False, positions={"BTCUSDT": Exposure(0.1, 65_000.0)}
    )
    assert isinstance(engine.check(exit_(), stale_long), Approved)
    assert engine.state is TradingState.ACTIVE  # data problems refuse, they do not halt
    assert engine.refusals[RefusalReason.BOOK_OUT_OF_SYNC] == 2
    assert engine.refusals[RefusalReason.BOOK_STALE] == 1


def test_an_instrument_not_trading_takes_no_entry():
    halted = Instrument("BTCUSDT", "Settling", "USDT", "0.10", "0.001", "0.001")
    decision = RiskEngine(WIDE).check(enter(), context(instrument=halted))
    assert refused(decision) is RefusalReason.NOT_TRADING


# -- daily loss, escalation and the kill switch -------------------------------------------------


def test_daily_loss_escalates_active_reducing_halted_and_latches_until_the_next_utc_day():
    engine = RiskEngine(WIDE)  # 3 % -> 300 of 10 000 reduces; x 1.5 -> 450 halts
    engine.on_equity(T0, 10_000.0)
    engine.on_equity(T0 + S, 9_701.0)
    assert engine.state is TradingState.ACTIVE
    engine.on_equity(T0 + 2 * S, 9_700.0)
    assert engine.state is TradingState.REDUCING
    assert refused(engine.check(enter(), context(T0 + 2 * S))) is RefusalReason.REDUCING
    long = context(T0 + 2 * S, positions={"BTCUSDT": Exposure(0.1, 65_000.0)})
    assert isinstance(engine.check(exit_(), long), Approved)
    engine.on_equity(T0 + 3 * S, 9_900.0)  # a recovery does not lift the day's level
    assert engine.state is TradingState.REDUCING
    engine.on_equity(T0 + 4 * S, 9_551.0)
    assert engine.state is TradingState.REDUCING
    engine.on_equity(T0 + 5 * S, 9_550.0)
    assert engine.state is TradingState.HALTED
    assert engine.state_reason == "daily loss 450.00 of 10000.00 (4.50%)"
    assert refused(engine.check(enter(cid="e2"), context(T0 + 5 * S))) is RefusalReason.HALTED
    assert isinstance(engine.check(exit_(cid="x2"), long), Approved)  # flattening passes
    engine.on_equity(T0 + 6 * S, 9_600.0)
    assert engine.resume(T0 + 6 * S) is TradingState.HALTED  # the day's loss level stays
    tomorrow = (T0 // DAY_NS + 1) * DAY_NS
    engine.on_equity(tomorrow + 5 * S, 9_590.0)
    # the new day starts from the last equity of the old one (9 600): 10 lost, ACTIVE
    assert (engine.state, engine.day_start_equity) == (TradingState.ACTIVE, 9_600.0)
    assert engine.daily_pnl == pytest.approx(-10.0)
    changes = [(c.previous, c.state) for c in engine.changes.drain()]
    assert changes == [
        (TradingState.ACTIVE, TradingState.REDUCING),
        (TradingState.REDUCING, TradingState.HALTED),
        (TradingState.HALTED, TradingState.ACTIVE),
    ]


def test_the_daily_loss_counts_unrealised_pnl_fees_and_funding():
    # long 0.1 BTC at 65 000 (taker fee 3.575), funding paid 1.3, marked at 62 010:
    # unrealised -299 alone stays below the 300 limit; with fees and funding the loss is 303.875
    portfolio = Portfolio(10_000.0)
    engine = RiskEngine(WIDE)
    engine.on_equity(T0, portfolio.equity)
    portfolio.apply_fill(
        Fill(
            client_id="e1",
            symbol="BTCUSDT",
            side=BUY,
            price=65_000.0,
            qty=0.1,
            fee=3.575,
            liquidity=Liquidity.TAKER,
            ts_ns=T0 + S,
        )
    )
    portfolio.apply_funding(
        FundingPayment(
            symbol="BTCUSDT",
            amount=1.3,
            rate=0.0002,
            position_qty=0.1,
            mark_price=65_000.0,
            ts_ns=T0 + 2 * S,
        )
    )
    portfolio.mark("BTCUSDT", 62_010.0, T0 + 3 * S)
    assert portfolio.pnl().unrealised == pytest.approx(-299.0)
    engine.on_equity(T0 + 3 * S, portfolio.equity)
    assert engine.daily_pnl == pytest.approx(-303.875)
    assert engine.state is TradingState.REDUCING


def test_the_kill_switch_halts_everything_but_exits_and_cancels_until_resumed():
    engine = RiskEngine(WIDE)
    engine.on_equity(T0, 10_000.0)
    engine.halt(T0 + S, "button")
    assert (engine.state, engine.state_reason) == (TradingState.HALTED, "manual: button")
    assert refused(engine.check(enter(), context(T0 + S))) is RefusalReason.HALTED
    long = context(T0 + S, positions={"BTCUSDT": Exposure(0.1, 65_000.0)})
    assert isinstance(engine.check(exit_(), long), Approved)
    cancel = CancelIntent(client_id="e0", symbol="BTCUSDT", decided_ns=T0 + S)
    assert engine.check(cancel, long) == CancelApproved(client_id="e0")
    assert engine.resume(T0 + 2 * S) is TradingState.ACTIVE
    assert isinstance(engine.check(enter(cid="e2"), context(T0 + 2 * S)), Approved)


# -- cooldown and order rate --------------------------------------------------------------------


def test_a_losing_trade_cools_its_symbol_down_a_winning_one_does_not():
    engine = RiskEngine(WIDE)  # cooldown_after_loss_s = 300
    engine.on_trade_closed(T0, "BTCUSDT", -5.0)
    decision = engine.check(enter(), context(T0 + 299 * S))
    assert refused(decision) is RefusalReason.COOLDOWN_AFTER_LOSS
    assert decision.detail == "1.0s left"
    eth = EnterIntent(
        client_id="eth",
        symbol="ETHUSDT",
        side=BUY,
        stop_price=2_490.0,
        order_type=OrderType.MARKET,
        decided_ns=T0,
    )
    eth_context = context(T0 + S, instrument=ETH, book=book(T0 + S, bid=2_499.99, ask=2_500.0))
    assert isinstance(engine.check(eth, eth_context), Approved)  # other symbols trade on
    assert isinstance(engine.check(enter(cid="e2"), context(T0 + 300 * S)), Approved)
    engine.on_trade_closed(T0 + 400 * S, "BTCUSDT", 12.0)
    assert isinstance(engine.check(enter(cid="e3"), context(T0 + 401 * S)), Approved)


def test_the_order_rate_bucket_in_event_time():
    # 5 a second: a burst of 5, then one every 200 ms; exits never wait but use the rate up
    engine = RiskEngine(WIDE)
    ms = 1_000_000
    for n in range(5):
        assert isinstance(engine.check(enter(cid=f"e{n}"), context()), Approved)
    assert refused(engine.check(enter(cid="e5"), context())) is RefusalReason.RATE_LIMITED
    assert refused(engine.check(enter(cid="e6"), context(T0 + 199 * ms))) is (
        RefusalReason.RATE_LIMITED
    )
    assert isinstance(engine.check(enter(cid="e7"), context(T0 + 200 * ms)), Approved)
    long = context(T0 + 200 * ms, positions={"BTCUSDT": Exposure(0.1, 65_000.0)})
    assert isinstance(engine.check(exit_(), long), Approved)  # bucket empty: passes anyway
    assert refused(engine.check(enter(cid="e8"), context(T0 + 400 * ms))) is (
        RefusalReason.RATE_LIMITED
    )
    assert isinstance(engine.check(enter(cid="e9"), context(T0 + 600 * ms)), Approved)
    assert engine.refusals[RefusalReason.RATE_LIMITED] == 3


def test_a_fractional_rate_refills_slower_than_one_a_second():
    limiter = OrderRateLimiter(2.5)  # burst 2, a token every 400 ms
    assert (limiter.burst, limiter.interval_ns) == (2, 400_000_000)
    assert [limiter.try_take(0) for _ in range(3)] == [True, True, False]
    assert not limiter.try_take(399_999_999)
    assert limiter.try_take(400_000_000)
    assert limiter.tokens(400_000_000) == pytest.approx(0.0)


# -- execution health ---------------------------------------------------------------------------


def test_a_burst_of_rejects_within_the_window_halts():
    engine = RiskEngine(WIDE)  # 5 rejects within 60 s
    rejected = order("r", "BTCUSDT", BUY, 0.1, 65_000.0, status=OrderStatus.REJECTED)
    for seconds in (0, 10, 20, 30, 61):
        engine.on_order_update(T0 + seconds * S, rejected)
    assert engine.state is TradingState.ACTIVE  # the fifth came 61 s after the first
    engine.on_order_update(T0 + 65 * S, rejected)  # 10 s .. 65 s: five within 55 s
    assert engine.state is TradingState.HALTED
    assert engine.state_reason == "execution health: 5 rejects within 60s"
    assert engine.resume(T0 + 70 * S) is TradingState.ACTIVE


def test_an_order_or_cancel_unacknowledged_for_the_timeout_halts():
    engine = RiskEngine(WIDE)  # ack_timeout_s = 5
    acked = approved(engine.check(enter(cid="a"), context()))
    lost = approved(engine.check(enter(cid="b"), context(T0 + S)))
    engine.on_order_update(T0 + S, Order(request=acked.request, status=OrderStatus.NEW))
    engine.on_time(T0 + 5 * S)  # "a" answered, "b" 4 s old
    assert engine.state is TradingState.ACTIVE
    engine.on_time(T0 + 6 * S)
    assert engine.state is TradingState.HALTED
    assert engine.state_reason == "execution health: no acknowledgement of b in 5s"
    assert lost.request.client_id == "b"

    engine = RiskEngine(WIDE)
    engine.check(CancelIntent(client_id="a", symbol="BTCUSDT", decided_ns=T0), context())
    still_open = order("a", "BTCUSDT", BUY, 0.1, 64_000.0, status=OrderStatus.NEW)
    engine.on_order_update(T0 + S, still_open)  # not an answer to the cancel
    engine.on_time(T0 + 5 * S)
    assert engine.state is TradingState.HALTED

    engine = RiskEngine(WIDE)
    engine.check(CancelIntent(client_id="a", symbol="BTCUSDT", decided_ns=T0), context())
    cancelled = order("a", "BTCUSDT", BUY, 0.1, 64_000.0, status=OrderStatus.CANCELLED)
    engine.on_order_update(T0 + S, cancelled)
    engine.on_time(T0 + 10 * S)
    assert engine.state is TradingState.ACTIVE


def test_a_fill_acknowledges_its_order():
    engine = RiskEngine(WIDE)
    engine.check(enter(cid="a"), context())
    fill = Fill(
        client_id="a",
        symbol="BTCUSDT",
        side=BUY,
        price=65_000.0,
        qty=0.192,
        fee=6.864,
        liquidity=Liquidity.TAKER,
        ts_ns=T0 + S,
    )
    engine.on_fill(T0 + S, fill)
    engine.on_time(T0 + 60 * S)
    assert engine.state is TradingState.ACTIVE
