"""The risk engine: every intent passes it, and only what it approves becomes an order.

`check(intent, context)` answers `Approved(request)` (sized, priced on the grid, within every
limit), `CancelApproved` or `Refused(reason)`; refusals are counted by reason (`refusals`).

Trading states (after nautilus_trader's TradingState, ../shared/TRADING.md "Risk"):
- ACTIVE: everything within limits passes.
- REDUCING: entries are refused; exits (reduce-only, against a position) and cancels pass.
- HALTED: the same refusals, and the trading core cancels every open order and, by policy
  (`RiskSettings.flatten_on_halt`), closes every position. Unlike nautilus (where HALTED denies
  every submit), exits still pass here: flattening and stops need them.

The state is the most severe of:
- the day's loss level, latched until the next UTC day: the loss since the day's start equity
  (realised and unrealised P&L, fees and funding: all of them move equity) at or past
  `daily_loss_limit` of the day's start equity -> REDUCING; at or past `halt_loss_factor` times
  that -> HALTED;
- a halt by hand (`halt(reason)`, the kill switch) or by execution health (an order or cancel
  unacknowledged for `ack_timeout_s`; `reject_burst` rejects within `reject_window_s`): HALTED
  until `resume()`.
A resume clears the halts but not the day's loss level: a day past the halt loss stays HALTED
until the next UTC day.

Market-data integrity refuses entries without changing the state: a symbol whose book is out of
sync, crossed or stale (unchanged for `stale_book_s` of event time) takes no entry; a feed that
is down takes none at all. Exits still pass (a stop fires on the next valid book).

Pure and event-time driven: the caller passes event time with every call.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

import msgspec

from scalper.events import Instrument
from scalper.settings import RiskSettings
from scalper.trading.grid import exact, floor_to_step, limit_price_on_tick, stop_price_on_tick
from scalper.trading.intents import CancelIntent, EnterIntent, ExitIntent, Intent
from scalper.trading.journal import Journal
from scalper.trading.orders import BUY, SELL, Fill, Order, OrderRequest, OrderStatus, OrderType
from scalper.trading.portfolio import Exposure
from scalper.trading.sizing import qty_for_notional, qty_for_risk
from scalper.trading.throttle import NS_PER_S, OrderRateLimiter

DAY_NS: Final = 86_400 * NS_PER_S
"""A UTC day: Unix time has no leap seconds, so day n is [n * DAY_NS, (n + 1) * DAY_NS)."""
ZERO: Final = Decimal(0)
STATE_CHANGES_KEPT: Final = 256
"""Trading-state changes kept for the API and the recorder (oldest dropped, counted)."""


class TradingState(enum.IntEnum):
    """Ordered by severity."""

    ACTIVE = 0
    REDUCING = 1
    HALTED = 2


class RefusalReason(enum.Enum):
    HALTED = "halted"
    REDUCING = "reducing"
    """Only exposure-reducing orders pass."""
    FEED_DOWN = "feed_down"
    NO_BOOK = "no_book"
    BOOK_OUT_OF_SYNC = "book_out_of_sync"
    BOOK_STALE = "book_stale"
    NOT_TRADING = "instrument_not_trading"
    COOLDOWN_AFTER_LOSS = "cooldown_after_loss"
    ALREADY_EXPOSED = "already_exposed"
    """The symbol has a position or an open entry already."""
    MAX_POSITIONS = "max_positions"
    NO_EQUITY = "no_equity"
    INVALID_SIDE = "invalid_side"
    INVALID_PRICE = "invalid_price"
    INVALID_STOP = "invalid_stop"
    NOTIONAL_PER_SYMBOL = "notional_per_symbol"
    NOTIONAL_TOTAL = "notional_total"
    LEVERAGE = "leverage"
    BELOW_MIN_QTY = "below_min_qty"
    RATE_LIMITED = "rate_limited"
    NO_POSITION = "no_position"
    """An exit with nothing (left) to reduce."""


class BookState(msgspec.Struct, frozen=True, kw_only=True):
    """The intent's symbol's book as the engine has it."""

    bid: float | None
    ask: float | None
    in_sync: bool
    last_update_ns: int | None
    """Event time of the book's last change."""

    @property
    def mid(self) -> float | None:
        return None if self.bid is None or self.ask is None else (self.bid + self.ask) / 2


