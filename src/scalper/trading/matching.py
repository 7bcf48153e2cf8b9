"""The paper venue's matching engine: what happens to our orders at one instant of venue time.

It knows nothing of latency: `paper.PaperBroker` calls it when an order or cancel reaches the
venue and when market data arrives, with the book as it is at that moment, and sends on what it
produced (`take_events`). The rules are TRADING.md's "Fill model":

- An arriving order first takes what it can, walking the opposite side level by level (taker,
  `taker.walk`), less what our own fills already took there (`liquidity`). A market order is an
  IOC limit `market_slippage_bps` beyond the best price; IOC cancels the rest, FOK takes all or
  nothing, PostOnly that would take is cancelled (Bybit create-order.mdx), GTC rests the rest.
- A resting order keeps its place in the queue at its price (`queue`): trades at its price by
  the opposite aggressor fill it by the excess over the queue ahead; a trade through its price,
  or the opposite best reaching it, fills it in full (hftbacktest's PartialFillExchange). Resting
  fills are maker fills at the order's price.
- Reduce-only orders never open, add to or flip a position: too large, they are cut to the
  position; with nothing to reduce, rejected (on arrival) or cancelled (resting).
- Funding: at each funding time the position pays `position * mark * rate` (`funding`).

Every change is reported as `OrderUpdate`s (NEW on arrival, PARTIALLY_FILLED, FILLED,
CANCELLED or REJECTED with a reason) and `Fill`s, stamped with the venue time. An update carries
a copy of the order: the trader never shares the venue's objects.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any, Final

import msgspec

from scalper.book import BookSide, OrderBook
from scalper.events import BookUpdate, Level, TickerUpdate, Trade
from scalper.trading.funding import FundingTerms, funding_amount
from scalper.trading.liquidity import ConsumedLiquidity
from scalper.trading.orders import (
    BUY,
    SELL,
    ExecutionEvent,
    Fill,
    FundingPayment,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from scalper.trading.prices import QTY_EPS, at_or_better, same_price
from scalper.trading.queue import QueueEstimate, QueueModel, QueuePosition, queue_estimate
from scalper.trading.taker import band_limit, first_available, walk

CLOSED_MEMORY: Final = 1024
"""Closed orders remembered (oldest forgotten first), to say why a late cancel failed."""


class _Resting:
    """An open order in the venue's book, with its queue position."""

    __slots__ = ("is_buy", "order", "price", "queue")

    def __init__(self, order: Order, price: float, queue: QueuePosition) -> None:
        self.order = order
        self.price = price
        self.is_buy = order.request.side == BUY
        self.queue = queue


