"""Orders, fills and positions as the trading layer speaks of them, whatever the venue.

Prices and sizes are floats parsed once at the edge, like the engine's; quantities are always
positive, the side says the direction. Every time is event time in ns (the engine's clock).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Final

import msgspec

BUY: Final = 1
SELL: Final = -1


class OrderType(enum.Enum):
    MARKET = "market"
    """Bybit turns it into an IOC limit inside a slippage band: no liquidity there, cancelled."""
    LIMIT = "limit"


class TimeInForce(enum.Enum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    """All or nothing, at once."""
    POST_ONLY = "post_only"
    """Maker only: an order that would take liquidity is cancelled, never filled."""


class OrderStatus(enum.Enum):
    PENDING = "pending"
    """Sent, not yet acknowledged by the venue (the entry latency)."""
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    """Possibly after partial fills (a derivatives order on Bybit can be Cancelled with a
    filled quantity)."""
    REJECTED = "rejected"


OPEN_STATUSES: Final = frozenset(
    {OrderStatus.PENDING, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED}
)


class Liquidity(enum.Enum):
    MAKER = "maker"
    TAKER = "taker"


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What the trading core asks an execution client to place (after the risk engine)."""

    client_id: str
    """Unique per order (Bybit's orderLinkId): a retry can never place a second order."""
    symbol: str
    side: int
    """BUY or SELL."""
    qty: float
    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.GTC
    price: float | None = None
    """The limit price (None for a market order)."""
    reduce_only: bool = False
    decided_ns: int
    """Event time of the decision (what latency and slippage are measured from)."""
    decision_mid: float | None = None
    """The mid when the order was decided: slippage is measured against it."""


class Order(msgspec.Struct, kw_only=True):
    """An order as the venue (or paper broker) reports it."""

    request: OrderRequest
    status: OrderStatus = OrderStatus.PENDING
    filled_qty: float = 0.0
    avg_price: float = 0.0
    venue_id: str = ""
    reason: str = ""
    """Why it was rejected or cancelled by the venue, if it was."""
    updated_ns: int = 0

    @property
    def client_id(self) -> str:
        return self.request.client_id

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> float:
        """What is left, exact in the decimals of the quantities (no binary noise: the fills
        of a remainder add up to the order's size exactly)."""
        left = Decimal(repr(self.request.qty)) - Decimal(repr(self.filled_qty))
        return float(left) if left > 0 else 0.0


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of an order (funding is a `FundingPayment`)."""

    client_id: str
    symbol: str
    side: int
    price: float
    qty: float
    fee: float
    """In quote currency; positive is paid, negative a rebate."""
    liquidity: Liquidity
    ts_ns: int
    """Event time of the execution."""
    exec_id: str = ""


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True):
    """Funding settled on a position: positive is paid, negative received (quote currency)."""

    symbol: str
    amount: float
    rate: float
    position_qty: float
    """Signed position size the rate applied to."""
    mark_price: float
    ts_ns: int


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """An order's new state, as the execution client tells the trading core."""

    order: Order
    ts_ns: int


ExecutionEvent = OrderUpdate | Fill | FundingPayment
