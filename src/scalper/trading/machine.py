"""The trading state machine of one symbol: which state it is in, which order it owns, and why
each transition happened.

    IDLE --start--> SCANNING --signal--> SIGNAL_DETECTED --entry submitted--> POSITION_ENTRY
    POSITION_ENTRY --filled--> IN_POSITION --exit submitted--> POSITION_EXIT --flat--> COOLDOWN
    COOLDOWN --time--> SCANNING

plus ENTRY_CANCEL_PENDING / EXIT_CANCEL_PENDING (a cancel was asked; fills may still come) and
HALTED. `TRANSITIONS` is the whole table: for a state and a trigger, the candidate targets in
order, each with a guard on the machine and a standing reason; the first whose guard holds is
taken. A trigger no row allows raises `IllegalTransition`: the trading core asked for something
the protocol forbids, a programming error.

Invariants the table keeps (and tests/unit/trading/test_machine.py checks on random paths):
- the machine owns at most one order, and owns one exactly in the four order states;
- a position is held only in the order states and IN_POSITION, always with a stop price;
- an entry is submitted only from SIGNAL_DETECTED, reached only when flat with no order: no
  double entry;
- an exit is reduce-only, against the position, for at most its size.

A halt does not drop what is open: flat machines go to HALTED at once; an entry order is
cancelled (ENTRY_CANCEL_PENDING); a position stays with its stop until the core flattens it
(by policy, `RiskSettings.flatten_on_halt`) or its stop fires; once flat, the machine ends in
HALTED. `resume` leaves HALTED for IDLE (the core calls `start` when the symbol is ready).

Quantities are kept exact (`grid.exact`): an order's fills add up to its size with no float
drift. The machine learns fills from both `OrderUpdate`s (the venue's cumulative filled size)
and `Fill`s, and takes the larger of the two per order, so either may arrive first, and
duplicates (a fill already counted in an update) do not count twice.

Pure and event-time driven: no clock, no I/O.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Final, NamedTuple, Protocol

from scalper.settings import StrategySettings
from scalper.trading.audit import NO_INPUTS, AuditLog, AuditRecord, DecisionInputs
from scalper.trading.grid import exact
from scalper.trading.orders import BUY, SELL, Fill, Order, OrderRequest

ZERO: Final = Decimal(0)
RELEASED_ORDERS_KEPT: Final = 64
"""Finished orders remembered per symbol, so a late or duplicate update or fill for one is
recognised (and ignored when it adds nothing). Oldest forgotten first."""


class MachineState(enum.Enum):
    IDLE = "idle"
    """Not trading this symbol (not started, or paused)."""
    SCANNING = "scanning"
    """Flat, no order, looking for a signal."""
    SIGNAL_DETECTED = "signal_detected"
    """The strategy wants to enter; the risk engine decides."""
    POSITION_ENTRY = "position_entry"
    """The entry order is live (possibly partly filled)."""
    ENTRY_CANCEL_PENDING = "entry_cancel_pending"
    """The entry order's cancel was asked; it may still fill until the venue confirms."""
    IN_POSITION = "in_position"
    """A position with a live stop, no order."""
    POSITION_EXIT = "position_exit"
    """The exit order is live."""
    EXIT_CANCEL_PENDING = "exit_cancel_pending"
    """The exit order's cancel was asked (the position keeps its stop)."""
    COOLDOWN = "cooldown"
    """Flat after a trade; no new entry before `cooldown_until_ns`."""
    HALTED = "halted"
    """Flat, no order, no trading until `resume`."""


class Trigger(enum.Enum):
    START = "start"
    PAUSE = "pause"
    SIGNAL = "signal"
    RISK_REFUSED = "risk_refused"
    ENTRY_SUBMITTED = "entry_submitted"
    ENTRY_FILLED = "entry_filled"
    """The entry order filled further, still open."""
    ENTRY_DONE = "entry_done"
    """The entry order ended (filled, cancelled or rejected)."""
    ENTRY_CANCEL = "entry_cancel"
    STOP_MOVED = "stop_moved"
    EXIT_SUBMITTED = "exit_submitted"
    EXIT_FILLED = "exit_filled"
    EXIT_DONE = "exit_done"
    EXIT_CANCEL = "exit_cancel"
    COOLDOWN_OVER = "cooldown_over"
    HALT = "halt"
    RESUME = "resume"