class MatchingEngine:
    """Open orders, positions, consumed liquidity and funding terms of the paper venue."""

    def __init__(
        self,
        *,
        maker_fee: float,
        taker_fee: float,
        market_slippage_bps: float,
        queue_model: QueueModel,
    ) -> None:
        self._maker_fee = maker_fee
        self._taker_fee = taker_fee
        self._slippage_bps = market_slippage_bps
        self._queue_model = queue_model
        self._events: list[ExecutionEvent] = []
        self._venue_ids = 0
        self._exec_ids = 0
        self._resting: dict[str, dict[str, _Resting]] = {}
        """symbol -> client id -> open order, in arrival order (queue priority among ours)."""
        self._symbol_of: dict[str, str] = {}
        self._closed: OrderedDict[str, tuple[OrderRequest, OrderStatus]] = OrderedDict()
        self._positions: dict[str, float] = {}
        self._consumed = ConsumedLiquidity()
        self._funding: dict[str, FundingTerms] = {}
        self._qty_steps: dict[str, Decimal] = {}

    def set_qty_step(self, symbol: str, step: str) -> None:
        """The symbol's quantity step (the venue's string): a fill from the queue model is
        floored to it, as a venue fills whole lots (the fraction is lost: the cautious side)."""
        self._qty_steps[symbol] = Decimal(step)

    # ------------------------------------------------------------------ output and state

    def take_events(self) -> list[ExecutionEvent]:
        """What the last calls produced, in order (and forget them). Read-only: when nothing
        was produced, the same empty list every time (no allocation per market event)."""
        events = self._events
        if events:
            self._events = []
        return events

    def position(self, symbol: str) -> float:
        """Signed position (positive long)."""
        return self._positions.get(symbol, 0.0)

    def restore_position(self, symbol: str, qty: float) -> None:
        """A restart of the paper venue with the position the trading core's store kept."""
        self._positions[symbol] = qty

    def open_orders(self) -> list[Order]:
        """Copies of the open orders, by symbol, in arrival order."""
        return [
            msgspec.structs.replace(r.order)
            for resting in self._resting.values()
            for r in resting.values()
        ]

    @property
    def activity(self) -> tuple[dict[str, Any], dict[Any, Any]]:
        """The live containers of open orders by symbol and of consumed liquidity: both empty
        means market data can change nothing here (read, never written, by the broker's fast
        path)."""
        return self._resting, self._consumed.levels

    @property
    def funding_terms(self) -> dict[str, FundingTerms]:
        """The live funding terms by symbol (the broker's fast path merges quiet tickers into
        them as `update_funding` would)."""
        return self._funding

    def watches(self, symbol: str) -> bool:
        """Whether market data of `symbol` can change anything here: an open order or
        consumed liquidity there."""
        return symbol in self._resting or self._consumed.tracks(symbol)

    def consumed_levels(self) -> int:
        """Levels where our fills' consumption is still tracked."""
        return len(self._consumed)

    def queue_estimate(self, client_id: str) -> QueueEstimate | None:
        """Where a resting order stands in its level's queue (None: not resting here)."""
        symbol = self._symbol_of.get(client_id)
        resting = self._resting.get(symbol) if symbol is not None else None
        r = resting.get(client_id) if resting is not None else None
        if r is None:
            return None
        step = self._qty_steps.get(r.order.request.symbol)
        return queue_estimate(r.queue, float(step) if step is not None else None)

    # ------------------------------------------------------------------ requests

    def arrive(self, request: OrderRequest, book: OrderBook | None, t: int) -> None:
        """An order reaches the venue at `t`; `book` is the symbol's book then (None: unknown)."""
        self._venue_ids += 1
        order = Order(request=request, venue_id=f"paper-{self._venue_ids}", updated_ns=t)
        problem = self._rejection(request, book)
        if problem is not None or book is None:
            self._close(order, OrderStatus.REJECTED, problem or "", t)
            return
        note = ""
        if request.reduce_only:
            allowed = self._reducible(request.symbol, request.side)
            if allowed <= QTY_EPS:
                self._close(
                    order,
                    OrderStatus.REJECTED,
                    "reduce-only order would open or add to a position "
                    f"(position {self.position(request.symbol):g})",
                    t,
                )
                return
            if request.qty > allowed + QTY_EPS:
                note = f"reduce-only: qty cut from {request.qty:g} to {allowed:g}, the position"
                order.request = msgspec.structs.replace(request, qty=allowed)
        self._report(order, OrderStatus.NEW, t, note)
        self._match_arrival(order, book, t)

    def cancel(self, client_id: str, sent_ns: int, t: int) -> None:
        """A cancel reaches the venue at `t`: the open order is cancelled, else the cancel is
        rejected, reported as a REJECTED update of that client id with the reason (for an order
        the trader holds as closed, a cancel that came too late: its final state stands)."""
        symbol = self._symbol_of.get(client_id)
        if symbol is not None:
            order = self._resting[symbol][client_id].order
            self._close(order, OrderStatus.CANCELLED, "cancelled on request", t)
            return
        closed = self._closed.get(client_id)
        if closed is not None:
            request, status = closed
            reason = f"cancel rejected: order {client_id!r} is already {status.value}"
        else:
            request = OrderRequest(
                client_id=client_id,
                symbol="",
                side=0,
                qty=0.0,
                order_type=OrderType.LIMIT,
                decided_ns=sent_ns,
            )
            reason = f"cancel rejected: no order {client_id!r}"
        rejected = Order(request=request, status=OrderStatus.REJECTED, reason=reason, updated_ns=t)
        self._events.append(OrderUpdate(order=rejected, ts_ns=t))

    def _rejection(self, request: OrderRequest, book: OrderBook | None) -> str | None:
        """Why the venue refuses the order outright, or None."""
        qty, price = request.qty, request.price
        if request.side not in (BUY, SELL):
            return f"side must be BUY (1) or SELL (-1), not {request.side}"
        if not 0.0 < qty < float("inf"):
            return f"qty must be positive, not {qty}"
        if request.order_type is OrderType.LIMIT and (
            price is None or not 0.0 < price < float("inf")
        ):
            return f"a limit order needs a positive price, not {price}"
        if (
            request.order_type is OrderType.MARKET
            and request.time_in_force is TimeInForce.POST_ONLY
        ):
            return "a market order cannot be post-only"
        if request.client_id in self._symbol_of:
            return f"duplicate client_id {request.client_id!r}: an order with it is open"
        if book is None:
            return f"unknown symbol {request.symbol!r}: no order book for it"
        if not book.in_sync:
            return f"no synced order book for {request.symbol} to match against"
        return None

    def _match_arrival(self, order: Order, book: OrderBook, t: int) -> None:
        """Take what the order can take (walking the book), then rest, cancel or kill the rest."""
        request = order.request
        symbol = request.symbol
        is_buy = request.side == BUY
        opposite = book.asks if is_buy else book.bids
        taken = self._consumed.taken(symbol, not is_buy)
        levels = opposite.top(len(opposite))
        best = first_available(levels, taken)
        far = "ask" if is_buy else "bid"
        if request.order_type is OrderType.MARKET:
            if best is None:
                self._close(order, OrderStatus.CANCELLED, f"market order: no {far} to take", t)
                return
            limit = band_limit(best, is_buy, self._slippage_bps)
        else:
            assert request.price is not None  # checked by _rejection
            limit = request.price
        marketable = best is not None and at_or_better(best, limit, is_buy)
        tif = request.time_in_force
        if tif is TimeInForce.POST_ONLY:
            if marketable:
                self._close(
                    order,
                    OrderStatus.CANCELLED,
                    f"post-only order would take liquidity: best {far} {best:g} "
                    f"at or through its price {limit:g}",
                    t,
                )
            else:
                self._rest(order, limit, book, t)
            return
        fills = walk(levels, order.remaining, limit, is_buy, taken) if marketable else []
        if tif is TimeInForce.FOK:
            available = sum(qty for _, qty in fills)
            if available < order.remaining - QTY_EPS:
                self._close(
                    order,
                    OrderStatus.CANCELLED,
                    f"fill-or-kill: only {available:g} of {order.remaining:g} "
                    f"at or better than {limit:g}",
                    t,
                )
                return
        for price, qty in fills:
            self._consumed.take(symbol, not is_buy, price, qty)
            self._execute(order, price, qty, Liquidity.TAKER, t)
        if order.remaining <= QTY_EPS:
            self._close(order, OrderStatus.FILLED, "", t)
        elif request.order_type is OrderType.MARKET:
            self._close(
                order,
                OrderStatus.CANCELLED,
                f"market order: no more {far}s within the {self._slippage_bps:g} bps "
                f"slippage band (limit {limit:g})",
                t,
            )
        elif tif is TimeInForce.IOC:
            self._close(
                order,
                OrderStatus.CANCELLED,
                f"immediate-or-cancel: no more {far}s at or better than {limit:g}",
                t,
            )
        else:
            self._rest(order, limit, book, t)
        if fills:
            self._enforce_reduce_only(symbol, t)

    def _rest(self, order: Order, price: float, book: OrderBook, t: int) -> None:
        """Put the order in the book: its queue starts behind the displayed size at its price
        (less what we took there) and behind our own earlier orders at that price, which the
        venue's book would show but ours does not."""
        request = order.request
        symbol, is_buy = request.symbol, request.side == BUY
        level = _level_at(book.bids if is_buy else book.asks, price)
        displayed = level[1] if level else 0.0
        taken = self._consumed.taken(symbol, is_buy).get(level[0], 0.0) if level else 0.0
        resting = self._resting.setdefault(symbol, {})
        ours_ahead = sum(
            r.order.remaining
            for r in resting.values()
            if r.is_buy == is_buy and same_price(r.price, price)
        )
        front = max(displayed - taken, 0.0) + ours_ahead
        resting[request.client_id] = _Resting(order, price, QueuePosition(front, displayed))
        self._symbol_of[request.client_id] = symbol
        if order.filled_qty > 0.0:
            self._report(order, OrderStatus.PARTIALLY_FILLED, t)

    # ------------------------------------------------------------------ market data

    def on_book(self, update: BookUpdate, book: OrderBook, t: int) -> None:
        """A book update applied to `book` at `t`: fresh levels end their consumption; resting
        orders move in their queues and fill if the opposite best reaches them."""
        if not book.in_sync:
            return
        self._consumed.refresh(update)
        resting = self._resting.get(update.symbol)
        if resting:
            self._track_depth(resting, update, book)
            self._fill_crossed(update.symbol, resting, book, t)

    def on_trade(self, symbol: str, trade: Trade, t: int) -> None:
        """A public trade: through our price it fills us in full; at our price by the opposite
        aggressor (or an unknown one) it advances the queue and fills us by the excess. The
        trade's size is shared among our orders at its price, first come first served."""
        resting = self._resting.get(symbol)
        if not resting:
            return
        left = trade.size
        for client_id, r in list(resting.items()):
            if client_id not in resting:
                continue
            if same_price(trade.price, r.price):
                if trade.side == (BUY if r.is_buy else SELL):
                    continue
                r.queue.on_trade(trade.size)
                qty = self._whole_lots(symbol, r.queue.take_excess(min(left, r.order.remaining)))
                if qty > QTY_EPS:
                    left -= qty
                    self._fill_resting(r, qty, t)
            elif (trade.price < r.price) == r.is_buy:
                self._fill_resting(r, r.order.remaining, t)

    def _track_depth(
        self, resting: dict[str, _Resting], update: BookUpdate, book: OrderBook
    ) -> None:
        """Move queue positions by the size changes at their prices (the queue model)."""
        reset = update.is_snapshot or update.update_id == 1
        for r in resting.values():
            if reset:
                level = _level_at(book.bids if r.is_buy else book.asks, r.price)
                new: float | None = level[1] if level else 0.0
            else:
                new = _delta_size(update.bids if r.is_buy else update.asks, r.price)
            if new is not None:
                r.queue.on_depth(new, self._queue_model)

    def _fill_crossed(
        self, symbol: str, resting: dict[str, _Resting], book: OrderBook, t: int
    ) -> None:
        """An order whose price the opposite best reaches fills in full, at its price (maker),
        and takes the opposite levels it crossed from what our other orders may use."""
        bests: dict[bool, float | None] = {}
        for client_id, r in list(resting.items()):
            if client_id not in resting:
                continue
            if r.is_buy not in bests:
                bests[r.is_buy] = self._best_available(symbol, book, not r.is_buy)
            best = bests[r.is_buy]
            if best is None or not at_or_better(best, r.price, r.is_buy):
                continue
            opposite = book.asks if r.is_buy else book.bids
            taken = self._consumed.taken(symbol, not r.is_buy)
            levels = opposite.top(len(opposite))
            for price, qty in walk(levels, r.order.remaining, r.price, r.is_buy, taken):
                self._consumed.take(symbol, not r.is_buy, price, qty)
            self._fill_resting(r, r.order.remaining, t)
            bests.clear()

    def _best_available(self, symbol: str, book: OrderBook, is_bid: bool) -> float | None:
        side = book.bids if is_bid else book.asks
        taken = self._consumed.taken(symbol, is_bid)
        if not taken:
            best = side.best()
            return best[0] if best else None
        return first_available(side.top(len(side)), taken)

    def _whole_lots(self, symbol: str, qty: float) -> float:
        step = self._qty_steps.get(symbol)
        if step is None or qty <= 0.0:
            return qty
        return float(Decimal(repr(qty)) // step * step)

    def _fill_resting(self, r: _Resting, qty: float, t: int) -> None:
        order = r.order
        self._execute(order, r.price, qty, Liquidity.MAKER, t)
        if order.remaining <= QTY_EPS:
            self._close(order, OrderStatus.FILLED, "", t)
        else:
            self._report(order, OrderStatus.PARTIALLY_FILLED, t)
        self._enforce_reduce_only(order.request.symbol, t)

    # ------------------------------------------------------------------ positions and funding

    def _reducible(self, symbol: str, side: int) -> float:
        """How much an order on `side` can reduce the position without flipping it."""
        position = self._positions.get(symbol, 0.0)
        return abs(position) if position * side < 0.0 else 0.0

    def _enforce_reduce_only(self, symbol: str, t: int) -> None:
        """After a position change, open reduce-only orders shrink to the position, or are
        cancelled when nothing is left to reduce."""
        resting = self._resting.get(symbol)
        if not resting:
            return
        for client_id, r in list(resting.items()):
            request = r.order.request
            if not request.reduce_only or client_id not in resting:
                continue
            allowed = self._reducible(symbol, request.side)
            if allowed <= QTY_EPS:
                self._close(
                    r.order, OrderStatus.CANCELLED, "reduce-only: no position left to reduce", t
                )
            elif r.order.remaining > allowed + QTY_EPS:
                cut = r.order.filled_qty + allowed
                r.order.request = msgspec.structs.replace(request, qty=cut)
                self._report(
                    r.order,
                    r.order.status,
                    t,
                    f"reduce-only: qty cut from {request.qty:g} to {cut:g}, the position",
                )

    def update_funding(self, update: TickerUpdate) -> int | None:
        """Merge a ticker's funding terms; returns a new funding time (ns) to settle at."""
        terms = self._funding.get(update.symbol)
        if terms is None:
            terms = self._funding[update.symbol] = FundingTerms()
        return terms.update(update.fields, update.is_snapshot)

    def funding_due(self, symbol: str, now_ns: int) -> bool:
        """Whether `settle_funding(symbol, now_ns, ...)` would settle a funding time."""
        terms = self._funding.get(symbol)
        return terms is not None and terms.due(now_ns) is not None

    def settle_funding(self, symbol: str, now_ns: int, mid: float | None) -> None:
        """Pay or receive funding on the position if a funding time has come by `now_ns` (once
        per funding time), at the ticker's mark price, else at `mid`."""
        terms = self._funding.get(symbol)
        at = terms.due(now_ns) if terms is not None else None
        if terms is None or at is None:
            return
        terms.settled_ns = at
        position = self._positions.get(symbol, 0.0)
        mark = terms.mark_price if terms.mark_price is not None else mid
        if abs(position) <= QTY_EPS or terms.rate is None or mark is None:
            return
        self._events.append(
            FundingPayment(
                symbol=symbol,
                amount=funding_amount(position, mark, terms.rate),
                rate=terms.rate,
                position_qty=position,
                mark_price=mark,
                ts_ns=at,
            )
        )

    # ------------------------------------------------------------------ order bookkeeping

    def _execute(
        self, order: Order, price: float, qty: float, liquidity: Liquidity, t: int
    ) -> None:
        """One execution: the order's numbers, the position, and a Fill for the trader."""
        request = order.request
        filled = float(Decimal(repr(order.filled_qty)) + Decimal(repr(qty)))
        order.avg_price = (order.avg_price * order.filled_qty + price * qty) / filled
        order.filled_qty = filled
        fee_rate = self._maker_fee if liquidity is Liquidity.MAKER else self._taker_fee
        position = self._positions.get(request.symbol, 0.0) + request.side * qty
        self._positions[request.symbol] = 0.0 if abs(position) <= QTY_EPS else position
        self._exec_ids += 1
        self._events.append(
            Fill(
                client_id=request.client_id,
                symbol=request.symbol,
                side=request.side,
                price=price,
                qty=qty,
                fee=price * qty * fee_rate,
                liquidity=liquidity,
                ts_ns=t,
                exec_id=f"paper-x{self._exec_ids}",
            )
        )

    def _report(self, order: Order, status: OrderStatus, t: int, reason: str = "") -> None:
        order.status = status
        order.reason = reason
        order.updated_ns = t
        self._events.append(OrderUpdate(order=msgspec.structs.replace(order), ts_ns=t))

    def _close(self, order: Order, status: OrderStatus, reason: str, t: int) -> None:
        """A final state: reported, then forgotten but for a line in the closed memory."""
        self._report(order, status, t, reason)
        client_id = order.request.client_id
        symbol = self._symbol_of.get(client_id)
        resting = self._resting.get(symbol, {}) if symbol is not None else {}
        entry = resting.get(client_id)
        if entry is not None and entry.order is order:
            del resting[client_id]
            del self._symbol_of[client_id]
            if not resting:
                del self._resting[order.request.symbol]
        self._closed[client_id] = (order.request, status)
        self._closed.move_to_end(client_id)
        if len(self._closed) > CLOSED_MEMORY:
            self._closed.popitem(last=False)


def _level_at(side: BookSide, price: float) -> Level | None:
    """The (book price, size) of a side's level at `price`, or None. O(levels)."""
    for level in side.top(len(side)):
        if same_price(level[0], price):
            return level
    return None


def _delta_size(levels: list[Level], price: float) -> float | None:
    """The new size a delta gives the level at `price` (the last if repeated), or None."""
    new = None
    for level_price, size in levels:
        if same_price(level_price, price):
            new = size
    return new
