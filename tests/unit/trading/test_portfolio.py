"""The portfolio on hand-computed cases: average entry over partial fills, realised and
unrealised P&L, a flip, fees and funding as their own lines, MAE/MFE, slippage against the
decision mid, maker/taker, the equity curve in event time, and exact sums of fills."""

from __future__ import annotations

import pytest

from scalper.settings import TradingSettings
from scalper.trading.orders import BUY, SELL, Fill, FundingPayment, Liquidity
from scalper.trading.portfolio import EquityPoint, Exposure, Portfolio

S = 1_000_000_000
MAKER, TAKER = Liquidity.MAKER, Liquidity.TAKER


def fill(
    side: int, qty: float, price: float, ts: float, fee: float = 0.0, how=TAKER, sym="SOLUSDT"
):
    return Fill(
        client_id=f"o{ts}",
        symbol=sym,
        side=side,
        price=price,
        qty=qty,
        fee=fee,
        liquidity=how,
        ts_ns=round(ts * S),
    )


def funding(amount: float, ts: float, sym: str = "SOLUSDT") -> FundingPayment:
    return FundingPayment(
        symbol=sym,
        amount=amount,
        rate=0.0001,
        position_qty=0.0,
        mark_price=100.0,
        ts_ns=round(ts * S),
    )


def test_partial_fills_average_the_entry_and_partial_exits_realise_against_it():
    book = Portfolio(1_000.0)
    assert book.apply_fill(fill(BUY, 0.1, 100.0, 1)) is None
    assert book.apply_fill(fill(BUY, 0.2, 103.0, 2)) is None
    # (0.1 x 100 + 0.2 x 103) / 0.3 = 102
    assert book.position("SOLUSDT") == 0.3
    assert book.avg_entry_price("SOLUSDT") == pytest.approx(102.0)
    book.mark("SOLUSDT", 104.0, 3 * S)
    assert book.pnl().unrealised == pytest.approx(0.6)  # 0.3 x (104 - 102)
    assert book.exposures() == {"SOLUSDT": Exposure(0.3, 104.0)}
    assert book.apply_fill(fill(SELL, 0.15, 105.0, 4)) is None
    assert book.pnl().realised == pytest.approx(0.45)  # 0.15 x (105 - 102)
    assert book.avg_entry_price("SOLUSDT") == pytest.approx(102.0)  # reducing keeps it
    trade = book.apply_fill(fill(SELL, 0.15, 101.0, 6))
    # 0.45 + 0.15 x (101 - 102) = 0.30
    assert book.position("SOLUSDT") == 0.0  # 0.1 + 0.2 - 0.15 - 0.15: exactly flat
    assert book.exposures() == {}
    assert trade is not None
    assert (trade.side, trade.qty, trade.fills) == (BUY, 0.3, 4)
    assert trade.entry_price == pytest.approx(102.0)
    assert trade.exit_price == pytest.approx(103.0)  # (0.15 x 105 + 0.15 x 101) / 0.3
    assert trade.gross_pnl == pytest.approx(0.30)
    assert (trade.entry_ns, trade.exit_ns, trade.holding_ns) == (1 * S, 6 * S, 5 * S)
    assert book.pnl().unrealised == 0.0
    assert book.equity == pytest.approx(1_000.30)


def test_sums_of_fills_are_exact():
    book = Portfolio(1_000.0)
    for n in range(10):
        book.apply_fill(fill(BUY, 0.1, 100.0, n, fee=0.01))
    trade = book.apply_fill(fill(SELL, 1.0, 100.0, 10, fee=0.1))
    # ten 0.1 fills are exactly the 1.0 that closes them; fees 10 x 0.01 + 0.1 exactly 0.2
    assert book.position("SOLUSDT") == 0.0
    assert trade is not None and trade.qty == 1.0
    assert book.pnl().fees == 0.2
    assert book.equity == 999.8


