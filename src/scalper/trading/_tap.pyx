# cython: language_level=3, boundscheck=False, wraparound=False
"""The trading core's tap on the engine, compiled.

Every market event of every traded symbol reaches the trader, yet most change nothing there
but clocks: a symbol scanning between its signals' ticks (or with a tick its strategy's entry
gate turns down) or cooling down before its cooldown ends, no order or position, nothing due at
the paper broker, no answer of the venue waiting. `TraderTap` settles exactly those events in
C, with the same effects `Trader.on_event` has on them (the trader's and the broker's clocks,
the symbol's last book time, the broker's book of the symbol, the gate's look at a new tick, a
cooling machine's time, a quiet ticker's funding terms), and hands every other event to
`Trader.on_event` untouched. It decides before it changes anything, so an event it hands on
meets the state `Trader.on_event` would have met without it;
`tests/unit/trading/test_tap.py` runs markets both ways and compares every record.

It reads the paper broker's live containers and clocks (`PaperBroker.fast_path_state`), as
`PaperBroker._quiet` does; the trader's and the broker's clocks are C structs shared with them
(`TraderClock`, `BrokerClocks`), so reading and moving them costs no attribute lookups.
"""

from libc.math cimport fabs

from scalper._event_tap cimport EventTap
from scalper._symbol cimport SymbolObserver

from scalper.events import BookUpdate, TickerUpdate, TradeBatch
from scalper.trading.machine import MachineState

cdef object _SCANNING = MachineState.SCANNING
cdef object _IDLE = MachineState.IDLE
cdef object _COOLDOWN = MachineState.COOLDOWN
cdef enum:
    _QUIET = 0
    _NEW_TICK = 1
    _BUSY = 2
    _COOLING = 3


cdef long long _latest(object trades) except? -1:
    """The latest event time of a trade batch's trades (`PaperBroker.on_trades`' `last`)."""
    cdef long long latest = trades[0].ts_event_ns
    cdef long long t
    for trade in trades:
        t = trade.ts_event_ns
        if t > latest:
            latest = t
    return latest


cdef class ScoreGate:
    """An entry gate (`strategy.EntryGate`) on the score and confluence alone, compiled: the
    tap calls it in C. True when the score (None while warming up) is at least `enter_score`
    away from zero and the confluence at least `min_confluence`."""

    cdef readonly double enter_score
    cdef readonly long long min_confluence

    def __init__(self, double enter_score, long long min_confluence) -> None:
        self.enter_score = enter_score
        self.min_confluence = min_confluence

    def __call__(self, score: float | None, confluence: int) -> bool:
        return self.allows(score, confluence)

    cdef bint allows(self, object score, object confluence) except -1:
        return (
            score is not None
            and fabs(<double>score) >= self.enter_score
            and <long long>confluence >= self.min_confluence
        )


cdef class TraderClock:
    """The trading core's event time and its next deadlines."""

    cdef public long long now_ns
    """Event time: the latest event's (or `Trader.advance_to`'s)."""
    cdef public long long next_risk_ns
    """When the risk engine's timers are next checked."""
    cdef public long long next_sample_ns
    """When the next equity point is due."""


cdef class BrokerClocks:
    """The paper broker's clocks (see `PaperBroker`)."""

    cdef public long long clock_ns
    """The latest event time the broker was given (market events, `advance_to`)."""
    cdef public long long market_ns
    """The time of the latest market event: the books it holds are this recent."""
    cdef public long long venue_ns
    """The venue time of what is being processed (an action, a delivery, an event)."""
    cdef public bint delivering
    """Whether it is handing events to the trader (then market data must not come in)."""


cdef class TradedSymbol:
    """What the trading core keeps per traded symbol besides its machine."""

    cdef public object machine
    cdef public object state
    """The machine's state, kept equal to it by the machine (`SymbolMachine.mirror`): read
    here in C."""
    cdef public object instrument
    cdef public double tick_size
    cdef public object book_ns
    """Event time of the symbol's last book update (None before the first)."""
    cdef public long long evaluated_ns
    """The signals' tick (as_of_ns) the strategy last saw while scanning."""
    cdef public long long entry_ns
    cdef public object order_sent_ns
    cdef public object take_profit
    cdef public object cancel_sent
    """The owned order a cancel was sent for (one per order)."""
    cdef public long long quiet_until_ns
    """No entry is looked for before this (after a risk refusal)."""
    cdef public SymbolObserver tracker
    """The symbol's signals (`SymbolSignals`), once it has them."""
    cdef public long long broker_depth
    """The depth of the book the paper broker was last given for the symbol (-1: none yet):
    while updates keep that depth, the broker already holds their book."""

    def __init__(self, machine: object, instrument: object) -> None:
        self.machine = machine
        self.state = machine.state
        machine.mirror = self
        self.instrument = instrument
        self.tick_size = float(instrument.tick_size)
        self.book_ns = None
        self.evaluated_ns = -1
        self.entry_ns = 0
        self.order_sent_ns = None
        self.take_profit = None
        self.cancel_sent = None
        self.quiet_until_ns = 0
        self.tracker = None
        self.broker_depth = -1


