"""The local exchange's trading account: orders matched against its own published market.

Every frame the simulator publishes is decoded (`venues.bybit.wire.decode_frame`) and applied
to one `OrderBook` per symbol, and given to `trading.matching.MatchingEngine` (market/IOC/FOK
walk the book, PostOnly that would cross is cancelled, resting limits fill when the market
trades through them or the queue ahead is consumed, reduce-only, fees, funding). The private
REST handlers (`create`, `amend`, ...) answer `(retCode, result)` in Bybit's shapes; what
happens to orders is pushed as Bybit's private topics (`order`, `execution`, `position`,
`wallet`: rows of string numbers) through `push`.

Differences from Bybit, by design: an amend is a cancel and a new arrival at the venue (the
order loses its queue place even when only its quantity shrinks; an amended PostOnly that
would cross is cancelled, where Bybit refuses the amend); the venue clock is the wall clock (the
market's time when the simulator is stepped by hand).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import msgspec

from scalper.book import OrderBook
from scalper.events import BookUpdate, TickerUpdate, TradeBatch
from scalper.settings import SimulatedAccountSettings
from scalper.trading.matching import MatchingEngine
from scalper.trading.orders import (
    BUY,
    SELL,
    Fill,
    FundingPayment,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from scalper.trading.prices import QTY_EPS
from scalper.trading.queue import queue_model
from scalper.venues.bybit.wire import decode_frame

Result = tuple[int, Any]
"""(retCode, result) of one private request."""
PushSink = Callable[[str, list[dict[str, Any]]], None]

CLOSED_ORDERS: Final = 1000
"""Closed orders kept for queries by orderLinkId (oldest forgotten first)."""
LINK_ID_MAX: Final = 36
EXECUTIONS_KEPT: Final = 10_000
"""Executions kept for /v5/execution/list (oldest forgotten first)."""
WEEK_MS: Final = 7 * 86_400_000
_SIDES: Final = {"Buy": BUY, "Sell": SELL}
_SIDE_NAMES: Final = {BUY: "Buy", SELL: "Sell"}
_TYPES: Final = {"Market": OrderType.MARKET, "Limit": OrderType.LIMIT}
_TIFS: Final = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "PostOnly": TimeInForce.POST_ONLY,
}
_OPEN: Final = frozenset({"New", "PartiallyFilled"})


def number(value: float) -> str:
    """A float as Bybit writes numbers: a plain decimal string."""
    text = format(Decimal(repr(round(value, 10))).normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass
class AccountOrder:
    """One order as the venue knows it (Bybit's fields)."""

    order_id: str
    link: str
    request: OrderRequest
    """The request the engine holds now (after an amend: the remaining quantity)."""
    base_filled: float = 0.0
    """Filled before the engine's current copy arrived (an amend re-arrives the rest)."""
    filled: float = 0.0
    notional: float = 0.0
    status: str = "New"
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"
    created_ms: int = 0
    updated_ms: int = 0

    @property
    def qty(self) -> float:
        return self.base_filled + self.request.qty

    def row(self) -> dict[str, Any]:
        request = self.request
        return {
            "category": "linear",
            "orderId": self.order_id,
            "orderLinkId": self.link,
            "symbol": request.symbol,
            "side": _SIDE_NAMES[request.side],
            "orderType": "Market" if request.order_type is OrderType.MARKET else "Limit",
            "timeInForce": next(k for k, v in _TIFS.items() if v is request.time_in_force),
            "price": number(request.price) if request.price is not None else "0",
            "qty": number(self.qty),
            "leavesQty": number(self.qty - self.filled) if self.status in _OPEN else "0",
            "orderStatus": self.status,
            "cumExecQty": number(self.filled),
            "cumExecValue": number(self.notional),
            "avgPrice": number(self.notional / self.filled) if self.filled else "",
            "reduceOnly": request.reduce_only,
            "positionIdx": 0,
            "rejectReason": self.reject_reason,
            "cancelType": self.cancel_type,
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms),
        }


@dataclass
class _Position:
    entry: float = 0.0
    realised: float = 0.0
    updated_ms: int = 0
    seq: int = 0