def test_a_flip_closes_the_trade_and_opens_the_rest_splitting_the_fee():
    book = Portfolio(10_000.0)
    book.apply_fill(fill(BUY, 1.0, 100.0, 1, fee=0.055))
    closed = book.apply_fill(fill(SELL, 3.0, 110.0, 2, fee=0.3))
    # closes 1 at 110: +10, with a third of the 0.3 fee; opens a short of 2 at 110 (fee 0.2)
    assert closed is not None
    assert (closed.side, closed.qty, closed.gross_pnl) == (BUY, 1.0, pytest.approx(10.0))
    assert closed.fees == pytest.approx(0.155)
    assert closed.net_pnl == pytest.approx(9.845)
    assert book.position("SOLUSDT") == -2.0
    assert book.avg_entry_price("SOLUSDT") == pytest.approx(110.0)
    short = book.apply_fill(fill(BUY, 2.0, 105.0, 5, fee=0.11))
    # the short: 2 x (110 - 105) = +10, fees 0.2 + 0.11
    assert short is not None
    assert (short.side, short.qty, short.entry_ns, short.holding_ns) == (SELL, 2.0, 2 * S, 3 * S)
    assert short.gross_pnl == pytest.approx(10.0)
    assert short.fees == pytest.approx(0.31)
    pnl = book.pnl()
    assert (pnl.realised, pnl.fees) == (pytest.approx(20.0), pytest.approx(0.465))
    assert pnl.net == pytest.approx(19.535)
    assert book.trades.drain() == [closed, short]


def test_fees_and_funding_are_their_own_lines_and_funding_belongs_to_the_open_trade():
    book = Portfolio(5_000.0)
    book.apply_funding(funding(0.7, 0.5))  # flat: the account pays, no trade does
    book.apply_fill(fill(SELL, 10.0, 150.0, 1, fee=0.3, how=MAKER))
    book.apply_funding(funding(-0.25, 2))  # a short receives
    book.apply_funding(funding(0.4, 3))
    book.mark("SOLUSDT", 149.0, 4 * S)
    pnl = book.pnl()
    assert (pnl.realised, pnl.unrealised) == (0.0, pytest.approx(10.0))
    assert (pnl.fees, pnl.funding) == (pytest.approx(0.3), pytest.approx(0.85))
    # 5 000 - 0.3 - 0.85 + 10
    assert pnl.equity == pytest.approx(5_008.85)
    trade = book.apply_fill(fill(BUY, 10.0, 148.0, 5, fee=0.814))
    assert trade is not None
    # gross 10 x (150 - 148) = 20; fees 0.3 + 0.814; funding -0.25 + 0.4 (not the flat 0.7)
    assert trade.gross_pnl == pytest.approx(20.0)
    assert trade.fees == pytest.approx(1.114)
    assert trade.funding == pytest.approx(0.15)
    assert trade.net_pnl == pytest.approx(18.736)
    assert (trade.entry_liquidity, trade.exit_liquidity) == ("maker", "taker")


def test_mae_and_mfe_in_price_and_quote_for_a_long_and_a_short():
    book = Portfolio(10_000.0)
    book.apply_fill(fill(BUY, 2.0, 100.0, 1))
    for ts, mid in ((2, 99.0), (3, 97.0), (4, 104.0), (5, 102.0)):
        book.mark("SOLUSDT", mid, ts * S)
    long = book.apply_fill(fill(SELL, 2.0, 101.0, 6))
    assert long is not None
    assert (long.mae_price, long.mfe_price) == (pytest.approx(3.0), pytest.approx(4.0))
    assert (long.mae_quote, long.mfe_quote) == (pytest.approx(6.0), pytest.approx(8.0))

    book.apply_fill(fill(SELL, 1.0, 100.0, 7))
    for ts, mid in ((8, 100.5), (9, 98.0), (10, 101.5)):
        book.mark("SOLUSDT", mid, ts * S)
    short = book.apply_fill(fill(BUY, 1.0, 99.0, 11))
    assert short is not None
    assert (short.mae_price, short.mfe_price) == (pytest.approx(1.5), pytest.approx(2.0))
    assert (short.mae_quote, short.mfe_quote) == (pytest.approx(1.5), pytest.approx(2.0))