S = MachineState
T = Trigger
ORDER_STATES: Final = frozenset(
    {S.POSITION_ENTRY, S.ENTRY_CANCEL_PENDING, S.POSITION_EXIT, S.EXIT_CANCEL_PENDING}
)
"""The states that own an order (and only they do)."""
POSITION_STATES: Final = ORDER_STATES | {S.IN_POSITION}
"""The states in which a position may be held."""


class IllegalTransition(RuntimeError):
    """The trading core asked the machine for something its protocol forbids (a bug)."""


class PositionMismatch(RuntimeError):
    """An order reported more filled after it was reported finished: the venue's account of the
    position and ours disagree (reconcile before trading on)."""


class _OwnedOrder:
    """The machine's order: its exact size and the larger of the two fill accounts."""

    __slots__ = ("by_fills", "by_updates", "client_id", "counted", "is_entry", "qty", "side")

    def __init__(self, request: OrderRequest, is_entry: bool) -> None:
        self.client_id = request.client_id
        self.side = request.side
        self.qty = exact(request.qty)
        self.is_entry = is_entry
        self.by_updates = ZERO
        self.by_fills = ZERO
        self.counted = ZERO
        """How much of `filled` the position already holds."""

    @property
    def filled(self) -> Decimal:
        return max(self.by_updates, self.by_fills)


Guard = Callable[["SymbolMachine"], bool]


def _always(machine: SymbolMachine) -> bool:
    return True


def _not_halting(machine: SymbolMachine) -> bool:
    return not machine.halt_requested


def _ready_to_enter(machine: SymbolMachine) -> bool:
    return machine.flat and machine.order_id is None and not machine.halt_requested


def _holding(machine: SymbolMachine) -> bool:
    return not machine.flat


def _flat_halting(machine: SymbolMachine) -> bool:
    return machine.flat and machine.halt_requested


def _flat_to_cool_down(machine: SymbolMachine) -> bool:
    return machine.flat and machine.cooldown_ns > 0


def _flat(machine: SymbolMachine) -> bool:
    return machine.flat


def _halting(machine: SymbolMachine) -> bool:
    return machine.halt_requested


def _cooldown_over(machine: SymbolMachine) -> bool:
    return machine.now_ns >= machine.cooldown_until_ns


class Transition(NamedTuple):
    source: MachineState
    trigger: Trigger
    target: MachineState
    guard: Guard
    reason: str