class SimulatedAccount:
    """One account's orders, positions and wallet on the simulator's market."""

    def __init__(self, settings: SimulatedAccountSettings, push: PushSink | None = None) -> None:
        self.settings = settings
        self.push: PushSink = push or (lambda topic, rows: None)
        self.engine = MatchingEngine(
            maker_fee=settings.maker_fee,
            taker_fee=settings.taker_fee,
            market_slippage_bps=settings.market_slippage_bps,
            queue_model=queue_model(settings.queue_model),
        )
        self.books: dict[str, OrderBook] = {}
        self.marks: dict[str, float] = {}
        self.orders: OrderedDict[str, AccountOrder] = OrderedDict()
        """orderId -> order, open and recently closed."""
        self._by_link: dict[str, str] = {}
        self._positions: dict[str, _Position] = {}
        self.balance = settings.starting_balance
        """USDT wallet balance: start + realised P&L - fees - funding paid."""
        self.clock: Callable[[], int] = time.time_ns
        """The venue's clock (ns): the wall clock, or the market's time when the simulator is
        stepped by hand (`ExchangeSimulator.step`)."""
        self.executions: deque[dict[str, Any]] = deque(maxlen=EXECUTIONS_KEPT)
        """Every execution pushed (fills and funding), oldest first: /v5/execution/list."""
        self._ids = 0
        self._exec_ids = 0
        self._clock_ns = 0

    def set_qty_steps(self, steps: dict[str, str]) -> None:
        for symbol, step in steps.items():
            self.engine.set_qty_step(symbol, step)

    def now_ns(self) -> int:
        self._clock_ns = max(self._clock_ns + 1, self.clock())
        return self._clock_ns

    # ------------------------------------------------------------------ the market

    def on_frame(self, raw: bytes) -> None:
        """One frame the simulator publishes (before any fault: the venue's truth)."""
        event = decode_frame(raw, 0)
        if isinstance(event, BookUpdate):
            book = self.books.get(event.symbol)
            if book is None:
                if not event.is_snapshot:
                    return
                book = self.books[event.symbol] = OrderBook(event.symbol, event.depth)
            book.apply(event)
            if self.engine.watches(event.symbol):
                self.engine.on_book(event, book, self.now_ns())
                self._drain()
        elif isinstance(event, TradeBatch):
            if self.engine.watches(event.symbol):
                t = self.now_ns()
                for trade in event.trades:
                    self.engine.on_trade(event.symbol, trade, t)
                self._drain()
        elif isinstance(event, TickerUpdate):
            if event.fields.mark_price is not None:
                self.marks[event.symbol] = event.fields.mark_price
            self.engine.update_funding(event)
            book = self.books.get(event.symbol)
            self.engine.settle_funding(
                event.symbol, event.ts_event_ns, book.mid() if book is not None else None
            )
            self._drain()

    # ------------------------------------------------------------------ orders

    def create(self, p: dict[str, Any]) -> Result:
        symbol = str(p.get("symbol", ""))
        book = self.books.get(symbol)
        if book is None:
            return 10001, f"params error: symbol {symbol!r} invalid or without a book yet"
        side = _SIDES.get(str(p.get("side")))
        kind = _TYPES.get(str(p.get("orderType")))
        tif = _TIFS.get(str(p.get("timeInForce", "GTC")))
        if side is None or kind is None or tif is None:
            return 10001, "params error: side, orderType or timeInForce invalid"
        try:
            qty = float(p["qty"])
            price = float(p["price"]) if kind is OrderType.LIMIT else None
        except (KeyError, ValueError):
            return 10001, "params error: qty (and price for a limit order) must be numbers"
        link = str(p.get("orderLinkId", ""))
        if len(link) > LINK_ID_MAX:
            return 10001, "params error: orderLinkId longer than 36 characters"
        if link and link in self._by_link:
            return 110072, "OrderLinkedID is duplicate"
        reduce_only = bool(p.get("reduceOnly", False))
        if reduce_only and self.engine.position(symbol) * side >= 0.0:
            return 110017, "current position is zero, cannot fix reduce-only order qty"
        self._ids += 1
        order_id = f"sim-{self._ids:08d}"
        request = OrderRequest(
            client_id=order_id,
            symbol=symbol,
            side=side,
            qty=qty,
            order_type=kind,
            time_in_force=tif,
            price=price,
            reduce_only=reduce_only,
            decided_ns=0,
        )
        t = self.now_ns()
        self.engine.arrive(request, book, t)
        events = self.engine.take_events()
        first = events[0] if events else None
        if isinstance(first, OrderUpdate) and first.order.status is OrderStatus.REJECTED:
            return 10001, first.order.reason
        order = AccountOrder(order_id, link, request, created_ms=t // 1_000_000)
        self.orders[order_id] = order
        if link:
            self._by_link[link] = order_id
        self._apply(events)
        self._forget_closed()
        return 0, {"orderId": order_id, "orderLinkId": link}

    def amend(self, p: dict[str, Any]) -> Result:
        order = self._find(p)
        if order is None or order.status not in _OPEN:
            return 110001, "order not exists or too late to replace"
        request = order.request
        try:
            qty = float(p["qty"]) if p.get("qty") else order.qty
            price = float(p["price"]) if p.get("price") else request.price
        except ValueError:
            return 10001, "params error: qty and price must be numbers"
        if request.order_type is OrderType.MARKET or qty <= order.filled + QTY_EPS:
            return 10001, "params error: nothing to amend (a market order, or qty not above filled)"
        t = self.now_ns()
        self.engine.cancel(order.order_id, t, t)
        self.engine.take_events()
        order.base_filled = order.filled
        order.request = msgspec.structs.replace(request, qty=qty - order.filled, price=price)
        self.engine.arrive(order.request, self.books[request.symbol], t)
        self._apply(self.engine.take_events())
        return 0, {"orderId": order.order_id, "orderLinkId": order.link}

    def cancel(self, p: dict[str, Any]) -> Result:
        order = self._find(p)
        if order is None or order.status not in _OPEN:
            return 110001, "order not exists or too late to cancel"
        t = self.now_ns()
        self.engine.cancel(order.order_id, t, t)
        self._apply(self.engine.take_events())
        return 0, {"orderId": order.order_id, "orderLinkId": order.link}

    def cancel_all(self, p: dict[str, Any]) -> Result:
        symbol = p.get("symbol")
        done = []
        for order in list(self.orders.values()):
            if order.status in _OPEN and (not symbol or order.request.symbol == symbol):
                self.cancel({"orderId": order.order_id})
                done.append({"orderId": order.order_id, "orderLinkId": order.link})
        return 0, {"list": done, "success": "1"}

    def _find(self, p: dict[str, Any]) -> AccountOrder | None:
        if p.get("orderId"):
            return self.orders.get(str(p["orderId"]))
        order_id = self._by_link.get(str(p.get("orderLinkId", "")))
        return self.orders.get(order_id) if order_id is not None else None

    # ------------------------------------------------------------------ queries

    def open_orders(self, p: dict[str, Any]) -> Result:
        symbol, link, order_id = p.get("symbol"), p.get("orderLinkId"), p.get("orderId")
        rows = [
            o.row()
            for o in self.orders.values()
            if (not symbol or o.request.symbol == symbol)
            and (
                o.link == link
                if link
                else o.order_id == order_id
                if order_id
                else o.status in _OPEN
            )
        ]
        return 0, {"category": "linear", "list": rows, "nextPageCursor": ""}

    def execution_list(self, p: dict[str, Any]) -> Result:
        """/v5/execution/list: newest first; startTime/endTime as Bybit reads them (neither:
        the last 7 days; one: 7 days from or to it; a wider range is refused), `limit` 1-100
        (50), `cursor` the offset of the next page."""
        try:
            now_ms = self.now_ns() // 1_000_000
            start = int(p["startTime"]) if p.get("startTime") else None
            end = int(p["endTime"]) if p.get("endTime") else None
            limit = int(p.get("limit") or 50)
            offset = int(p.get("cursor") or 0)
        except ValueError:
            return 10001, "params error: startTime, endTime, limit and cursor must be integers"
        if not 1 <= limit <= 100:
            return 10001, "params error: limit must be 1 to 100"
        if start is None:
            end = now_ms if end is None else end
            start = end - WEEK_MS
        elif end is None:
            end = start + WEEK_MS
        if end < start or end - start > WEEK_MS:
            return 10001, "params error: the time range must be 0 to 7 days"
        wanted = {
            k: str(p[k]) for k in ("symbol", "orderId", "orderLinkId", "execType") if p.get(k)
        }
        rows = [
            row
            for row in reversed(self.executions)
            if start <= int(row["execTime"]) <= end and all(row[k] == v for k, v in wanted.items())
        ]
        page = rows[offset : offset + limit]
        cursor = str(offset + limit) if offset + limit < len(rows) else ""
        return 0, {"category": "linear", "list": page, "nextPageCursor": cursor}

    def position_rows(self, p: dict[str, Any]) -> Result:
        symbol = p.get("symbol")
        symbols = [symbol] if symbol else [s for s in self._positions if self.engine.position(s)]
        return 0, {
            "category": "linear",
            "list": [self._position_row(s) for s in symbols],
            "nextPageCursor": "",
        }

    def wallet(self, p: dict[str, Any]) -> Result:
        return 0, {"list": [self._wallet_row()]}

    def fee_rates(self, p: dict[str, Any]) -> Result:
        symbol = p.get("symbol")
        symbols = [symbol] if symbol else list(self.books)
        rows = [
            {
                "symbol": s,
                "takerFeeRate": number(self.settings.taker_fee),
                "makerFeeRate": number(self.settings.maker_fee),
            }
            for s in symbols
        ]
        return 0, {"list": rows}

    # ------------------------------------------------------------------ engine events -> pushes

    def _apply(self, events: list[Any]) -> None:
        touched: list[str] = []
        for event in events:
            if isinstance(event, OrderUpdate):
                self._order_update(event)
            elif isinstance(event, Fill):
                self._fill(event)
                if event.symbol not in touched:
                    touched.append(event.symbol)
            elif isinstance(event, FundingPayment):
                self._funding(event)
        for symbol in touched:
            self.push("position", [self._position_row(symbol)])
        if touched:
            self.push("wallet", [self._wallet_row()])

    def _drain(self) -> None:
        events = self.engine.take_events()
        if events:
            self._apply(events)
            self._forget_closed()

    def _order_update(self, update: OrderUpdate) -> None:
        engine_order = update.order
        order = self.orders.get(engine_order.request.client_id)
        if order is None:
            return
        order.request = engine_order.request
        status = engine_order.status
        reason = engine_order.reason
        if status is OrderStatus.FILLED:
            order.status = "Filled"
        elif status is OrderStatus.CANCELLED:
            order.status = "Cancelled"
            if reason.startswith("post-only"):
                order.reject_reason = "EC_PostOnlyWillTakeLiquidity"
            elif reason.startswith("reduce-only"):
                order.cancel_type = "CancelByReduceOnly"
            elif reason == "cancelled on request":
                order.cancel_type = "CancelByUser"
            else:
                order.reject_reason = "EC_NoImmediateQtyToFill"
        elif status is OrderStatus.REJECTED:
            order.status = "Rejected"
        else:
            order.status = "PartiallyFilled" if order.filled > QTY_EPS else "New"
        order.updated_ms = update.ts_ns // 1_000_000
        self.push("order", [order.row()])

    def _fill(self, fill: Fill) -> None:
        order = self.orders.get(fill.client_id)
        if order is not None:
            order.filled += fill.qty
            order.notional += fill.price * fill.qty
        position = self._positions.setdefault(fill.symbol, _Position())
        after = self.engine.position(fill.symbol)
        before = after - fill.side * fill.qty
        closed = min(abs(before), fill.qty) if before * fill.side < 0 else 0.0
        if closed:
            pnl = (fill.price - position.entry) * closed * (1.0 if before > 0 else -1.0)
            position.realised += pnl
            self.balance += pnl
        if abs(after) <= QTY_EPS:
            position.entry = 0.0
        elif before * after < 0 or abs(before) <= QTY_EPS:
            position.entry = fill.price
        elif abs(after) > abs(before):
            added = abs(after) - abs(before)
            position.entry = (abs(before) * position.entry + added * fill.price) / abs(after)
        self.balance -= fill.fee
        position.updated_ms = fill.ts_ns // 1_000_000
        position.seq += 1
        maker = fill.liquidity is Liquidity.MAKER
        self._exec_ids += 1
        self._execution(
            {
                "category": "linear",
                "symbol": fill.symbol,
                "execId": f"sim-x{self._exec_ids:010d}",
                "orderId": fill.client_id,
                "orderLinkId": order.link if order is not None else "",
                "side": _SIDE_NAMES[fill.side],
                "orderPrice": number(order.request.price or 0.0) if order else "0",
                "orderQty": number(order.qty) if order else "0",
                "leavesQty": number(order.qty - order.filled) if order else "0",
                "orderType": "Market"
                if order and order.request.order_type is OrderType.MARKET
                else "Limit",
                "execPrice": number(fill.price),
                "execQty": number(fill.qty),
                "execValue": number(fill.price * fill.qty),
                "execFee": number(fill.fee),
                "feeRate": number(self.settings.maker_fee if maker else self.settings.taker_fee),
                "isMaker": maker,
                "execType": "Trade",
                "execTime": str(fill.ts_ns // 1_000_000),
                "seq": position.seq,
            }
        )

    def _funding(self, payment: FundingPayment) -> None:
        self.balance -= payment.amount
        self._exec_ids += 1
        self._execution(
            {
                "category": "linear",
                "symbol": payment.symbol,
                "execId": f"sim-x{self._exec_ids:010d}",
                "orderId": "",
                "orderLinkId": "",
                "side": _SIDE_NAMES[BUY if payment.position_qty > 0 else SELL],
                "execPrice": number(payment.mark_price),
                "execQty": number(abs(payment.position_qty)),
                "execFee": number(payment.amount),
                "feeRate": number(payment.rate),
                "isMaker": False,
                "execType": "Funding",
                "execTime": str(payment.ts_ns // 1_000_000),
                "seq": 0,
            }
        )
        self.push("wallet", [self._wallet_row()])

    def _execution(self, row: dict[str, Any]) -> None:
        self.executions.append(row)
        self.push("execution", [row])

    def _forget_closed(self) -> None:
        closed = [o for o in self.orders.values() if o.status not in _OPEN]
        for order in closed[: max(0, len(closed) - CLOSED_ORDERS)]:
            del self.orders[order.order_id]
            # The link stays known: a reused orderLinkId is a duplicate even much later.

    # ------------------------------------------------------------------ rows

    def _mark(self, symbol: str) -> float:
        if symbol in self.marks:
            return self.marks[symbol]
        book = self.books.get(symbol)
        mid = book.mid() if book is not None else None
        return mid or 0.0

    def _unrealised(self, symbol: str) -> float:
        size = self.engine.position(symbol)
        entry = self._positions.get(symbol, _Position()).entry
        return (self._mark(symbol) - entry) * size if size else 0.0

    def _position_row(self, symbol: str) -> dict[str, Any]:
        position = self._positions.get(symbol, _Position())
        size = self.engine.position(symbol)
        mark = self._mark(symbol)
        return {
            "category": "linear",
            "symbol": symbol,
            "side": "Buy" if size > 0 else "Sell" if size < 0 else "",
            "size": number(abs(size)),
            "positionIdx": 0,
            "avgPrice": number(position.entry),
            "entryPrice": number(position.entry),
            "markPrice": number(mark),
            "positionValue": number(abs(size) * position.entry),
            "unrealisedPnl": number(self._unrealised(symbol)),
            "cumRealisedPnl": number(position.realised),
            "leverage": "10",
            "updatedTime": str(position.updated_ms),
            "seq": position.seq,
        }

    def _wallet_row(self) -> dict[str, Any]:
        unrealised = sum(self._unrealised(s) for s in self._positions)
        equity = self.balance + unrealised
        return {
            "accountType": "UNIFIED",
            "totalEquity": number(equity),
            "totalWalletBalance": number(self.balance),
            "totalMarginBalance": number(equity),
            "totalAvailableBalance": number(equity),
            "coin": [
                {
                    "coin": "USDT",
                    "walletBalance": number(self.balance),
                    "equity": number(equity),
                    "unrealisedPnl": number(unrealised),
                    "usdValue": number(equity),
                }
            ],
        }
