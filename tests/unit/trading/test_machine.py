"""The per-symbol trading state machine: hand-written paths through it, its refusals, its audit
log, and a stateful property test over random sequences of signals, risk decisions, fills
(partial, full, reported by fill, by order update, both, twice), cancels, rejects, exits, stops,
halts and resumes."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from scalper.settings import StrategySettings, TradingSettings
from scalper.trading.audit import AuditLog, BookTop, DecisionInputs
from scalper.trading.machine import (
    ORDER_STATES,
    TRANSITIONS,
    IllegalTransition,
    MachineState,
    PositionMismatch,
    SymbolMachine,
    Trigger,
)
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

S = 1_000_000_000
SYMBOL = "BTCUSDT"
M = MachineState
INPUTS = DecisionInputs(
    score=0.62,
    regimes={"volatility": "normal", "volume": "active"},
    book=BookTop(bid=64_999.9, ask=65_000.0, bid_qty=1.2, ask_qty=0.4),
    wall_ns=1_700_000_000_000_000_000,
)


def request(cid: str, side: int, qty: float, reduce_only: bool = False, price=65_000.0):
    return OrderRequest(
        client_id=cid,
        symbol=SYMBOL,
        side=side,
        qty=qty,
        order_type=OrderType.LIMIT if price else OrderType.MARKET,
        price=price,
        reduce_only=reduce_only,
        decided_ns=0,
        decision_mid=65_000.0,
    )


def update(req: OrderRequest, status: OrderStatus, filled: float, reason: str = "") -> Order:
    return Order(request=req, status=status, filled_qty=filled, reason=reason)


def fill(req: OrderRequest, qty: float, ts: int = 0) -> Fill:
    return Fill(
        client_id=req.client_id,
        symbol=SYMBOL,
        side=req.side,
        price=req.price or 65_000.0,
        qty=qty,
        fee=0.0,
        liquidity=Liquidity.MAKER,
        ts_ns=ts,
    )


def scanning(cooldown_ns: int = 0, capacity: int = 1_000) -> SymbolMachine:
    machine = SymbolMachine(SYMBOL, AuditLog(capacity), cooldown_ns=cooldown_ns)
    machine.start(0)
    return machine


def holding(qty: float = 0.3, side: int = BUY) -> tuple[SymbolMachine, OrderRequest]:
    machine = scanning(cooldown_ns=60 * S)
    machine.on_signal(S, side, "score")
    entry = request("e1", side, qty, price=None)
    machine.on_entry_submitted(S, entry, 64_870.0 if side == BUY else 65_130.0)
    machine.on_order_update(2 * S, update(entry, OrderStatus.FILLED, qty))
    return machine, entry


# -- paths --------------------------------------------------------------------------------------


def test_a_trade_from_signal_to_cooldown_with_its_audit_trail():
    machine = scanning(cooldown_ns=60 * S)
    machine.on_signal(1 * S, BUY, "score 0.62, 4 factors", INPUTS)
    entry = request("e1", BUY, 0.3)
    machine.on_entry_submitted(
        1 * S, entry, 64_870.0, msgspec.structs.replace(INPUTS, risk="approved")
    )
    assert (machine.state, machine.order_id, machine.stop_price) == (
        M.POSITION_ENTRY,
        "e1",
        64_870.0,
    )
    machine.on_fill(2 * S, fill(entry, 0.1))
    assert (machine.state, machine.position) == (M.POSITION_ENTRY, 0.1)
    machine.on_fill(3 * S, fill(entry, 0.2))  # its fills reach its size: done
    assert (machine.state, machine.position, machine.order_id) == (M.IN_POSITION, 0.3, None)
    assert machine.on_order_update(3 * S, update(entry, OrderStatus.FILLED, 0.3)) is None
    machine.move_stop(4 * S, 65_000.0, "break-even")
    exit_ = request("x1", SELL, 0.3, reduce_only=True, price=None)
    machine.on_exit_submitted(5 * S, exit_, "take profit")
    machine.on_order_update(6 * S, update(exit_, OrderStatus.FILLED, 0.3))
    assert (machine.state, machine.position, machine.stop_price) == (M.COOLDOWN, 0.0, None)
    assert machine.cooldown_until_ns == 66 * S
    assert machine.on_time(65 * S) is None
    machine.on_time(66 * S)
    assert machine.state is M.SCANNING
    records = machine.audit.drain()
    assert [(r.previous, r.state, r.reason) for r in records] == [
        ("idle", "scanning", "started"),
        ("scanning", "signal_detected", "signal: score 0.62, 4 factors"),
        ("signal_detected", "position_entry", "entry sent"),
        ("position_entry", "position_entry", "entry partly filled"),
        ("position_entry", "in_position", "entry filled"),
        ("in_position", "in_position", "stop moved: break-even"),
        ("in_position", "position_exit", "exit sent: take profit"),
        ("position_exit", "cooldown", "flat"),
        ("cooldown", "scanning", "cooldown over"),
    ]
    signal = records[1]
    assert (signal.ts_ns, signal.trigger, signal.score, signal.risk) == (S, "signal", 0.62, None)
    assert signal.regimes == {"volatility": "normal", "volume": "active"}
    assert (signal.bid, signal.ask, signal.bid_qty, signal.ask_qty) == (
        64_999.9,
        65_000.0,
        1.2,
        0.4,
    )
    assert signal.wall_ns == 1_700_000_000_000_000_000
    sent = records[2]
    assert (sent.client_id, sent.risk, sent.position, sent.stop_price) == (
        "e1",
        "approved",
        0.0,
        64_870.0,
    )
    assert [r.position for r in records[3:5]] == [0.1, 0.3]


def test_a_record_keeps_the_inputs_it_was_given():
    machine = scanning()
    regimes = {"volatility": "high"}
    record = machine.on_signal(S, BUY, "score", DecisionInputs(regimes=regimes))
    regimes["volatility"] = "low"
    assert record.regimes == {"volatility": "high"}


def test_a_refused_entry_goes_back_to_scanning():
    machine = scanning()
    machine.on_signal(S, SELL, "score -0.7")
    record = machine.on_risk_refused(S, "max_positions")
    assert (machine.state, machine.side) == (M.SCANNING, 0)
    assert record.reason == "risk refused: max_positions"


@pytest.mark.parametrize(
    ("status", "filled", "state", "position"),
    [
        (OrderStatus.CANCELLED, 0.0, M.SCANNING, 0.0),
        (OrderStatus.REJECTED, 0.0, M.SCANNING, 0.0),
        (OrderStatus.CANCELLED, 0.1, M.IN_POSITION, -0.1),
    ],
)
def test_an_entry_that_ends_early_keeps_what_filled(status, filled, state, position):
    machine = scanning()
    machine.on_signal(S, SELL, "score")
    entry = request("e1", SELL, 0.3)
    machine.on_entry_submitted(S, entry, 65_130.0)
    machine.request_entry_cancel(6 * S, "entry timeout")
    assert machine.state is M.ENTRY_CANCEL_PENDING
    machine.on_order_update(7 * S, update(entry, status, filled, reason="timeout"))
    assert (machine.state, machine.position, machine.order_id) == (state, position, None)
    assert (machine.stop_price is not None) == (position != 0.0)


def test_a_cancelled_exit_leaves_the_rest_with_its_stop_and_a_new_exit_closes_it():
    machine, _ = holding(0.3)
    exit_ = request("x1", SELL, 0.3, reduce_only=True, price=65_100.0)
    machine.on_exit_submitted(3 * S, exit_, "take profit")
    machine.on_fill(4 * S, fill(exit_, 0.1))
    machine.request_exit_cancel(5 * S, "take profit not reached")
    machine.on_fill(5 * S, fill(exit_, 0.05))  # a fill racing the cancel
    machine.on_order_update(6 * S, update(exit_, OrderStatus.CANCELLED, 0.15))
    assert (machine.state, machine.position, machine.stop_price) == (M.IN_POSITION, 0.15, 64_870.0)
    stop = request("x2", SELL, 0.15, reduce_only=True, price=None)
    machine.on_exit_submitted(7 * S, stop, "stop")
    machine.on_order_update(8 * S, update(stop, OrderStatus.FILLED, 0.15))
    assert (machine.state, machine.position) == (M.COOLDOWN, 0.0)


def test_fills_reported_twice_count_once_in_either_order():
    machine = scanning()
    machine.on_signal(S, BUY, "score")
    entry = request("e1", BUY, 0.3)
    machine.on_entry_submitted(S, entry, 64_870.0)
    machine.on_order_update(2 * S, update(entry, OrderStatus.PARTIALLY_FILLED, 0.1))
    assert machine.on_fill(2 * S, fill(entry, 0.1)) is None  # already counted
    machine.on_fill(3 * S, fill(entry, 0.1))
    assert machine.position == 0.2
    machine.on_order_update(3 * S, update(entry, OrderStatus.PARTIALLY_FILLED, 0.2))
    assert machine.position == 0.2
    machine.on_order_update(4 * S, update(entry, OrderStatus.FILLED, 0.3))
    assert (machine.state, machine.position) == (M.IN_POSITION, 0.3)
    assert machine.on_fill(4 * S, fill(entry, 0.1)) is None  # the late fill of the last 0.1


def test_a_fill_beyond_a_finished_order_is_a_position_mismatch():
    machine = scanning()
    machine.on_signal(S, BUY, "score")
    entry = request("e1", BUY, 0.3)
    machine.on_entry_submitted(S, entry, 64_870.0)
    machine.on_order_update(2 * S, update(entry, OrderStatus.CANCELLED, 0.1))
    machine.on_fill(2 * S, fill(entry, 0.1))
    with pytest.raises(PositionMismatch):
        machine.on_fill(3 * S, fill(entry, 0.1))


def test_a_halt_winds_each_state_down_to_halted():
    flat = scanning()
    flat.halt(S, "kill switch")
    assert flat.state is M.HALTED
    with pytest.raises(IllegalTransition):
        flat.start(2 * S)
    flat.resume(3 * S, "operator")
    flat.start(3 * S)
    assert flat.state is M.SCANNING

    entering = scanning()
    entering.on_signal(S, BUY, "score")
    entry = request("e1", BUY, 0.3)
    entering.on_entry_submitted(S, entry, 64_870.0)
    entering.halt(2 * S, "daily loss")
    assert (entering.state, entering.order_id) == (M.ENTRY_CANCEL_PENDING, "e1")
    entering.on_order_update(3 * S, update(entry, OrderStatus.CANCELLED, 0.0))
    assert entering.state is M.HALTED

    held, _ = holding(0.3)
    held.halt(3 * S, "kill switch")
    assert (held.state, held.halted, held.stop_price) == (M.IN_POSITION, True, 64_870.0)
    flatten = request("x1", SELL, 0.3, reduce_only=True, price=None)
    held.on_exit_submitted(4 * S, flatten, "flatten on halt")
    held.on_order_update(5 * S, update(flatten, OrderStatus.FILLED, 0.3))
    assert held.state is M.HALTED  # not COOLDOWN
    held.resume(6 * S, "operator")
    assert held.state is M.IDLE


def test_a_halt_during_an_exit_cancel_ends_halted_once_flat():
    machine, _ = holding(0.3)
    exit_ = request("x1", SELL, 0.3, reduce_only=True, price=65_100.0)
    machine.on_exit_submitted(3 * S, exit_, "take profit")
    machine.request_exit_cancel(4 * S, "too slow")
    machine.halt(5 * S, "kill switch")
    assert machine.state is M.EXIT_CANCEL_PENDING
    machine.on_order_update(6 * S, update(exit_, OrderStatus.CANCELLED, 0.1))
    assert (machine.state, machine.position) == (M.IN_POSITION, 0.2)  # still halting
    flatten = request("x2", SELL, 0.2, reduce_only=True, price=None)
    machine.on_exit_submitted(7 * S, flatten, "flatten on halt")
    machine.on_fill(8 * S, fill(flatten, 0.2))
    assert (machine.state, machine.position, machine.order_id) == (M.HALTED, 0.0, None)


def test_a_resume_while_winding_down_carries_on_unhalted():
    machine, _ = holding(0.3)
    machine.halt(3 * S, "feed down")
    machine.resume(4 * S, "feed back")
    assert (machine.state, machine.halted) == (M.IN_POSITION, False)
    with pytest.raises(IllegalTransition):
        machine.resume(5 * S, "twice")


# -- refusals -----------------------------------------------------------------------------------


def test_illegal_requests_raise_and_change_nothing():
    machine, _ = holding(0.3)
    audit_len = len(machine.audit)
    attempts = [
        lambda: machine.on_signal(3 * S, BUY, "again"),  # double entry
        lambda: machine.on_entry_submitted(3 * S, request("e2", BUY, 0.1), 64_870.0),
        lambda: machine.on_exit_submitted(3 * S, request("x1", SELL, 0.3), "not reduce-only"),
        lambda: machine.on_exit_submitted(
            3 * S, request("x1", BUY, 0.3, reduce_only=True), "adds to the long"
        ),
        lambda: machine.on_exit_submitted(
            3 * S, request("x1", SELL, 0.4, reduce_only=True), "more than held"
        ),
        lambda: machine.on_exit_submitted(
            3 * S, request("e1", SELL, 0.3, reduce_only=True), "client id reused"
        ),
        lambda: machine.request_entry_cancel(3 * S, "no entry order"),
        lambda: machine.on_fill(3 * S, fill(request("zz", BUY, 0.1), 0.1)),  # not its order
        lambda: machine.pause(3 * S, "holding"),
        lambda: machine.start(3 * S),
        lambda: machine.move_stop(3 * S, -1.0, "negative"),
    ]
    for attempt in attempts:
        with pytest.raises(IllegalTransition):
            attempt()
        assert (machine.state, machine.position, machine.order_id) == (M.IN_POSITION, 0.3, None)
    assert len(machine.audit) == audit_len


def test_an_entry_must_match_its_signal_and_have_a_protective_stop():
    machine = scanning()
    with pytest.raises(IllegalTransition):
        machine.on_entry_submitted(S, request("e1", BUY, 0.1), 64_870.0)  # no signal
    machine.on_signal(S, BUY, "score")
    for bad in (
        lambda: machine.on_entry_submitted(S, request("e1", SELL, 0.1), 65_130.0),
        lambda: machine.on_entry_submitted(S, request("e1", BUY, 0.1), 65_100.0),
        lambda: machine.on_entry_submitted(S, request("e1", BUY, 0.1, reduce_only=True), 1.0),
        lambda: machine.on_entry_submitted(S, request("e1", BUY, 0.0), 64_870.0),
    ):
        with pytest.raises(IllegalTransition):
            bad()
    assert machine.state is M.SIGNAL_DETECTED


def test_a_halt_is_legal_in_every_state():
    sources = {row.source for row in TRANSITIONS if row.trigger is Trigger.HALT}
    assert sources == set(MachineState)


def test_built_from_the_settings_tree():
    audit = AuditLog.from_settings(TradingSettings(audit_records=5))
    machine = SymbolMachine.from_settings(SYMBOL, audit, StrategySettings(cooldown_s=1.5))
    assert (audit.capacity, machine.cooldown_ns) == (5, 1_500_000_000)


def test_the_audit_log_is_bounded_and_drains_each_record_once():
    machine = scanning(capacity=3)  # 1 record
    machine.on_signal(S, BUY, "a")  # 2
    assert [r.state for r in machine.audit.drain()] == ["scanning", "signal_detected"]
    assert machine.audit.drain() == []
    machine.on_risk_refused(S, "x")  # 3
    machine.on_signal(2 * S, BUY, "b")  # 4: evicts the 1st (drained)
    machine.on_risk_refused(2 * S, "y")  # 5: evicts the 2nd (drained)
    machine.on_signal(3 * S, BUY, "c")  # 6: evicts the 3rd, never drained
    assert machine.audit.dropped == 1
    assert [r.reason for r in machine.audit.drain()] == [
        "signal: b",
        "risk refused: y",
        "signal: c",
    ]
    assert len(machine.audit) == 3 and machine.audit.total == 6
    assert [r.state for r in machine.audit.for_symbol(SYMBOL, 1)] == ["signal_detected"]


# -- random paths -------------------------------------------------------------------------------

STEP = 0.001  # BTCUSDT's qty step: quantities below are whole lots of it
CORE_ACTIONS = (
    "start",
    "pause",
    "signal",
    "risk_refuses",
    "submit_entry",
    "submit_exit",
    "ask_cancel",
    "move_stop",
    "resume",
)


def lots_qty(lots: int) -> float:
    """Whole lots as the venue's quantity (on the grid: 63 lots are 0.063, not 63 * 0.001)."""
    return round(lots * STEP, 3)