def _rows() -> tuple[Transition, ...]:
    rows = [
        Transition(S.IDLE, T.START, S.SCANNING, _not_halting, "started"),
        Transition(S.SCANNING, T.PAUSE, S.IDLE, _always, "paused"),
        Transition(S.COOLDOWN, T.PAUSE, S.IDLE, _always, "paused"),
        Transition(S.SCANNING, T.SIGNAL, S.SIGNAL_DETECTED, _ready_to_enter, "signal"),
        Transition(S.SIGNAL_DETECTED, T.RISK_REFUSED, S.SCANNING, _always, "risk refused"),
        Transition(
            S.SIGNAL_DETECTED, T.ENTRY_SUBMITTED, S.POSITION_ENTRY, _ready_to_enter, "entry sent"
        ),
        Transition(S.POSITION_ENTRY, T.ENTRY_CANCEL, S.ENTRY_CANCEL_PENDING, _always, "cancel"),
        Transition(S.IN_POSITION, T.EXIT_SUBMITTED, S.POSITION_EXIT, _holding, "exit sent"),
        Transition(S.POSITION_EXIT, T.EXIT_CANCEL, S.EXIT_CANCEL_PENDING, _always, "cancel"),
        Transition(S.COOLDOWN, T.COOLDOWN_OVER, S.SCANNING, _cooldown_over, "cooldown over"),
        Transition(S.HALTED, T.RESUME, S.IDLE, _always, "resumed"),
    ]
    # POSITION_ENTRY is never halting (a halt moves it to ENTRY_CANCEL_PENDING, and it is
    # entered only unhalted), so only the cancel-pending entry can end in HALTED.
    for source in (S.POSITION_ENTRY, S.ENTRY_CANCEL_PENDING):
        rows += [
            Transition(source, T.ENTRY_FILLED, source, _always, "entry partly filled"),
            Transition(source, T.ENTRY_DONE, S.IN_POSITION, _holding, "entry filled"),
        ]
    rows += [
        Transition(
            S.ENTRY_CANCEL_PENDING, T.ENTRY_DONE, S.HALTED, _flat_halting, "entry ended unfilled"
        ),
        Transition(S.ENTRY_CANCEL_PENDING, T.ENTRY_DONE, S.SCANNING, _flat, "entry ended unfilled"),
        Transition(S.POSITION_ENTRY, T.ENTRY_DONE, S.SCANNING, _flat, "entry ended unfilled"),
    ]
    for source in (S.POSITION_EXIT, S.EXIT_CANCEL_PENDING):
        rows += [
            Transition(source, T.EXIT_FILLED, source, _always, "exit partly filled"),
            Transition(source, T.EXIT_DONE, S.IN_POSITION, _holding, "exit ended, position left"),
            Transition(source, T.EXIT_DONE, S.HALTED, _flat_halting, "flat"),
            Transition(source, T.EXIT_DONE, S.COOLDOWN, _flat_to_cool_down, "flat"),
            Transition(source, T.EXIT_DONE, S.SCANNING, _flat, "flat"),
        ]
    rows += [
        Transition(source, T.STOP_MOVED, source, _holding, "stop moved")
        for source in (
            S.ENTRY_CANCEL_PENDING,
            S.IN_POSITION,
            S.POSITION_EXIT,
            S.EXIT_CANCEL_PENDING,
        )
    ]
    rows.append(Transition(S.POSITION_ENTRY, T.STOP_MOVED, S.POSITION_ENTRY, _always, "stop moved"))
    rows += [
        Transition(source, T.HALT, S.HALTED, _always, "halted")
        for source in (S.IDLE, S.SCANNING, S.SIGNAL_DETECTED, S.COOLDOWN, S.HALTED)
    ]
    rows.append(Transition(S.POSITION_ENTRY, T.HALT, S.ENTRY_CANCEL_PENDING, _always, "halted"))
    for source in (S.ENTRY_CANCEL_PENDING, S.IN_POSITION, S.POSITION_EXIT, S.EXIT_CANCEL_PENDING):
        rows += [
            Transition(source, T.HALT, source, _always, "halt: winding down"),
            Transition(source, T.RESUME, source, _halting, "resumed"),
        ]
    return tuple(rows)


TRANSITIONS: Final = _rows()
"""The whole transition table."""

_BY_SOURCE_TRIGGER: Final[dict[tuple[MachineState, Trigger], tuple[Transition, ...]]] = {}
for _row in TRANSITIONS:
    _BY_SOURCE_TRIGGER[(_row.source, _row.trigger)] = (
        *_BY_SOURCE_TRIGGER.get((_row.source, _row.trigger), ()),
        _row,
    )


class StateMirror(Protocol):
    """Something that holds a copy of a machine's state (`SymbolMachine.mirror`)."""

    state: MachineState


