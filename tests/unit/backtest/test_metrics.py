"""Every figure of the report against the hand-built run, worked out by hand here."""

from __future__ import annotations

import math

import pytest
from tests.unit.backtest.hand_built import (
    END,
    EQUITY,
    HOUR,
    MINUTE,
    START,
    TRADES,
    inputs,
    trade,
)

from scalper.backtest import EntryContext, compute_metrics
from scalper.backtest.metrics import DecilePnL, LatencyStats, RegimePnL, hourly_equity
from scalper.trading.orders import BUY
from scalper.trading.portfolio import EquityPoint

# Equity at the hour boundaries 00:00, 01:00, 02:00, 03:00 and 04:00 (the one after the end):
# the last point at or before each (hand_built.EQUITY_BY_MINUTE: minutes 0, 60, 120, 180, 225).
HOURLY = [1000.0, 1010.0, 1005.0, 1020.0, 1011.0]
RETURNS = [0.01, -5 / 1010, 15 / 1005, -9 / 1020]


def test_pnl_lines_and_return() -> None:
    m = compute_metrics(inputs())
    assert m.gross_pnl == 16.0  # 12 - 4 - 2 + 9 + 1
    assert m.fees == 4.25  # 1 + 0.5 + 1 + 0.75 + 1
    assert m.funding == 0.75  # 0.5 + 0.25
    assert m.net_pnl == 11.0  # 16 - 4.25 - 0.75
    assert m.slippage_quote == 1.0  # 0.5 + 0.25 + 0.25 (two trades have none)
    assert m.starting_equity == 1000.0 and m.final_equity == 1011.0
    assert m.unclosed_pnl == 0.0  # 1011 - 1000 - 11
    assert m.total_return == pytest.approx(0.011, abs=1e-15)
    assert (m.start_ns, m.end_ns) == (START, END)
    assert m.period_hours == pytest.approx(230 / 60)
    assert m.annual_return == pytest.approx(0.011 * 8760 / (230 / 60))


def test_drawdown_is_peak_to_trough_of_the_equity_curve() -> None:
    m = compute_metrics(inputs())
    # Peak 1012 (00:30) to trough 990 (01:30); the later fall from 1030 to 1011 is smaller.
    assert m.max_drawdown == 22.0
    assert m.max_drawdown_frac == pytest.approx(22 / 1012)
    assert m.calmar == pytest.approx((0.011 * 8760 / (230 / 60)) / (22 / 1012))


def test_sharpe_and_sortino_on_hourly_returns_of_a_24_7_clock() -> None:
    m = compute_metrics(inputs())
    assert m.hourly_returns == 4 and m.periods_per_year == 24 * 365
    grid = hourly_equity(1000.0, EQUITY, START, END)
    assert grid == [(START + hour * HOUR, value) for hour, value in enumerate(HOURLY)]
    mean = (0.01 - 5 / 1010 + 15 / 1005 - 9 / 1020) / 4
    sample_std = math.sqrt(sum((r - mean) ** 2 for r in RETURNS) / 3)
    downside = math.sqrt(((5 / 1010) ** 2 + (9 / 1020) ** 2) / 4)
    assert m.sharpe == pytest.approx(mean / sample_std * math.sqrt(8760))
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(8760))


def test_trade_statistics_on_net_pnl() -> None:
    m = compute_metrics(inputs())
    assert (m.trades, m.wins, m.losses) == (5, 2, 2)  # the fifth nets exactly zero
    assert m.win_rate == 0.4
    assert m.profit_factor == 19 / 8  # (11 + 8) / (5 + 3)
    assert m.expectancy == 2.2  # 11 / 5
    assert (m.avg_win, m.max_win) == (9.5, 11.0)
    assert (m.avg_loss, m.max_loss) == (-4.0, -5.0)
    assert (m.max_consecutive_wins, m.max_consecutive_losses) == (1, 2)  # W L L W 0
    assert m.avg_holding_s == 1416.0  # (30 + 10 + 60 + 15 + 3) min x 60 / 5