RARELY = st.sampled_from(range(10))
"""Draws 0 one time in ten (picked uniformly, unlike integers, whose small values hypothesis
favours): rules that undo progress (pause, a risk refusal) act only on 0, so that paths reach
positions and exits."""
REPORTS = ("fill+update", "update+fill", "fill", "update")
"""How the venue reports one execution: both channels in either order, or one now and the other
later (an order update coalesced into a later one; a fill delivered late)."""


class VenueOrder:
    """An order as the venue knows it, and what it has told the machine (in whole lots)."""

    def __init__(self, req: OrderRequest, entry: bool) -> None:
        self.request = req
        self.entry = entry
        self.lots = round(req.qty / STEP)
        self.filled = 0
        self.venue_open = True
        self.fills_told = 0
        self.cum_told = 0
        self.ended_told = False

    @property
    def status(self) -> OrderStatus:
        if self.filled == self.lots:
            return OrderStatus.FILLED
        if not self.venue_open:
            return OrderStatus.CANCELLED
        return OrderStatus.PARTIALLY_FILLED if self.filled else OrderStatus.NEW

    @property
    def told(self) -> int:
        """What the machine can know was filled: the further of its two channels."""
        return max(self.fills_told, self.cum_told)

    @property
    def done_told(self) -> bool:
        return self.ended_told or self.told == self.lots


