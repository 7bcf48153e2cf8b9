"""What the API serves of the trading core: state, positions, orders, fills, P&L, audit."""

from __future__ import annotations

import msgspec

from scalper.trading.audit import AuditRecord
from scalper.trading.orders import Fill, Order
from scalper.trading.portfolio import EquityPoint
from scalper.trading.queue import QueueEstimate
from scalper.trading.trader import Trader

_SIDES = {1: "buy", -1: "sell"}
"""The first letter of an exit order's client id (`Trader._client_id`: "e" entry, "x" exit)."""


class TradingStateView(msgspec.Struct, frozen=True, kw_only=True):
    """The account's trading state and every traded symbol's state machine."""

    state: str
    """active, reducing (only exposure-reducing orders) or halted."""
    reason: str
    equity: float
    daily_pnl: float
    day_start_equity: float
    open_positions: int
    open_orders: int
    symbols: dict[str, str]
    """Symbol -> its machine's state (idle, scanning, ..., in_position, cooldown, halted)."""
    refusals: dict[str, int]
    """Risk refusals since start, by reason."""
    errors: dict[str, int]
    """Symbols halted by a strategy or core error, with their count."""
    strategy: str
    as_of_ns: int
    """Event time of the trading core's latest event."""


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    side: str
    """long or short."""
    qty: float
    entry_price: float | None
    mark: float
    unrealised: float
    stop_price: float | None
    take_profit: float | None
    since_ns: int
    state: str


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    symbol: str
    side: str
    order_type: str
    time_in_force: str
    qty: float
    price: float | None
    reduce_only: bool
    status: str
    filled_qty: float
    avg_price: float
    reason: str
    decided_ns: int
    updated_ns: int
    queue: QueueEstimate | None = None
    """A resting paper order's place in its level's queue (size ahead, in lots and as a share
    of the level); None for other orders and for a venue that does not say."""


class FillView(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    symbol: str
    side: str
    price: float
    qty: float
    fee: float
    liquidity: str
    ts_ns: int
    intent: str
    """entry (opens or adds to a position) or exit (reduces or closes it)."""


class PnlView(msgspec.Struct, frozen=True, kw_only=True):
    """Realised and unrealised P&L, fees and funding as their own lines, and the equity curve."""

    starting_equity: float
    equity: float
    realised: float
    unrealised: float
    fees: float
    funding: float
    net: float
    trades: int
    wins: int
    equity_curve: list[EquityPoint]


class AuditView(msgspec.Struct, frozen=True, kw_only=True):
    records: list[AuditRecord]


class OrdersView(msgspec.Struct, frozen=True, kw_only=True):
    open: list[OrderView]
    recent: list[OrderView]
    """Finished orders, newest first."""


class PositionsView(msgspec.Struct, frozen=True, kw_only=True):
    positions: list[PositionView]


class FillsView(msgspec.Struct, frozen=True, kw_only=True):
    fills: list[FillView]
    """Newest first."""


class CommandView(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of a write command: the trading state after it."""

    state: str
    reason: str
    exits_sent: int = 0


def trading_state_view(trader: Trader) -> TradingStateView:
    risk = trader.risk
    return TradingStateView(
        state=risk.state.name.lower(),
        reason=risk.state_reason,
        equity=trader.portfolio.equity,
        daily_pnl=risk.daily_pnl,
        day_start_equity=risk.day_start_equity,
        open_positions=sum(1 for _ in trader.portfolio.open_symbols()),
        open_orders=len(trader.orders),
        symbols=trader.machine_states(),
        refusals={reason.value: count for reason, count in risk.refusals.items() if count},
        errors=dict(trader.errors),
        strategy=trader.strategy.name,
        as_of_ns=trader.now_ns,
    )


def positions_view(trader: Trader) -> PositionsView:
    portfolio = trader.portfolio
    rows = []
    for symbol, exposure in sorted(portfolio.exposures().items()):
        if not exposure.qty:
            continue
        entry_price = portfolio.avg_entry_price(symbol)
        unrealised = (exposure.mark - entry_price) * exposure.qty if entry_price else 0.0
        machine = trader.symbols[symbol].machine if symbol in trader.symbols else None
        rows.append(
            PositionView(
                symbol=symbol,
                side="long" if exposure.qty > 0 else "short",
                qty=abs(exposure.qty),
                entry_price=entry_price,
                mark=exposure.mark,
                unrealised=unrealised,
                stop_price=machine.stop_price if machine is not None else None,
                take_profit=trader.take_profit(symbol),
                since_ns=trader.symbols[symbol].entry_ns if symbol in trader.symbols else 0,
                state=machine.state.value if machine is not None else "",
            )
        )
    return PositionsView(positions=rows)


def order_view(order: Order, queue: QueueEstimate | None = None) -> OrderView:
    request = order.request
    return OrderView(
        client_id=request.client_id,
        symbol=request.symbol,
        side=_SIDES.get(request.side, str(request.side)),
        order_type=request.order_type.value,
        time_in_force=request.time_in_force.value,
        qty=request.qty,
        price=request.price,
        reduce_only=request.reduce_only,
        status=order.status.value,
        filled_qty=order.filled_qty,
        avg_price=order.avg_price,
        reason=order.reason,
        decided_ns=request.decided_ns,
        updated_ns=order.updated_ns,
        queue=queue,
    )


def orders_view(trader: Trader, symbol: str | None, limit: int) -> OrdersView:
    def wanted(order: Order) -> bool:
        return symbol is None or order.request.symbol == symbol

    recent = [order_view(o) for o in reversed(trader.finished) if wanted(o)][:limit]
    estimate = getattr(trader.execution, "queue_estimate", None)  # the paper broker's

    def open_view(order: Order) -> OrderView:
        queue = estimate(order.request.client_id) if estimate is not None else None
        return order_view(order, queue)

    return OrdersView(
        open=[open_view(o) for o in trader.orders.values() if wanted(o)], recent=recent
    )


def fill_view(fill: Fill, is_exit: bool) -> FillView:
    return FillView(
        client_id=fill.client_id,
        symbol=fill.symbol,
        side=_SIDES.get(fill.side, str(fill.side)),
        price=fill.price,
        qty=fill.qty,
        fee=fill.fee,
        liquidity=fill.liquidity.value,
        ts_ns=fill.ts_ns,
        intent="exit" if is_exit else "entry",
    )


def fills_view(trader: Trader, symbol: str | None, limit: int) -> FillsView:
    fills = [f for f in reversed(trader.fills) if symbol is None or f.symbol == symbol]
    return FillsView(fills=[fill_view(f, trader.is_exit(f.client_id)) for f in fills[:limit]])


def pnl_view(trader: Trader, points: int) -> PnlView:
    portfolio = trader.portfolio
    pnl = portfolio.pnl()
    trades = list(portfolio.trades)
    curve = list(portfolio.equity_curve)
    return PnlView(
        starting_equity=float(portfolio.starting_equity),
        equity=pnl.equity,
        realised=pnl.realised,
        unrealised=pnl.unrealised,
        fees=pnl.fees,
        funding=pnl.funding,
        net=pnl.net,
        trades=len(trades),
        wins=sum(1 for trade in trades if trade.net_pnl > 0),
        equity_curve=curve[-points:],
    )


def audit_view(trader: Trader, symbol: str | None, limit: int) -> AuditView:
    audit = trader.audit
    records = audit.latest(limit) if symbol is None else audit.for_symbol(symbol, limit)
    return AuditView(records=records)