def test_a_trade_that_only_went_its_way_has_zero_mae():
    book = Portfolio(10_000.0)
    book.apply_fill(fill(BUY, 1.0, 100.0, 1))
    book.mark("SOLUSDT", 100.5, 2 * S)
    trade = book.apply_fill(fill(SELL, 1.0, 101.0, 3))
    assert trade is not None
    assert (trade.mae_price, trade.mfe_price) == (0.0, pytest.approx(1.0))


def test_slippage_against_the_decision_mid_and_mixed_liquidity():
    book = Portfolio(10_000.0)
    # entry: 1 filled at the mid as maker, 1 taken 0.10 above it: 0.05 a unit on average
    book.apply_fill(fill(BUY, 1.0, 100.0, 1, how=MAKER), decision_mid=100.0)
    book.apply_fill(fill(BUY, 1.0, 100.1, 1.1), decision_mid=100.0)
    book.apply_fill(fill(SELL, 1.0, 101.0, 2), decision_mid=101.05)  # 0.05 below the mid
    trade = book.apply_fill(fill(SELL, 1.0, 101.2, 3))  # no mid known: not counted
    assert trade is not None
    assert trade.entry_slippage == pytest.approx(0.05)
    assert trade.exit_slippage == pytest.approx(0.05)
    assert trade.slippage_quote == pytest.approx(0.15)  # 0.1 + 0.05
    assert (trade.entry_liquidity, trade.exit_liquidity) == ("mixed", "taker")
    book.apply_fill(fill(BUY, 1.0, 100.0, 4))
    unknown = book.apply_fill(fill(SELL, 1.0, 100.0, 5))
    assert unknown is not None
    assert (unknown.entry_slippage, unknown.slippage_quote) == (None, None)


def test_the_equity_curve_holds_one_point_per_interval_as_of_its_boundary():
    book = Portfolio(1_000.0, equity_points=3)
    book.apply_fill(fill(BUY, 1.0, 100.0, 0.5, fee=0.1))  # point at 0: nothing counted yet
    book.mark("SOLUSDT", 101.0, round(1.2 * S))  # point at 1 s: the fill counted
    book.mark("SOLUSDT", 102.0, round(1.7 * S))  # same interval: no point
    book.sample(round(3.4 * S))  # point at 3 s: marked at 102
    assert list(book.equity_curve) == [
        EquityPoint(ts_ns=0, equity=1_000.0, realised=0.0, unrealised=0.0, fees=0.0, funding=0.0),
        EquityPoint(
            ts_ns=S,
            equity=pytest.approx(999.9),
            realised=0.0,
            unrealised=0.0,
            fees=0.1,
            funding=0.0,
        ),
        EquityPoint(
            ts_ns=3 * S,
            equity=pytest.approx(1_001.9),
            realised=0.0,
            unrealised=2.0,
            fees=0.1,
            funding=0.0,
        ),
    ]
    book.sample(4 * S)
    assert [point.ts_ns for point in book.equity_curve] == [S, 3 * S, 4 * S]  # bounded: 3


def test_positions_of_several_symbols_are_apart():
    book = Portfolio(10_000.0)
    book.apply_fill(fill(BUY, 0.01, 65_000.0, 1, sym="BTCUSDT"))
    book.apply_fill(fill(SELL, 1.0, 2_500.0, 1, sym="ETHUSDT"))
    book.mark("BTCUSDT", 65_100.0, 2 * S)
    book.mark("ETHUSDT", 2_510.0, 2 * S)
    assert book.pnl().unrealised == pytest.approx(1.0 - 10.0)
    assert sorted(book.open_symbols()) == ["BTCUSDT", "ETHUSDT"]
    assert book.exposures() == {
        "BTCUSDT": Exposure(0.01, 65_100.0),
        "ETHUSDT": Exposure(-1.0, 2_510.0),
    }


def test_built_from_the_settings_tree():
    settings = TradingSettings(equity_interval_s=0.5, equity_points=2, trade_records=7)
    book = Portfolio.from_settings(settings, 2_000.0)
    assert (book.equity, book.equity_interval_ns) == (2_000.0, 500_000_000)
    assert (book.equity_curve.maxlen, book.trades.capacity) == (2, 7)
