"""The three modules together, called in the order the trading core calls them, through one
losing trade: signal -> risk check -> machine -> fills -> portfolio -> stop -> exit -> the
trade's loss cools the symbol down. The numbers are BTCUSDT-like and hand-computed."""

from __future__ import annotations

import pytest

from scalper.events import Instrument
from scalper.settings import RiskSettings
from scalper.trading.audit import AuditLog, BookTop, DecisionInputs
from scalper.trading.intents import EnterIntent, ExitIntent
from scalper.trading.machine import MachineState, SymbolMachine
from scalper.trading.orders import (
    BUY,
    Fill,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from scalper.trading.portfolio import Portfolio
from scalper.trading.risk import (
    Approved,
    BookState,
    RefusalReason,
    Refused,
    RiskContext,
    RiskEngine,
)

S = 1_000_000_000
T0 = 1_728_000_000 * S
BTC = Instrument("BTCUSDT", "Trading", "USDT", tick_size="0.10", qty_step="0.001", min_qty="0.001")


def test_one_losing_trade_through_risk_machine_and_portfolio():
    risk = RiskEngine(RiskSettings(max_notional_per_symbol=20_000.0))
    portfolio = Portfolio(10_000.0)
    machine = SymbolMachine("BTCUSDT", AuditLog(100), cooldown_ns=60 * S)
    machine.start(T0)
    risk.on_equity(T0, portfolio.equity)

    def context(ts: int, bid: float, ask: float) -> RiskContext:
        return RiskContext(
            ts_ns=ts,
            equity=portfolio.equity,
            instrument=BTC,
            book=BookState(bid=bid, ask=ask, in_sync=True, last_update_ns=ts),
            positions=portfolio.exposures(),
        )

    # 1. the strategy's signal; 2. the risk check; 3. the machine owns the order; 4. submit
    top = BookTop(bid=64_999.9, ask=65_000.0, bid_qty=2.0, ask_qty=1.5)
    machine.on_signal(T0, BUY, "score 0.7", DecisionInputs(score=0.7, book=top))
    intent = EnterIntent(
        client_id="e1",
        symbol="BTCUSDT",
        side=BUY,
        stop_price=64_870.0,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        decided_ns=T0,
    )
    decision = risk.check(intent, context(T0, 64_999.9, 65_000.0))
    assert isinstance(decision, Approved)
    assert decision.stop_price is not None
    request = decision.request
    assert request.qty == 0.192  # 25 USDT over a 130 USDT stop
    machine.on_entry_submitted(
        T0, request, decision.stop_price, DecisionInputs(score=0.7, book=top, risk=decision.label)
    )

    # 5. the venue fills at the ask (taker 0.055 %: 6.864) and acknowledges
    fill = Fill(
        client_id="e1",
        symbol="BTCUSDT",
        side=BUY,
        price=65_000.0,
        qty=0.192,
        fee=6.864,
        liquidity=Liquidity.TAKER,
        ts_ns=T0 + S,
    )
    risk.on_fill(fill.ts_ns, fill)
    portfolio.apply_fill(fill, decision_mid=request.decision_mid)
    machine.on_fill(fill.ts_ns, fill)
    filled = Order(request=request, status=OrderStatus.FILLED, filled_qty=0.192, avg_price=65_000.0)
    risk.on_order_update(T0 + S, filled)
    machine.on_order_update(T0 + S, filled)
    assert machine.state is MachineState.IN_POSITION

    # 6. books mark the position; the mid reaches the stop: exit, reduce-only
    portfolio.mark("BTCUSDT", 64_869.95, T0 + 5 * S)
    risk.on_equity(T0 + 5 * S, portfolio.equity)
    exit_intent = ExitIntent(client_id="x1", symbol="BTCUSDT", decided_ns=T0 + 5 * S, reason="stop")
    exit_decision = risk.check(exit_intent, context(T0 + 5 * S, 64_869.9, 64_870.0))
    assert isinstance(exit_decision, Approved)
    machine.on_exit_submitted(T0 + 5 * S, exit_decision.request, "stop")
    exit_fill = Fill(
        client_id="x1",
        symbol="BTCUSDT",
        side=exit_decision.request.side,
        price=64_869.9,
        qty=0.192,
        fee=6.8502,
        liquidity=Liquidity.TAKER,
        ts_ns=T0 + 6 * S,
    )
    trade = portfolio.apply_fill(exit_fill, decision_mid=exit_decision.request.decision_mid)
    machine.on_fill(exit_fill.ts_ns, exit_fill)
    assert trade is not None and machine.state is MachineState.COOLDOWN

    # 7. the closed trade: 0.192 x -130.1 = -24.9792, fees 13.7142 -> net -38.6934
    assert trade.gross_pnl == pytest.approx(-24.9792)
    assert trade.net_pnl == pytest.approx(-38.6934)
    assert trade.entry_slippage == pytest.approx(0.05)
    assert trade.exit_slippage == pytest.approx(0.05)
    risk.on_trade_closed(trade.exit_ns, trade.symbol, trade.net_pnl)
    risk.on_equity(T0 + 6 * S, portfolio.equity)
    assert risk.daily_pnl == pytest.approx(-38.6934)

    # 8. a new signal after the machine's cooldown is still inside the risk cooldown
    machine.on_time(T0 + 70 * S)
    machine.on_signal(T0 + 70 * S, BUY, "score 0.8")
    again = risk.check(
        EnterIntent(
            client_id="e2",
            symbol="BTCUSDT",
            side=BUY,
            stop_price=64_870.0,
            order_type=OrderType.MARKET,
            decided_ns=T0 + 70 * S,
        ),
        context(T0 + 70 * S, 64_999.9, 65_000.0),
    )
    assert isinstance(again, Refused) and again.reason is RefusalReason.COOLDOWN_AFTER_LOSS
    machine.on_risk_refused(T0 + 70 * S, again.label)
    assert machine.state is MachineState.SCANNING
    reasons = [r.reason for r in machine.audit.drain()]
    assert reasons[-1] == "risk refused: cooldown_after_loss"