def test_execution_quality() -> None:
    m = compute_metrics(inputs())
    assert (m.fills, m.maker_fills, m.taker_fills) == (3, 2, 1)
    assert m.maker_share == pytest.approx(250 / 300)  # (2 x 100 + 0.5 x 100) / (+ 1 x 50)
    assert (m.passive_orders_placed, m.passive_orders_filled) == (8, 6)
    assert m.passive_fill_rate == 0.75
    # 1..10 ms: p50 at rank 4.5 -> 5.5, p90 at 8.1 -> 9.1, p99 at 8.91 -> 9.91.
    assert m.latency == LatencyStats(
        count=10,
        p50_ms=pytest.approx(5.5),  # type: ignore[arg-type]
        p90_ms=pytest.approx(9.1),  # type: ignore[arg-type]
        p99_ms=pytest.approx(9.91),  # type: ignore[arg-type]
        max_ms=10.0,
    )


def test_pnl_by_regime_at_entry() -> None:
    m = compute_metrics(inputs())
    assert m.trades_without_context == 1  # the fifth trade
    assert m.trades_without_score == 0
    rows = {(row.regime, row.value): row for row in m.by_regime}
    assert list(rows) == [
        ("trend", "down"),
        ("trend", "up"),
        ("volatility", "high"),
        ("volatility", "low"),
    ]
    assert rows["trend", "down"] == RegimePnL(
        regime="trend",
        value="down",
        trades=1,
        wins=0,
        win_rate=0.0,
        gross_pnl=-2.0,
        fees=1.0,
        funding=0.0,
        net_pnl=-3.0,
        avg_net_pnl=-3.0,
    )
    up = rows["trend", "up"]  # trades 1 and 2
    assert (up.trades, up.wins, up.win_rate, up.net_pnl, up.avg_net_pnl) == (2, 1, 0.5, 6.0, 3.0)
    assert (up.gross_pnl, up.fees, up.funding) == (8.0, 1.5, 0.5)
    high = rows["volatility", "high"]  # trades 1, 3 and 4
    assert (high.trades, high.wins, high.net_pnl, high.gross_pnl) == (3, 2, 16.0, 19.0)
    assert high.win_rate == pytest.approx(2 / 3) and high.avg_net_pnl == pytest.approx(16 / 3)
    assert (high.fees, high.funding) == (2.75, 0.25)
    assert rows["volatility", "low"].net_pnl == -5.0


def test_pnl_by_score_decile_cuts_equal_counts_by_rank() -> None:
    m = compute_metrics(inputs())
    # Four trades with context, by score: 0.2, 0.5, 0.7, 0.9 -> ranks 0..3 -> 1, 3, 6, 8.
    assert [(row.decile, row.score_min, row.net_pnl) for row in m.by_score_decile] == [
        (1, 0.2, -5.0),
        (3, 0.5, -3.0),
        (6, 0.7, 8.0),
        (8, 0.9, 11.0),
    ]


def test_a_context_without_a_score_counts_by_regime_not_by_decile() -> None:
    unscored = [
        EntryContext(symbol=c.symbol, entry_ns=c.entry_ns, score=None, regimes=c.regimes)
        if c.score == 0.9
        else c
        for c in inputs().entries
    ]
    m = compute_metrics(inputs(entries=unscored))
    assert (m.trades_without_context, m.trades_without_score) == (1, 1)
    assert [(row.decile, row.net_pnl) for row in m.by_score_decile] == [
        (1, -5.0),  # three scored trades: ranks 0, 1, 2 -> 1, 4, 7
        (4, -3.0),
        (7, 8.0),
    ]
    high = next(row for row in m.by_regime if (row.regime, row.value) == ("volatility", "high"))
    assert high.trades == 3  # trade 1 still counts by regime