class RiskContext(msgspec.Struct, frozen=True, kw_only=True):
    """The world an intent is judged in, as the trading core sees it at event time `ts_ns`."""

    ts_ns: int
    equity: float
    """Account equity now (cash + unrealised P&L): sizing's base."""
    instrument: Instrument
    book: BookState
    feed_up: bool = True
    positions: Mapping[str, Exposure] = msgspec.field(default_factory=dict)
    """Every symbol's position (flat symbols may be absent)."""
    open_orders: Sequence[Order] = ()
    """Every open order of the account."""


class Approved(msgspec.Struct, frozen=True, kw_only=True):
    request: OrderRequest
    stop_price: float | None = None
    """An entry's stop, on the tick grid, rounded away from the position (sizing used it)."""
    capped_by: RefusalReason | None = None
    """The limit that made an entry smaller than its risk size, if one did."""

    @property
    def label(self) -> str:
        """The decision as the audit log records it."""
        return "approved"


class CancelApproved(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str

    @property
    def label(self) -> str:
        return "approved"


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    reason: RefusalReason
    detail: str = ""

    @property
    def label(self) -> str:
        return self.reason.value


Decision = Approved | CancelApproved | Refused


class StateChange(msgspec.Struct, frozen=True, kw_only=True):
    ts_ns: int
    previous: TradingState
    state: TradingState
    reason: str


class RiskEngine:
    """Limits, trading state and execution health of one account. See the module docstring."""

    def __init__(self, settings: RiskSettings) -> None:
        self.settings = settings
        self.refusals: Counter[RefusalReason] = Counter()
        self.changes: Journal[StateChange] = Journal(STATE_CHANGES_KEPT)
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self._risk_per_trade = exact(settings.risk_per_trade)
        self._limiter = OrderRateLimiter(settings.max_orders_per_s)
        self._stale_ns = round(settings.stale_book_s * NS_PER_S)
        self._ack_timeout_ns = round(settings.ack_timeout_s * NS_PER_S)
        self._reject_window_ns = round(settings.reject_window_s * NS_PER_S)
        self._cooldown_ns = round(settings.cooldown_after_loss_s * NS_PER_S)
        self._halt_reason: str | None = None
        self._loss_level = TradingState.ACTIVE
        self._loss_reason = ""
        self._day: int | None = None
        self.day_start_equity = 0.0
        self._last_equity = 0.0
        self._cooldown_until: dict[str, int] = {}
        self._awaiting_ack: dict[str, int] = {}
        """Client id -> event time its order was approved, until the venue first answers."""
        self._awaiting_cancel: dict[str, int] = {}
        """Client id -> event time its cancel was approved, until the order is no longer open.
        Both are bounded by the order rate times the ack timeout: older entries halt and go."""
        self._rejects: deque[int] = deque(maxlen=settings.reject_burst)

    # -- the check --------------------------------------------------------------------------

    def check(self, intent: Intent, context: RiskContext) -> Decision:
        """Approve or refuse `intent`. An approved request or cancel must be sent: it spent the
        order rate, and its acknowledgement is awaited from now on."""
        if isinstance(intent, CancelIntent):
            decision: Decision = CancelApproved(client_id=intent.client_id)
            self._limiter.take(context.ts_ns)
            self._awaiting_cancel[intent.client_id] = context.ts_ns
            return decision
        if isinstance(intent, ExitIntent):
            decision = self._check_exit(intent, context)
        else:
            decision = self._check_entry(intent, context)
        if isinstance(decision, Refused):
            self.refusals[decision.reason] += 1
        elif isinstance(decision, Approved):
            self._awaiting_ack[decision.request.client_id] = context.ts_ns
        return decision

    def _check_entry(self, intent: EnterIntent, context: RiskContext) -> Decision:
        refusal = self._entry_gate(intent, context)
        if refusal is not None:
            return refusal
        instrument = context.instrument
        tick, step = exact(instrument.tick_size), exact(instrument.qty_step)
        book = context.book
        if intent.order_type is OrderType.LIMIT:
            if intent.price is None or not intent.price > 0:
                return Refused(reason=RefusalReason.INVALID_PRICE, detail="a limit needs a price")
            price = limit_price_on_tick(exact(intent.price), tick, intent.side)
            entry = price
        else:
            price = None
            far_touch = book.ask if intent.side == BUY else book.bid
            assert far_touch is not None  # the gate refused a book without both sides
            entry = exact(far_touch)
        if not intent.stop_price > 0:
            return Refused(reason=RefusalReason.INVALID_STOP, detail="stop must be positive")
        stop = stop_price_on_tick(exact(intent.stop_price), tick, intent.side)
        if (entry - stop) * intent.side <= ZERO:
            return Refused(
                reason=RefusalReason.INVALID_STOP,
                detail=f"stop {stop} is not on the losing side of entry {entry}",
            )
        if not context.equity > 0:
            return Refused(reason=RefusalReason.NO_EQUITY, detail=f"equity {context.equity}")
        risk_qty = qty_for_risk(self._risk_per_trade * exact(context.equity), entry, stop, step)
        room, limit = self._notional_room(intent.symbol, context)
        room_qty = qty_for_notional(exact(room), entry, step)
        capped_by = limit if room_qty < risk_qty else None
        qty = min(risk_qty, room_qty)
        if qty < exact(instrument.min_qty) or qty == ZERO:
            reason = capped_by if capped_by is not None else RefusalReason.BELOW_MIN_QTY
            return Refused(
                reason=reason,
                detail=f"size {qty} below min {instrument.min_qty} (risk size {risk_qty},"
                f" notional room {room:.2f})",
            )
        if not self._limiter.try_take(context.ts_ns):
            return Refused(reason=RefusalReason.RATE_LIMITED)
        request = OrderRequest(
            client_id=intent.client_id,
            symbol=intent.symbol,
            side=intent.side,
            qty=float(qty),
            order_type=intent.order_type,
            time_in_force=intent.time_in_force,
            price=None if price is None else float(price),
            decided_ns=intent.decided_ns,
            decision_mid=intent.decision_mid if intent.decision_mid is not None else book.mid,
        )
        return Approved(request=request, stop_price=float(stop), capped_by=capped_by)

    def _entry_gate(self, intent: EnterIntent, context: RiskContext) -> Refused | None:
        """The refusals that need no sizing: state, data integrity, cooldown, exposure count."""
        if self.state is TradingState.HALTED:
            return Refused(reason=RefusalReason.HALTED, detail=self.state_reason)
        if self.state is TradingState.REDUCING:
            return Refused(reason=RefusalReason.REDUCING, detail=self.state_reason)
        if intent.side not in (BUY, SELL):
            return Refused(reason=RefusalReason.INVALID_SIDE, detail=f"side {intent.side}")
        if not context.feed_up:
            return Refused(reason=RefusalReason.FEED_DOWN)
        book = context.book
        if book.bid is None or book.ask is None:
            return Refused(reason=RefusalReason.NO_BOOK)
        if not book.in_sync or book.bid >= book.ask:
            return Refused(
                reason=RefusalReason.BOOK_OUT_OF_SYNC,
                detail="crossed" if book.in_sync else "",
            )
        if book.last_update_ns is None or context.ts_ns - book.last_update_ns >= self._stale_ns:
            return Refused(reason=RefusalReason.BOOK_STALE)
        if context.instrument.status != "Trading":
            return Refused(reason=RefusalReason.NOT_TRADING, detail=context.instrument.status)
        until = self._cooldown_until.get(intent.symbol)
        if until is not None:
            if context.ts_ns < until:
                return Refused(
                    reason=RefusalReason.COOLDOWN_AFTER_LOSS,
                    detail=f"{(until - context.ts_ns) / NS_PER_S:.1f}s left",
                )
            del self._cooldown_until[intent.symbol]
        exposed = {symbol for symbol, exposure in context.positions.items() if exposure.qty}
        exposed |= {
            order.request.symbol
            for order in context.open_orders
            if order.open and not order.request.reduce_only
        }
        if intent.symbol in exposed:
            return Refused(reason=RefusalReason.ALREADY_EXPOSED)
        if len(exposed) >= self.settings.max_open_positions:
            return Refused(
                reason=RefusalReason.MAX_POSITIONS,
                detail=f"{len(exposed)} of {self.settings.max_open_positions}",
            )
        return None

    def _notional_room(self, symbol: str, context: RiskContext) -> tuple[float, RefusalReason]:
        """Quote notional a new entry on `symbol` may add, and the limit that binds: per symbol,
        in total, and by leverage (total notional / equity). Positions count at their mark, open
        entry orders at their limit price (a market order at its decision mid, else the mark)."""
        by_symbol: dict[str, float] = {}
        for name, exposure in context.positions.items():
            by_symbol[name] = by_symbol.get(name, 0.0) + abs(exposure.qty) * exposure.mark
        for order in context.open_orders:
            if not order.open or order.request.reduce_only:
                continue
            request = order.request
            price = request.price or request.decision_mid
            if price is None:
                exposure = context.positions.get(request.symbol)
                price = exposure.mark if exposure is not None else 0.0
            by_symbol[request.symbol] = by_symbol.get(request.symbol, 0.0) + order.remaining * price
        total = sum(by_symbol.values())
        settings = self.settings
        rooms = (
            (
                settings.max_notional_per_symbol - by_symbol.get(symbol, 0.0),
                RefusalReason.NOTIONAL_PER_SYMBOL,
            ),
            (settings.max_notional_total - total, RefusalReason.NOTIONAL_TOTAL),
            (settings.max_leverage * context.equity - total, RefusalReason.LEVERAGE),
        )
        return min(rooms, key=lambda room: room[0])

    def _check_exit(self, intent: ExitIntent, context: RiskContext) -> Decision:
        """Exits pass in every trading state; they are sized to the position (less the open
        reduce-only orders already closing it) and never wait for the order rate."""
        exposure = context.positions.get(intent.symbol)
        position = exact(exposure.qty) if exposure is not None else ZERO
        if position == ZERO:
            return Refused(reason=RefusalReason.NO_POSITION)
        side = SELL if position > 0 else BUY
        closing = sum(
            (
                exact(order.remaining)
                for order in context.open_orders
                if order.open
                and order.request.reduce_only
                and order.request.symbol == intent.symbol
            ),
            ZERO,
        )
        left = abs(position) - closing
        step = exact(context.instrument.qty_step)
        wanted = left if intent.qty is None else min(left, exact(intent.qty))
        qty = floor_to_step(wanted, step)  # a venue trades whole lots
        if qty <= ZERO:
            return Refused(reason=RefusalReason.NO_POSITION, detail="already being closed")
        price = None
        if intent.order_type is OrderType.LIMIT:
            if intent.price is None or not intent.price > 0:
                return Refused(reason=RefusalReason.INVALID_PRICE, detail="a limit needs a price")
            tick = exact(context.instrument.tick_size)
            price = float(limit_price_on_tick(exact(intent.price), tick, side))
        self._limiter.take(context.ts_ns)
        request = OrderRequest(
            client_id=intent.client_id,
            symbol=intent.symbol,
            side=side,
            qty=float(qty),
            order_type=intent.order_type,
            time_in_force=intent.time_in_force,
            price=price,
            reduce_only=True,
            decided_ns=intent.decided_ns,
            decision_mid=(
                intent.decision_mid if intent.decision_mid is not None else context.book.mid
            ),
        )
        return Approved(request=request)

    # -- what happened ----------------------------------------------------------------------

    def on_equity(self, ts_ns: int, equity: float) -> None:
        """Equity marked at event time (cash after realised P&L, fees and funding, plus
        unrealised P&L): drives the daily loss limit. A new UTC day starts from the last equity
        of the previous one and clears the day's loss level."""
        day = ts_ns // DAY_NS
        if self._day is None:
            self._day, self.day_start_equity = day, equity
        elif day > self._day:
            self._day, self.day_start_equity = day, self._last_equity
            self._loss_level, self._loss_reason = TradingState.ACTIVE, ""
        self._last_equity = equity
        loss = self.day_start_equity - equity
        limit = self.settings.daily_loss_limit * self.day_start_equity
        level = TradingState.ACTIVE
        if loss >= limit * self.settings.halt_loss_factor:
            level = TradingState.HALTED
        elif loss >= limit:
            level = TradingState.REDUCING
        if level > self._loss_level:
            share = f" ({loss / self.day_start_equity:.2%})" if self.day_start_equity > 0 else ""
            self._loss_level = level
            self._loss_reason = f"daily loss {loss:.2f} of {self.day_start_equity:.2f}{share}"
        self._update_state(ts_ns)

    @property
    def daily_pnl(self) -> float:
        """Equity change since the UTC day's start."""
        return self._last_equity - self.day_start_equity

    def on_order_update(self, ts_ns: int, order: Order) -> None:
        """Execution health: any answer for an order acknowledges it (a cancel is acknowledged
        when the order is no longer open); a reject counts towards a burst."""
        if order.status is not OrderStatus.PENDING:
            self._awaiting_ack.pop(order.client_id, None)
        if not order.open:
            self._awaiting_cancel.pop(order.client_id, None)
        if order.status is OrderStatus.REJECTED:
            self._rejects.append(ts_ns)
            burst = self.settings.reject_burst
            if len(self._rejects) == burst and ts_ns - self._rejects[0] <= self._reject_window_ns:
                self._rejects.clear()
                self._halt_on_health(
                    ts_ns, f"{burst} rejects within {self.settings.reject_window_s:g}s"
                )

    def on_fill(self, ts_ns: int, fill: Fill) -> None:
        """A fill acknowledges its order too (its update may come later)."""
        self._awaiting_ack.pop(fill.client_id, None)

    def on_trade_closed(self, ts_ns: int, symbol: str, net_pnl: float) -> None:
        """A round trip ended: a loss (net of fees and funding) starts the symbol's cooldown."""
        if net_pnl < 0 and self._cooldown_ns > 0:
            self._cooldown_until[symbol] = ts_ns + self._cooldown_ns

    def cooldown_until(self, symbol: str) -> int | None:
        """Event time until which a loss keeps `symbol` from new entries, if it does."""
        return self._cooldown_until.get(symbol)

    def on_time(self, ts_ns: int) -> None:
        """Event time passed: an order or cancel unanswered for `ack_timeout_s` halts trading."""
        overdue = [
            *_overdue(self._awaiting_ack, ts_ns - self._ack_timeout_ns),
            *_overdue(self._awaiting_cancel, ts_ns - self._ack_timeout_ns),
        ]
        if overdue:
            self._halt_on_health(
                ts_ns,
                f"no acknowledgement of {', '.join(overdue)} in {self.settings.ack_timeout_s:g}s",
            )

    # -- the kill switch --------------------------------------------------------------------

    def halt(self, ts_ns: int, reason: str) -> None:
        """The manual kill switch: HALTED until `resume`."""
        self._halt_reason = f"manual: {reason}"
        self._update_state(ts_ns)

    def resume(self, ts_ns: int) -> TradingState:
        """Clear manual and execution-health halts; the day's loss level stays."""
        self._halt_reason = None
        self._rejects.clear()
        self._update_state(ts_ns)
        return self.state

    # -- internals --------------------------------------------------------------------------

    def _halt_on_health(self, ts_ns: int, reason: str) -> None:
        self._halt_reason = f"execution health: {reason}"
        self._update_state(ts_ns)

    def _update_state(self, ts_ns: int) -> None:
        state, reason = self._loss_level, self._loss_reason
        if self._halt_reason is not None:
            state, reason = TradingState.HALTED, self._halt_reason
        if state is self.state and reason == self.state_reason:
            return
        if state is not self.state:
            self.changes.append(
                StateChange(ts_ns=ts_ns, previous=self.state, state=state, reason=reason)
            )
        self.state, self.state_reason = state, reason


def _overdue(awaiting: dict[str, int], deadline_ns: int) -> list[str]:
    """Remove and return the client ids sent at or before `deadline_ns` (the dict's insertion
    order is event-time order, so the scan stops at the first younger one)."""
    overdue = []
    for client_id, sent_ns in awaiting.items():
        if sent_ns > deadline_ns:
            break
        overdue.append(client_id)
    for client_id in overdue:
        del awaiting[client_id]
    return overdue