class MachineAgainstVenue(RuleBasedStateMachine):
    """A trading core that tries anything (legal or not) against a venue that fills, cancels
    and rejects at random and reports each execution by a fill and by a cumulative order
    update, in either order, or one of them late. The model knows which requests the protocol
    allows (a small table of its own) and the position from the executions it made (whole
    lots: exact); the machine must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = SymbolMachine(SYMBOL, AuditLog(10_000))
        self.ts = 0
        self.ids = 0
        self.orders: list[VenueOrder] = []
        self.order: VenueOrder | None = None
        """The order the machine must own: sent, and not known by the machine to be done."""
        self.late_fills: list[tuple[VenueOrder, int]] = []
        self.entry_lots = 0

    # -- helpers ------------------------------------------------------------------------------

    def tick(self, dt: int = 1) -> int:
        self.ts += dt
        return self.ts

    def next_id(self) -> str:
        self.ids += 1
        return f"c{self.ids}"

    @property
    def true_lots(self) -> int:
        return sum(o.request.side * o.filled for o in self.orders)

    @property
    def told_lots(self) -> int:
        return sum(o.request.side * o.told for o in self.orders)

    def snapshot(self):
        m = self.machine
        return (m.state, m.position, m.order_id, m.stop_price, m.halt_requested, len(m.audit))

    def attempt(self, legal: bool, call) -> bool:
        before = self.snapshot()
        if legal:
            call()
            return True
        with pytest.raises(IllegalTransition):
            call()
        assert self.snapshot() == before
        return False

    @initialize(cooldown_s=st.sampled_from([0, 10]))
    def cooldown(self, cooldown_s):
        self.machine.cooldown_ns = cooldown_s * S

    # -- the core -----------------------------------------------------------------------------
    # Each rule is enabled where a trading core would take it (so paths get somewhere) and
    # checks its own legality anyway; `anything` takes any of them anywhere.

    @precondition(lambda self: self.machine.state is M.IDLE)
    @rule()
    def start(self):
        self.attempt(self.machine.state is M.IDLE, lambda: self.machine.start(self.tick()))

    @precondition(lambda self: self.machine.state in (M.SCANNING, M.COOLDOWN))
    @rule(roll=RARELY)
    def pause(self, roll=0):
        if roll:
            return
        legal = self.machine.state in (M.SCANNING, M.COOLDOWN)
        if self.attempt(legal, lambda: self.machine.pause(self.tick(), "test")):
            assert self.machine.state is M.IDLE

    @precondition(lambda self: self.machine.state is M.SCANNING)
    @rule(side=st.sampled_from([BUY, SELL]))
    def signal(self, side):
        legal = self.machine.state is M.SCANNING
        if self.attempt(legal, lambda: self.machine.on_signal(self.tick(), side, "score")):
            assert self.machine.state is M.SIGNAL_DETECTED

    @precondition(lambda self: self.machine.state is M.SIGNAL_DETECTED)
    @rule(roll=RARELY)
    def risk_refuses(self, roll=0):
        if roll:
            return
        legal = self.machine.state is M.SIGNAL_DETECTED
        if self.attempt(legal, lambda: self.machine.on_risk_refused(self.tick(), "limit")):
            assert self.machine.state is M.SCANNING

    @precondition(lambda self: self.machine.state is M.SIGNAL_DETECTED)
    @rule(lots=st.integers(1, 500), wrong_side=st.booleans())
    def submit_entry(self, lots, wrong_side):
        side = self.machine.side or BUY
        side = -side if wrong_side else side
        req = request(self.next_id(), side, lots_qty(lots))
        stop = 64_000.0 if side == BUY else 66_000.0
        legal = self.machine.state is M.SIGNAL_DETECTED and not wrong_side
        if legal:
            # no double entry: the protocol gets here only flat with no order
            assert self.true_lots == 0 and self.order is None
        if self.attempt(legal, lambda: self.machine.on_entry_submitted(self.tick(), req, stop)):
            self.order = VenueOrder(req, entry=True)
            self.orders.append(self.order)
            self.entry_lots = lots
            assert self.machine.state is M.POSITION_ENTRY

    @precondition(lambda self: self.machine.state is M.IN_POSITION)
    @rule(part=st.one_of(st.just(1.0), st.floats(0.0, 1.5)), wrong_side=st.booleans())
    def submit_exit(self, part, wrong_side):
        held = abs(self.told_lots)
        lots = max(1, round(held * part))
        side = (SELL if self.told_lots > 0 else BUY) * (-1 if wrong_side else 1)
        req = request(self.next_id(), side, lots_qty(lots), reduce_only=True, price=None)
        legal = self.machine.state is M.IN_POSITION and 0 < lots <= held and not wrong_side
        if self.attempt(legal, lambda: self.machine.on_exit_submitted(self.tick(), req, "stop")):
            self.order = VenueOrder(req, entry=False)
            self.orders.append(self.order)
            assert self.machine.state is M.POSITION_EXIT

    @precondition(lambda self: self.machine.state in (M.POSITION_ENTRY, M.POSITION_EXIT))
    @rule()
    def ask_cancel(self):
        state = self.machine.state
        if state is M.POSITION_EXIT:
            call = self.machine.request_exit_cancel
        else:
            call = self.machine.request_entry_cancel
        legal = state in (M.POSITION_ENTRY, M.POSITION_EXIT)
        self.attempt(legal, lambda: call(self.tick(), "timeout"))

    @precondition(lambda self: self.machine.state in ORDER_STATES | {M.IN_POSITION})
    @rule(price=st.floats(60_000.0, 70_000.0))
    def move_stop(self, price):
        legal = self.machine.state in ORDER_STATES | {M.IN_POSITION} and (
            self.told_lots != 0 or self.machine.state is M.POSITION_ENTRY
        )
        if self.attempt(legal, lambda: self.machine.move_stop(self.tick(), price, "trail")):
            assert self.machine.stop_price == price

    @rule(roll=st.sampled_from(range(4)))
    def halt(self, roll=0):
        if roll:
            return
        before = self.machine.state
        self.machine.halt(self.tick(), "test")
        if before in (M.IDLE, M.SCANNING, M.SIGNAL_DETECTED, M.COOLDOWN, M.HALTED):
            assert self.machine.state is M.HALTED
        elif before is M.POSITION_ENTRY:
            assert self.machine.state is M.ENTRY_CANCEL_PENDING
        else:
            assert self.machine.state is before

    @precondition(lambda self: self.machine.halted)
    @rule()
    def resume(self):
        was = self.machine.state
        legal = self.machine.halt_requested or was is M.HALTED
        if self.attempt(legal, lambda: self.machine.resume(self.tick(), "test")):
            assert self.machine.state is (M.IDLE if was is M.HALTED else was)
            assert not self.machine.halted

    @rule(dt=st.one_of(st.integers(0, S), st.sampled_from([5 * S, 10 * S, 11 * S])))
    def time_passes(self, dt):
        self.machine.on_time(self.tick(dt))
        if self.machine.state is M.COOLDOWN:
            assert self.ts < self.machine.cooldown_until_ns

    @rule(data=st.data())
    def anything(self, data):
        """Any request of the core, in whatever state: legal ones must pass, the others raise
        and change nothing."""
        name = data.draw(st.sampled_from(CORE_ACTIONS))
        if name == "start":
            self.start()
        elif name == "pause":
            self.pause()
        elif name == "signal":
            self.signal(data.draw(st.sampled_from([BUY, SELL])))
        elif name == "risk_refuses":
            self.risk_refuses()
        elif name == "submit_entry":
            self.submit_entry(data.draw(st.integers(1, 500)), data.draw(st.booleans()))
        elif name == "submit_exit":
            self.submit_exit(data.draw(st.floats(0.0, 1.5)), data.draw(st.booleans()))
        elif name == "ask_cancel":
            self.ask_cancel()
        elif name == "move_stop":
            self.move_stop(data.draw(st.floats(60_000.0, 70_000.0)))
        else:
            self.resume()

    # -- the venue ----------------------------------------------------------------------------

    def tell_update(self, order: VenueOrder) -> None:
        ended = order.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
        self.machine.on_order_update(
            self.tick(), update(order.request, order.status, lots_qty(order.filled))
        )
        order.cum_told = max(order.cum_told, order.filled)
        order.ended_told = order.ended_told or ended
        self.check_done(order)

    def tell_fill(self, order: VenueOrder, lots: int) -> None:
        self.machine.on_fill(self.tick(), fill(order.request, lots_qty(lots)))
        order.fills_told += lots
        self.check_done(order)

    def check_done(self, order: VenueOrder) -> None:
        """Once the machine can know the order is done, it must have let go of it, in the state
        the fills leave it in."""
        if order is not self.order or not order.done_told:
            return
        self.order = None
        assert self.machine.order_id is None
        if self.told_lots:
            expected = M.IN_POSITION
        elif self.machine.halt_requested:
            expected = M.HALTED
        else:
            cools = not order.entry and self.machine.cooldown_ns > 0
            expected = M.COOLDOWN if cools else M.SCANNING
        assert self.machine.state is expected

    @precondition(lambda self: self.order is not None and self.order.venue_open)
    @rule(part=st.one_of(st.just(1.0), st.floats(0.0, 1.0)), report=st.sampled_from(REPORTS))
    def venue_fills(self, part, report):
        order = self.order
        assert order is not None
        lots = max(1, round((order.lots - order.filled) * part))
        order.filled += lots
        if order.filled == order.lots:
            order.venue_open = False
        for channel in report.split("+"):
            if channel == "fill":
                self.tell_fill(order, lots)
            else:
                self.tell_update(order)
        if "fill" not in report:
            self.late_fills.append((order, lots))

    @precondition(lambda self: self.order is not None and self.order.venue_open)
    @rule(reject=st.booleans(), roll=st.sampled_from(range(3)))
    def venue_ends_order(self, reject, roll=0):
        if roll:
            return
        order = self.order
        assert order is not None
        order.venue_open = False
        status = OrderStatus.REJECTED if reject and not order.filled else OrderStatus.CANCELLED
        self.machine.on_order_update(
            self.tick(), update(order.request, status, lots_qty(order.filled))
        )
        order.cum_told = order.filled
        order.ended_told = True
        self.check_done(order)

    @precondition(lambda self: bool(self.late_fills))
    @rule(which=st.integers(0, 10))
    def venue_delivers_a_late_fill(self, which):
        order, lots = self.late_fills.pop(which % len(self.late_fills))
        self.tell_fill(order, lots)

    @precondition(lambda self: any(o.filled for o in self.orders))
    @rule(which=st.integers(0, 10))
    def venue_repeats_an_update(self, which):
        """The latest state of some order, again (a coalesced update, a reconnect's replay)."""
        order = self.orders[-1 - which % len(self.orders)]
        self.tell_update(order)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_position_is_what_the_machine_was_told(self):
        assert round(self.machine.position / STEP) == self.told_lots
        assert self.machine.position == lots_qty(self.told_lots)

    @invariant()
    def a_position_is_held_only_in_position_states_with_a_live_stop(self):
        if self.told_lots:
            assert self.machine.state in ORDER_STATES | {M.IN_POSITION}
            assert self.machine.stop_price is not None
            assert abs(self.true_lots) <= self.entry_lots

    @invariant()
    def every_order_has_its_owning_state(self):
        owned = self.machine.order_id
        assert (owned is not None) == (self.machine.state in ORDER_STATES)
        assert owned == (None if self.order is None else self.order.request.client_id)
        for order in self.orders:
            if order.venue_open:
                assert order is self.order

    @invariant()
    def the_audit_trail_is_a_chain(self):
        records = self.machine.audit.latest(2)
        if len(records) == 2:
            assert records[0].state == records[1].previous
        if records:
            assert records[-1].state == self.machine.state.value

    def teardown(self):
        """Wind down from wherever the path ended: every report arrives, the open order ends,
        an exit closes what is held; the machine ends flat, with no order, at rest."""
        while self.late_fills:
            self.venue_delivers_a_late_fill(0)
        if self.order is not None and self.order.venue_open:
            self.venue_ends_order(reject=False)
        if self.order is not None:
            self.tell_update(self.order)
        assert self.machine.position == lots_qty(self.true_lots)
        if self.true_lots:
            assert self.machine.state is M.IN_POSITION
            self.submit_exit(part=1.0, wrong_side=False)
            self.venue_fills(part=1.0, report="update+fill")
        assert self.true_lots == 0 and self.machine.flat
        assert self.machine.order_id is None
        assert self.machine.state not in ORDER_STATES | {M.IN_POSITION}


MachineAgainstVenue.TestCase.settings = settings(max_examples=150, stateful_step_count=100)
test_machine_against_a_random_venue = MachineAgainstVenue.TestCase