def test_twenty_trades_fill_ten_deciles_of_two() -> None:
    trades = [
        trade("BTCUSDT", BUY, i, i + 1, float(i), 0.0, 0.0, float(i), None) for i in range(20)
    ]
    entries = [
        EntryContext(symbol="BTCUSDT", entry_ns=t.entry_ns, score=(19 - i) / 20)
        for i, t in enumerate(trades)
    ]
    m = compute_metrics(inputs(trades=trades, entries=entries, equity=[], fills=[]))
    assert [row.trades for row in m.by_score_decile] == [2] * 10
    lowest, highest = m.by_score_decile[0], m.by_score_decile[-1]
    # Scores 0/20 and 1/20 belong to trades 19 and 18 (net 19 + 18); 19/20, 18/20 to 0 and 1.
    assert lowest == DecilePnL(
        decile=1,
        score_min=0.0,
        score_max=0.05,
        trades=2,
        wins=2,
        win_rate=1.0,
        gross_pnl=37.0,
        fees=0.0,
        funding=0.0,
        net_pnl=37.0,
        avg_net_pnl=18.5,
    )
    assert (highest.decile, highest.score_min, highest.score_max) == (10, 0.9, 0.95)
    assert (highest.net_pnl, highest.wins) == (1.0, 1)  # trade 0 nets zero


def test_no_trades_and_no_curve() -> None:
    m = compute_metrics(
        inputs(
            trades=[], equity=[], fills=[], entries=[], latencies_ns=[], start_ns=None, end_ns=None
        )
    )
    assert (m.trades, m.wins, m.losses, m.fills) == (0, 0, 0, 0)
    assert (m.gross_pnl, m.fees, m.funding, m.net_pnl) == (0.0, 0.0, 0.0, 0.0)
    assert m.final_equity == 1000.0 and m.total_return == 0.0
    assert (m.start_ns, m.end_ns, m.period_hours) == (0, 0, 0.0)
    assert m.annual_return is None and m.calmar is None
    assert (m.max_drawdown, m.max_drawdown_frac) == (0.0, 0.0)
    assert m.sharpe is None and m.sortino is None
    for name in ("win_rate", "profit_factor", "expectancy", "avg_win", "max_win", "avg_loss"):
        assert getattr(m, name) is None, name
    assert m.max_loss is None and m.avg_holding_s is None and m.maker_share is None
    assert m.latency is None and m.by_regime == [] and m.by_score_decile == []


def test_without_losses_the_profit_factor_is_none_and_without_wins_zero() -> None:
    wins_only = compute_metrics(inputs(trades=[TRADES[0], TRADES[3]]))
    assert wins_only.losses == 0 and wins_only.profit_factor is None
    assert wins_only.avg_loss is None and wins_only.max_loss is None
    losses_only = compute_metrics(inputs(trades=[TRADES[1], TRADES[2]]))
    assert losses_only.profit_factor == 0.0 and losses_only.avg_win is None


def test_flat_hours_count_as_zero_returns() -> None:
    equity = [
        EquityPoint(
            ts_ns=START + 30 * MINUTE,
            equity=1010.0,
            realised=10.0,
            unrealised=0.0,
            fees=0.0,
            funding=0.0,
        )
    ]
    m = compute_metrics(inputs(equity=equity, start_ns=START, end_ns=START + 3 * HOUR))
    # Boundaries 00..03: 1000 (before the first point), then 1010, 1010, 1010.
    assert m.hourly_returns == 3
    mean = 0.01 / 3
    std = math.sqrt(((0.01 - mean) ** 2 + 2 * mean**2) / 2)
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(8760))
    assert m.sortino is None  # no losing hour


def test_undefined_ratios_are_none() -> None:
    flat = [
        EquityPoint(ts_ns=START, equity=1000.0, realised=0.0, unrealised=0.0, fees=0.0, funding=0.0)
    ]
    m = compute_metrics(inputs(trades=[], equity=flat, start_ns=START, end_ns=START + 5 * HOUR))
    assert m.hourly_returns == 5 and m.sharpe is None and m.sortino is None  # no dispersion
    assert m.calmar is None  # no drawdown
    short = compute_metrics(inputs(start_ns=START, end_ns=START + 10 * MINUTE, equity=flat))
    assert short.hourly_returns == 1 and short.sharpe is None  # one return has no deviation


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="two entry contexts for BTCUSDT"):
        compute_metrics(inputs(entries=[*inputs().entries, inputs().entries[0]]))
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        compute_metrics(inputs(start_ns=END, end_ns=START))
    with pytest.raises(ValueError, match="starting equity must be positive"):
        compute_metrics(inputs(starting_equity=0.0))