cdef class TraderTap(EventTap):
    """Called with every market event after the engine applied it (`Engine.add_tap`); a book
    update of the columnar replay is offered by its fields first (`on_book_row`)."""

    cdef object on_event
    cdef dict symbols
    cdef list pending
    cdef dict engine_symbols
    cdef TraderClock clock
    cdef object entry_gate
    cdef ScoreGate score_gate
    """`entry_gate` when it is a `ScoreGate` (called in C), else None."""
    cdef object evaluate
    cdef object broker
    cdef BrokerClocks broker_clocks
    cdef object on_ticker_at
    cdef object after_market_event
    cdef list actions
    cdef list outbox
    cdef dict shadows
    cdef dict resting
    cdef dict taken
    cdef dict books
    cdef dict funding
    cdef long long now
    """The trader time of the event `_quiet_entry` settled last."""
    cdef int verdict
    """Its scan verdict."""

    def __init__(self, object trader, object broker) -> None:
        """`trader` is a `Trader`; `broker` its paper broker, or None for an execution client
        that takes no market data (then only the trader's side is settled here)."""
        self.on_event = trader.on_event
        self.symbols = trader.symbols
        self.pending = trader._pending
        self.engine_symbols = trader.engine.symbols
        self.clock = trader.clock
        self.entry_gate = trader._entry_gate
        self.score_gate = self.entry_gate if isinstance(self.entry_gate, ScoreGate) else None
        self.evaluate = trader._evaluate
        self.after_market_event = trader.after_market_event
        self.broker = broker
        if broker is not None:
            self.on_ticker_at = broker.on_ticker_at
            (
                self.actions,
                self.outbox,
                self.shadows,
                self.resting,
                self.taken,
                self.books,
                self.broker_clocks,
                self.funding,
            ) = broker.fast_path_state()

    def __call__(self, event: object) -> None:
        self.on(event)

    cdef int on(self, object event) except -1:
        cdef object kind = type(event)
        cdef long long ts
        cdef TradedSymbol entry
        if kind is BookUpdate:
            if self.on_book_row(event.symbol, event.depth, event.ts_event_ns):
                self.on_event(event)
            return 0
        if kind is TradeBatch:
            trades = event.trades
            ts = _latest(trades) if trades else 0
            entry = self._quiet_entry(event.symbol, event.ts_event_ns, event.symbol, ts)
            if entry is None or not trades:
                self.on_event(event)
                return 0
            if self.broker is not None:
                self._settle_clock(ts)
        elif kind is TickerUpdate:
            ts = event.ts_event_ns
            entry = self._quiet_entry(event.symbol, ts, None, ts)
            if entry is None:
                self.on_event(event)
                return 0
            if self.broker is not None:
                # PaperBroker.on_ticker with nothing due before the ticker: the clocks move,
                # the funding terms are taken, and what that delivers by now is handed over.
                self._settle_clock(ts)
                if not self._merge_quiet_funding(event, self.broker_clocks.clock_ns):
                    self.on_ticker_at(event, self.broker_clocks.clock_ns)
                    if self.pending:  # a funding payment delivered at once (no latency)
                        self.after_market_event(entry, event.symbol, ts)
                        return 0
        else:
            self.on_event(event)
            return 0
        return self._settled(entry, self.now, self.verdict)

    cdef int on_book_row(self, str symbol, long long depth, long long ts) except -1:
        """`on`'s BookUpdate case from the update's fields: 0 when settled here, 1 when the
        update must go to `Trader.on_event` (nothing was changed then)."""
        cdef TradedSymbol entry = self._quiet_entry(symbol, ts, symbol, ts)
        if entry is None:
            return 1
        if self.broker is not None:
            self._settle_book(entry, symbol, depth, ts)
        entry.book_ns = ts
        return self._settled(entry, self.now, self.verdict)

    cdef TradedSymbol _quiet_entry(
        self, str symbol, long long ts, object broker_symbol, long long broker_ts
    ):
        """The symbol's entry when its event at `ts` only moves clocks here and, at venue time
        `broker_ts`, at the broker (`_quiet_broker(broker_symbol, ...)`), with its trader time in
        `now` and its scan verdict in `verdict`; None when the event must go to
        `Trader.on_event`. Changes nothing but those two."""
        found = self.symbols.get(symbol)
        if found is None or self.pending:
            return None
        cdef TradedSymbol entry = <TradedSymbol>found
        cdef long long now = self._trader_time(ts)
        cdef int verdict = self._scan_verdict(entry, now)
        if verdict == _BUSY or not self._quiet_broker(broker_symbol, broker_ts):
            return None
        self.now = now
        self.verdict = verdict
        return entry

    cdef int _settled(self, TradedSymbol entry, long long now, int verdict) except -1:
        """The end of a settled event: the trader's clock, a cooling symbol's machine time,
        and a scanning symbol's new tick."""
        self.clock.now_ns = now
        if verdict == _COOLING:
            entry.machine.now_ns = now  # SymbolMachine.on_time before the cooldown is over
            return 0
        if verdict == _NEW_TICK:
            # Trader.on_event's look at a scanning symbol's new signals tick: the gate, then the
            # strategy (nothing else in on_event is due: _trader_time said so).
            tracker = entry.tracker
            entry.evaluated_ns = entry.tracker.as_of_ns
            if self.score_gate is not None:
                allowed = self.score_gate.allows(tracker.score, tracker.confluence)
            else:
                allowed = self.entry_gate is None or self.entry_gate(
                    tracker.score, tracker.confluence
                )
            if allowed:
                self.evaluate(entry, now)
        return 0

    cdef long long _trader_time(self, long long ts) except? -2:
        """The trader's event time after an event at `ts`, or -1 when its risk timers or its
        equity sample are due then (work for `Trader.on_event`)."""
        cdef TraderClock clock = self.clock
        cdef long long now = clock.now_ns
        if ts > now:
            now = ts
        if now >= clock.next_risk_ns or now >= clock.next_sample_ns:
            return -1
        return now

    cdef int _scan_verdict(self, TradedSymbol entry, long long now) except -1:
        """_QUIET: the event changes nothing at the symbol; _NEW_TICK: it is scanning and its
        signals closed a tick to look at; _COOLING: it cools down, and will still at `now`
        (only its machine's time moves); _BUSY: anything else (`Trader.on_event`)."""
        cdef SymbolObserver tracker
        if now < 0:
            return _BUSY
        state = entry.state
        if state is _SCANNING:
            tracker = entry.tracker
            if tracker is None:
                return _BUSY
            if tracker.as_of_ns != entry.evaluated_ns and now >= entry.quiet_until_ns:
                return _NEW_TICK
            return _QUIET
        if state is _IDLE:
            return _QUIET
        if state is _COOLDOWN and now < <long long>entry.machine.cooldown_until_ns:
            return _COOLING
        return _BUSY

    cdef bint _quiet_broker(self, object symbol, long long ts) except -1:
        """`PaperBroker._quiet`: whether market data at `ts` only moves its clock (nothing due,
        nothing to deliver; for a `symbol`, no order, shadow book or consumed liquidity
        there)."""
        if self.broker is None:
            return True
        cdef BrokerClocks clocks = self.broker_clocks
        if clocks.delivering:
            return False
        cdef long long t = ts if ts > clocks.clock_ns else clocks.clock_ns
        if self.actions and <long long>self.actions[0][0] < t:
            return False
        if self.outbox and <long long>self.outbox[0][0] <= t:
            return False
        if symbol is None:
            return True
        if (self.shadows and symbol in self.shadows) or (self.resting and symbol in self.resting):
            return False
        if self.taken and ((symbol, True) in self.taken or (symbol, False) in self.taken):
            return False
        return True

    cdef int _settle_book(
        self, TradedSymbol entry, str symbol, long long depth, long long ts
    ) except -1:
        """What a quiet book update does at the broker: its book of the symbol, its clock."""
        if depth != entry.broker_depth:  # else the broker holds this depth's book already
            state = self.engine_symbols[symbol]
            book = state.book
            if book.depth != depth:
                book = state.book_for(depth)
            self.books[symbol] = book
            entry.broker_depth = depth
        self._settle_clock(ts)
        return 0

    cdef bint _merge_quiet_funding(self, object update, long long t) except -1:
        """`PaperBroker.on_ticker_at(update, t)` when it settles no funding and has no new
        funding time to schedule (most tickers): merge the ticker's rate and mark price into
        the symbol's `FundingTerms` as `FundingTerms.update` does, and return True; else
        change nothing and return False."""
        terms = self.funding.get(update.symbol)
        if terms is None:
            return False
        at = terms.next_funding_ns
        if at is not None and <long long>at <= t and <long long>at > <long long>terms.settled_ns:
            return False  # a funding time is due
        fields = update.fields
        snapshot = update.is_snapshot
        next_ms = fields.next_funding_time_ms
        if snapshot or next_ms is not None:
            if (None if next_ms is None else next_ms * 1_000_000) != at:
                return False  # the schedule changes
        if snapshot:
            terms.rate = fields.funding_rate
            terms.mark_price = fields.mark_price
        else:
            rate = fields.funding_rate
            if rate is not None:
                terms.rate = rate
            mark = fields.mark_price
            if mark is not None:
                terms.mark_price = mark
        return True

    cdef int _settle_clock(self, long long ts) except -1:
        cdef BrokerClocks clocks = self.broker_clocks
        if ts > clocks.clock_ns:
            clocks.clock_ns = ts
        clocks.market_ns = clocks.venue_ns = clocks.clock_ns
        return 0