class SymbolMachine:
    """One symbol's trading state, the order it owns, its position and its stop.

    The trading core calls one method per event (see each method); each returns the
    `AuditRecord` of the transition it made, or None when the event changed nothing (an
    acknowledgement, a duplicate fill, time passing outside COOLDOWN).
    """

    def __init__(self, symbol: str, audit: AuditLog, cooldown_ns: int = 0) -> None:
        self.symbol = symbol
        self.audit = audit
        self.cooldown_ns = cooldown_ns
        """Time in COOLDOWN after a position closed (`StrategySettings.cooldown_s`)."""
        self.state = MachineState.IDLE
        self.since_ns = 0
        """Event time the current state was entered."""
        self.now_ns = 0
        """Event time of the latest event."""
        self.halt_requested = False
        self.side = 0
        """BUY or SELL of the signal / position; 0 when flat with no signal."""
        self.stop_price: float | None = None
        self.cooldown_until_ns = 0
        self._position = ZERO
        self._order: _OwnedOrder | None = None
        self._released: OrderedDict[str, _OwnedOrder] = OrderedDict()
        self.mirror: StateMirror | None = None
        """What keeps a copy of `state`, set with each transition (the trading core's
        `TradedSymbol`, whose compiled tap reads the state in C)."""

    @classmethod
    def from_settings(
        cls, symbol: str, audit: AuditLog, settings: StrategySettings
    ) -> SymbolMachine:
        """A machine whose COOLDOWN lasts `settings.cooldown_s`."""
        return cls(symbol, audit, cooldown_ns=round(settings.cooldown_s * 1_000_000_000))

    # -- what the core reads ----------------------------------------------------------------

    @property
    def position(self) -> float:
        """Signed position (positive long)."""
        return float(self._position)

    @property
    def flat(self) -> bool:
        return self._position == ZERO

    @property
    def order_id(self) -> str | None:
        """The client id of the order the machine owns (open or being cancelled), if any."""
        return None if self._order is None else self._order.client_id

    @property
    def halted(self) -> bool:
        """HALTED, or winding down towards it."""
        return self.halt_requested or self.state is MachineState.HALTED

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, ts_ns: int, inputs: DecisionInputs = NO_INPUTS) -> AuditRecord:
        """IDLE -> SCANNING: the symbol is ready to trade (data warm, trading on)."""
        return self._fire(T.START, ts_ns, inputs)

    def pause(self, ts_ns: int, reason: str, inputs: DecisionInputs = NO_INPUTS) -> AuditRecord:
        """SCANNING or COOLDOWN -> IDLE: stop looking for signals (nothing is open)."""
        return self._fire(T.PAUSE, ts_ns, inputs, reason)

    def on_time(self, ts_ns: int, inputs: DecisionInputs = NO_INPUTS) -> AuditRecord | None:
        """Event time passed: COOLDOWN -> SCANNING once `cooldown_until_ns` is reached."""
        self.now_ns = ts_ns
        if self.state is MachineState.COOLDOWN and _cooldown_over(self):
            return self._fire(T.COOLDOWN_OVER, ts_ns, inputs)
        return None

    # -- entry ------------------------------------------------------------------------------

    def on_signal(
        self, ts_ns: int, side: int, reason: str, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord:
        """SCANNING -> SIGNAL_DETECTED: the strategy wants to enter `side`; the risk engine
        decides next (`on_risk_refused` or `on_entry_submitted`)."""
        _check_side(side)
        return self._fire(T.SIGNAL, ts_ns, inputs, reason, side=side)

    def on_risk_refused(
        self, ts_ns: int, reason: str, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord:
        """SIGNAL_DETECTED -> SCANNING: the risk engine refused the entry (`reason`)."""
        return self._fire(T.RISK_REFUSED, ts_ns, inputs, reason, side=0)

    def on_entry_submitted(
        self,
        ts_ns: int,
        request: OrderRequest,
        stop_price: float,
        inputs: DecisionInputs = NO_INPUTS,
    ) -> AuditRecord:
        """SIGNAL_DETECTED -> POSITION_ENTRY: the risk engine approved `request` and the core
        is about to submit it. Call this before `ExecutionClient.submit`, so an event about the
        order always finds its owner. `stop_price` protects whatever fills."""
        row = self._select(T.ENTRY_SUBMITTED)
        self._check_request(request, entry=True)
        if request.side != self.side:
            raise IllegalTransition(
                f"{self.symbol}: entry side {request.side} is not the signal's side {self.side}"
            )
        reference = request.price if request.price is not None else request.decision_mid
        _check_stop(self.symbol, request.side, stop_price, reference)
        self._order = _OwnedOrder(request, is_entry=True)
        self.stop_price = stop_price
        return self._commit(row, ts_ns, inputs, "", request.client_id)

    def request_entry_cancel(
        self, ts_ns: int, reason: str, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord:
        """POSITION_ENTRY -> ENTRY_CANCEL_PENDING (an entry timeout, a vanished signal): the
        core then asks the venue to cancel `order_id`."""
        return self._fire(T.ENTRY_CANCEL, ts_ns, inputs, reason)

    # -- position ---------------------------------------------------------------------------

    def move_stop(
        self, ts_ns: int, stop_price: float, reason: str, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord:
        """The stop moves (trailing, break-even); allowed whenever a position is or may be held."""
        row = self._select(T.STOP_MOVED)
        if not stop_price > 0:
            raise IllegalTransition(f"{self.symbol}: a stop price must be positive")
        self.stop_price = stop_price
        return self._commit(row, ts_ns, inputs, reason, "")

    def on_exit_submitted(
        self,
        ts_ns: int,
        request: OrderRequest,
        reason: str,
        inputs: DecisionInputs = NO_INPUTS,
    ) -> AuditRecord:
        """IN_POSITION -> POSITION_EXIT: a reduce-only order against the position, for at most
        its size (stop, take profit, time stop, reversal, flatten). Call before submitting."""
        row = self._select(T.EXIT_SUBMITTED)
        self._check_request(request, entry=False)
        if not request.reduce_only:
            raise IllegalTransition(f"{self.symbol}: an exit must be reduce-only")
        if self._position == ZERO or request.side * self._position > 0:
            raise IllegalTransition(f"{self.symbol}: an exit must trade against the position")
        if exact(request.qty) > abs(self._position):
            raise IllegalTransition(
                f"{self.symbol}: exit of {request.qty} exceeds the position {self.position}"
            )
        self._order = _OwnedOrder(request, is_entry=False)
        return self._commit(row, ts_ns, inputs, reason, request.client_id)

    def request_exit_cancel(
        self, ts_ns: int, reason: str, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord:
        """POSITION_EXIT -> EXIT_CANCEL_PENDING (a passive exit that did not fill in time)."""
        return self._fire(T.EXIT_CANCEL, ts_ns, inputs, reason)

    # -- what the venue says ----------------------------------------------------------------

    def on_order_update(
        self, ts_ns: int, order: Order, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord | None:
        """The venue's state of an order: its cumulative fill moves the position; a finished
        order (filled, cancelled, rejected) ends the entry or exit. An update of an order the
        machine never owned raises `IllegalTransition`."""
        owned = self._owned(order.client_id)
        if owned is None:
            return None
        filled = exact(order.filled_qty)
        owned.by_updates = max(owned.by_updates, filled)
        return self._progress(owned, ts_ns, inputs, finished=not order.open, detail=order.reason)

    def on_fill(
        self, ts_ns: int, fill: Fill, inputs: DecisionInputs = NO_INPUTS
    ) -> AuditRecord | None:
        """One execution of the owned order. An order whose fills reach its size is done
        (whether or not its final update came yet)."""
        owned = self._owned(fill.client_id)
        if owned is None:
            return None
        if fill.side != owned.side:
            raise IllegalTransition(
                f"{self.symbol}: fill side differs from order {owned.client_id}"
            )
        owned.by_fills += exact(fill.qty)
        return self._progress(owned, ts_ns, inputs, finished=False, detail="")

    # -- halts ------------------------------------------------------------------------------

    def halt(self, ts_ns: int, reason: str, inputs: DecisionInputs = NO_INPUTS) -> AuditRecord:
        """Stop trading this symbol. Flat: HALTED now. An entry order: ENTRY_CANCEL_PENDING
        (the core cancels `order_id`). A position: kept with its stop until the core flattens it
        or the stop fires; HALTED once flat."""
        self.halt_requested = True
        return self._fire(T.HALT, ts_ns, inputs, reason)

    def resume(self, ts_ns: int, reason: str, inputs: DecisionInputs = NO_INPUTS) -> AuditRecord:
        """Undo `halt`: HALTED -> IDLE; a machine still winding down carries on unhalted."""
        row = self._select(T.RESUME)
        self.halt_requested = False
        return self._commit(row, ts_ns, inputs, reason, "")

    # -- internals --------------------------------------------------------------------------

    def _owned(self, client_id: str) -> _OwnedOrder | None:
        """The order `client_id`, if it is the owned one; None for a finished one (a late or
        duplicate report); raises for an order this machine never had."""
        if self._order is not None and self._order.client_id == client_id:
            return self._order
        released = self._released.get(client_id)
        if released is not None:
            return released
        raise IllegalTransition(f"{self.symbol}: order {client_id!r} is not this machine's")

    def _progress(
        self,
        owned: _OwnedOrder,
        ts_ns: int,
        inputs: DecisionInputs,
        finished: bool,
        detail: str,
    ) -> AuditRecord | None:
        """Apply the order's new filled size to the position; end the entry or exit when the
        order finished or filled completely."""
        if owned.filled > owned.qty:
            raise PositionMismatch(
                f"{self.symbol}: order {owned.client_id} filled {owned.filled} of {owned.qty}"
            )
        added = owned.filled - owned.counted
        if owned is not self._order:
            if added:
                raise PositionMismatch(
                    f"{self.symbol}: order {owned.client_id} reported fills after it finished"
                )
            return None
        owned.counted = owned.filled
        self._position += owned.side * added
        done = finished or owned.filled == owned.qty
        if not added and not done:
            return None
        if done:
            trigger = T.ENTRY_DONE if owned.is_entry else T.EXIT_DONE
            self._order = None
            self._released[owned.client_id] = owned
            while len(self._released) > RELEASED_ORDERS_KEPT:
                self._released.popitem(last=False)
        else:
            trigger = T.ENTRY_FILLED if owned.is_entry else T.EXIT_FILLED
        # Every order state has a row for each outcome (holding, flat and halting, flat), so
        # this selection cannot fail after the fills were applied.
        row = self._select(trigger)
        return self._commit(row, ts_ns, inputs, detail, owned.client_id)

    def _check_request(self, request: OrderRequest, entry: bool) -> None:
        if request.symbol != self.symbol:
            raise IllegalTransition(f"{self.symbol}: order for {request.symbol}")
        if request.client_id in self._released or (
            self._order is not None and self._order.client_id == request.client_id
        ):
            raise IllegalTransition(f"{self.symbol}: client id {request.client_id!r} reused")
        if entry and request.reduce_only:
            raise IllegalTransition(f"{self.symbol}: an entry cannot be reduce-only")
        if not request.qty > 0:
            raise IllegalTransition(f"{self.symbol}: order quantity must be positive")
        _check_side(request.side)

    def _select(self, trigger: Trigger) -> Transition:
        for row in _BY_SOURCE_TRIGGER.get((self.state, trigger), ()):
            if row.guard(self):
                return row
        raise IllegalTransition(
            f"{self.symbol}: {trigger.value} is not allowed in {self.state.value}"
            f" (position {self.position}, order {self.order_id}, halt {self.halt_requested})"
        )

    def _fire(
        self,
        trigger: Trigger,
        ts_ns: int,
        inputs: DecisionInputs,
        detail: str = "",
        side: int | None = None,
    ) -> AuditRecord:
        row = self._select(trigger)
        if side is not None:
            self.side = side
        return self._commit(row, ts_ns, inputs, detail, "")

    def _commit(
        self, row: Transition, ts_ns: int, inputs: DecisionInputs, detail: str, client_id: str
    ) -> AuditRecord:
        previous = self.state
        self.now_ns = max(self.now_ns, ts_ns)
        if row.target is not previous:
            self.since_ns = ts_ns
        self.state = row.target
        if self.mirror is not None:
            self.mirror.state = row.target
        if self.flat and self._order is None:
            self.stop_price = None
            if row.target is not S.SIGNAL_DETECTED:
                self.side = 0
        if row.target is S.COOLDOWN and previous is not S.COOLDOWN:
            self.cooldown_until_ns = ts_ns + self.cooldown_ns
        book = inputs.book
        record = AuditRecord(
            ts_ns=ts_ns,
            symbol=self.symbol,
            previous=previous.value,
            state=row.target.value,
            trigger=row.trigger.value,
            reason=f"{row.reason}: {detail}" if detail else row.reason,
            client_id=client_id,
            position=self.position,
            stop_price=self.stop_price,
            score=inputs.score,
            regimes=dict(inputs.regimes),  # a copy: the record must not change with the caller
            bid=None if book is None else book.bid,
            ask=None if book is None else book.ask,
            bid_qty=None if book is None else book.bid_qty,
            ask_qty=None if book is None else book.ask_qty,
            risk=inputs.risk,
            wall_ns=inputs.wall_ns,
        )
        self.audit.append(record)
        return record


def _check_side(side: int) -> None:
    if side not in (BUY, SELL):
        raise IllegalTransition(f"side must be BUY (1) or SELL (-1), not {side!r}")


def _check_stop(symbol: str, side: int, stop_price: float, reference: float | None) -> None:
    """A stop must be positive and, when the entry's price is known, on the losing side of it."""
    if not stop_price > 0:
        raise IllegalTransition(f"{symbol}: a stop price must be positive")
    if reference is not None and (stop_price - reference) * side >= 0:
        raise IllegalTransition(
            f"{symbol}: stop {stop_price} is not on the losing side of entry {reference}"
        )
