"""Entry contexts from the audit trail a real `SymbolMachine` writes."""

from __future__ import annotations

from scalper.backtest import entry_contexts
from scalper.trading.audit import AuditLog, DecisionInputs
from scalper.trading.machine import SymbolMachine
from scalper.trading.orders import (
    BUY,
    SELL,
    Fill,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
)
from scalper.trading.portfolio import Portfolio

MINUTE = 60 * 1_000_000_000


def _submit(machine: SymbolMachine, ts: int, score: float, volatility: str) -> OrderRequest:
    inputs = DecisionInputs(score=score, regimes={"volatility": volatility}, risk="approved")
    machine.on_signal(ts, BUY, "score", inputs)
    request = OrderRequest(
        client_id=f"e{ts}",
        symbol=machine.symbol,
        side=BUY,
        qty=1.0,
        order_type=OrderType.LIMIT,
        price=100.0,
        decided_ns=ts,
        decision_mid=100.0,
    )
    machine.on_entry_submitted(ts, request, 99.0, inputs)
    return request


def test_a_trade_takes_the_last_entry_submitted_before_its_first_fill() -> None:
    audit = AuditLog(100)
    machine = SymbolMachine("BTCUSDT", audit)
    machine.start(0)
    first = _submit(machine, 1 * MINUTE, 0.6, "normal")
    machine.request_entry_cancel(2 * MINUTE, "timeout")
    machine.on_order_update(2 * MINUTE, Order(request=first, status=OrderStatus.CANCELLED))
    second = _submit(machine, 4 * MINUTE, 0.8, "high")
    fills = [
        Fill(
            client_id=client_id,
            symbol=symbol,
            side=side,
            price=price,
            qty=1.0,
            fee=0.0,
            liquidity=Liquidity.MAKER,
            ts_ns=minute * MINUTE,
        )
        for client_id, symbol, side, minute, price in (
            (second.client_id, "BTCUSDT", BUY, 5, 100.0),
            ("x", "ETHUSDT", BUY, 6, 10.0),
            ("y", "ETHUSDT", SELL, 7, 10.5),
            ("z", "BTCUSDT", SELL, 9, 101.0),
        )
    ]
    portfolio = Portfolio(1000.0)
    for fill in fills:
        portfolio.apply_fill(fill)
    trades = portfolio.trades.latest()
    assert [(t.symbol, t.entry_ns) for t in trades] == [
        ("ETHUSDT", 6 * MINUTE),
        ("BTCUSDT", 5 * MINUTE),
    ]
    contexts = entry_contexts(trades, audit)
    # BTCUSDT's trade opened at 5 min: the submission at 4 min (not the cancelled one at 1 min);
    # ETHUSDT has no audit record, so no context.
    assert [(c.symbol, c.entry_ns, c.score, c.regimes) for c in contexts] == [
        ("BTCUSDT", 5 * MINUTE, 0.8, {"volatility": "high"})
    ]
