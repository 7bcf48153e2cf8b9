"""What a strategy asks for: enter, exit, cancel. Intents are not orders: every intent passes the
risk engine (`risk.RiskEngine.check`), which sizes, prices and limits it and alone turns it into
an `OrderRequest` for the execution client.

The client id is chosen before the check (by the trading core), so the order the risk engine
approves already has the id under which the state machine owns it.
"""

from __future__ import annotations

import msgspec

from scalper.trading.orders import OrderType, TimeInForce


class EnterIntent(msgspec.Struct, frozen=True, kw_only=True):
    """Open a position on `side`, sized so that a fill stopped out at `stop_price` loses
    `RiskSettings.risk_per_trade` of equity."""

    client_id: str
    symbol: str
    side: int
    """BUY (long) or SELL (short)."""
    stop_price: float
    """The protective stop: sizing measures the risk from the entry price to it."""
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.POST_ONLY
    price: float | None = None
    """The limit price (required for a limit order; rounded to the tick by the risk engine)."""
    decided_ns: int
    decision_mid: float | None = None
    """The mid the decision saw (the book's mid when None)."""
    reason: str = ""


class ExitIntent(msgspec.Struct, frozen=True, kw_only=True):
    """Reduce the position of `symbol` (all of it by default), reduce-only, whatever the trading
    state: a stop must always be able to fire."""

    client_id: str
    symbol: str
    qty: float | None = None
    """How much to close (floored to the quantity step); None: the whole position."""
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.IOC
    price: float | None = None
    decided_ns: int
    decision_mid: float | None = None
    reason: str = ""


class CancelIntent(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel the open order `client_id`. Always allowed (it can only reduce exposure), but it
    spends the order rate like any request."""

    client_id: str
    symbol: str
    decided_ns: int
    reason: str = ""


Intent = EnterIntent | ExitIntent | CancelIntent
