"""The trading core: market events in, intents through the risk engine, orders out, and every
answer of the venue back into the state machines, the risk engine and the portfolio.

One `Trader` serves every traded symbol of an engine. It taps the engine's input
(`Engine.add_tap`): each market event is first applied by the engine (and its signals), then
handed here, so the paper broker matches against the book as it now is and the strategy sees
the same state the API serves. Per event:

1. the execution client sees the market event (the paper broker fills against it); its
   answers (order updates, fills, funding) arrive through the sink and update, in this order,
   the risk engine, the portfolio and the symbol's machine (as in
   `tests/unit/trading/test_call_order.py`);
2. positions are marked at the mid, equity goes to the risk engine (daily loss limit);
3. the strategy is asked: for a symbol scanning for entries at the signals' cadence (when its
   signals closed a new tick), for a symbol with an order or a position on every event of it (a
   stop must not wait);
4. a decision becomes an intent with a client id, the risk engine approves or refuses it, the
   machine takes ownership, and only then is the order submitted.

Everything is driven by event time; the wall clock is read only to stamp audit records (the
`wall_clock` argument; a backtest passes None). A strategy that raises halts its symbol only.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Reversible
from decimal import Decimal
from typing import Final, NamedTuple, Protocol

from scalper.engine import Engine
from scalper.events import BookUpdate, Instrument, TickerUpdate, TradeBatch
from scalper.settings import TradingSettings
from scalper.signals import REGIMES, SignalEngine
from scalper.trading._tap import TradedSymbol, TraderClock, TraderTap
from scalper.trading.audit import AuditLog, AuditRecord, BookTop, DecisionInputs
from scalper.trading.execution import ExecutionClient
from scalper.trading.intents import CancelIntent, EnterIntent, ExitIntent, Intent
from scalper.trading.machine import IllegalTransition, MachineState, SymbolMachine
from scalper.trading.orders import (
    BUY,
    SELL,
    ExecutionEvent,
    Fill,
    FundingPayment,
    Liquidity,
    Order,
    OrderRequest,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from scalper.trading.portfolio import EquityPoint, Portfolio, TradeRecord
from scalper.trading.risk import (
    Approved,
    BookState,
    CancelApproved,
    Refused,
    RiskContext,
    RiskEngine,
    StateChange,
    TradingState,
)
from scalper.trading.store import StoredAccount, StoredPosition, TradingStore
from scalper.trading.strategy import CancelEntry, Decision, Enter, Exit, MarketView, Strategy

log = logging.getLogger(__name__)


class TradingRows(Protocol):
    """Where the trading rows go to be recorded (`storage.trading_recorder.TradingRecorder`)."""

    def append_audit(self, records: Iterable[AuditRecord]) -> None: ...
    def append_orders(self, updates: Iterable[OrderUpdate]) -> None: ...
    def append_fills(self, fills: Iterable[Fill]) -> None: ...
    def append_funding(self, payments: Iterable[FundingPayment]) -> None: ...
    def append_trades(self, trades: Iterable[TradeRecord]) -> None: ...
    def append_equity_curve(self, curve: Reversible[EquityPoint]) -> None: ...
    def append_risk_changes(self, changes: Iterable[StateChange]) -> None: ...
    def append_refusal(
        self, ts_ns: int, intent: Intent, refused: Refused, state: TradingState
    ) -> None: ...


NS_PER_S: Final = 1_000_000_000
_RISK_TICK_NS: Final = 100_000_000
"""How often (event time) the risk engine's timers (acknowledgement timeouts) are checked."""
_BUSY: Final = frozenset(
    {
        MachineState.POSITION_ENTRY,
        MachineState.ENTRY_CANCEL_PENDING,
        MachineState.IN_POSITION,
        MachineState.POSITION_EXIT,
        MachineState.EXIT_CANCEL_PENDING,
    }
)
"""States in which the strategy (or the core) acts on every event of the symbol."""
_EXIT: Final = "x"
"""The kind letter of an exit's client id (an entry's is "e")."""
_SCANNING: Final = MachineState.SCANNING
_IDLE: Final = MachineState.IDLE


class _Top(NamedTuple):
    bid: float | None
    ask: float | None
    bid_qty: float
    ask_qty: float
    in_sync: bool


class Trader:
    """Runs a strategy over an engine's symbols through a risk engine and an execution client."""

    def __init__(
        self,
        engine: Engine,
        signals: SignalEngine,
        strategy: Strategy,
        execution: ExecutionClient,
        settings: TradingSettings,
        instruments: Mapping[str, Instrument],
        starting_equity: float,
        wall_clock: Callable[[], int] | None = None,
        feed_up: Callable[[], bool] = lambda: True,
        id_prefix: str = "",
        compiled_tap: bool = True,
    ) -> None:
        """`id_prefix` starts every client id (e.g. a per-start stamp, so that ids never repeat
        across restarts: a venue would take a repeated one for a duplicate). `compiled_tap`
        off hands every event to `on_event` (the tap's equivalence test compares both)."""
        self.engine = engine
        self.signals = signals
        self.strategy = strategy
        self.execution = execution
        self.settings = settings
        self.instruments = dict(instruments)
        self.wall_clock = wall_clock
        self.feed_up = feed_up
        self.audit = AuditLog.from_settings(settings)
        self.risk = RiskEngine(settings.risk)
        self.portfolio = Portfolio.from_settings(settings, starting_equity)
        self.symbols: dict[str, TradedSymbol] = {}
        self.orders: dict[str, Order] = {}
        """Open orders by client id (a finished one moves to `finished`)."""
        self.finished: deque[Order] = deque(maxlen=settings.trade_records)
        self.fills: deque[Fill] = deque(maxlen=settings.trade_records)
        self.funding: deque[FundingPayment] = deque(maxlen=settings.trade_records)
        self.errors: dict[str, int] = {}
        """Symbols halted by an error of the strategy or of the core, by kind."""
        self.clock = TraderClock()
        """Event time (`now_ns`) and when the risk timers and the equity sample are next due."""
        self.store: TradingStore | None = None
        """Set by `restore`: every order (before it is sent), position and account change is
        written through to it."""
        self.rows: TradingRows | None = None
        """Set to record every trading row (orders, fills and refusals as they happen; the
        journals' rows when `record()` is called)."""
        self._allowed = frozenset(settings.symbols) if settings.symbols else None
        self._requests: dict[str, OrderRequest] = {}
        """Requests of open orders, by client id: the decision mid of their fills."""
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        self._pending: list[ExecutionEvent] = []
        self._trading_state = TradingState.ACTIVE
        self._unknown_instruments: set[str] = set()
        self._refusal_backoff_ns = round(settings.refusal_backoff_s * NS_PER_S)
        execution.set_sink(self._pending.append)
        self._on_book = getattr(execution, "on_book", None)
        self._on_trades = getattr(execution, "on_trades", None)
        self._on_ticker = getattr(execution, "on_ticker", None)
        """The market data a simulated venue matches against (a real venue has its own)."""
        self._entry_gate = getattr(strategy, "entry_gate", None)
        self._engine_symbols = engine.symbols
        engine.add_tap(self._tap(compiled_tap))

    def _tap(self, compiled: bool) -> Callable[[object], None]:
        """What the engine calls with each event: the compiled tap, which settles quiet events
        itself (`trading/_tap.pyx`), unless `compiled` is off or the execution client takes
        market data the tap does not know how to settle (then `on_event` for every event)."""
        fast_path_state = getattr(self.execution, "fast_path_state", None)
        takes_market_data = (self._on_book, self._on_trades, self._on_ticker) != (None,) * 3
        if not compiled or (takes_market_data and fast_path_state is None):
            return self.on_event
        return TraderTap(self, self.execution if fast_path_state is not None else None)

    @property
    def now_ns(self) -> int:
        """Event time: the latest event's (or `advance_to`'s)."""
        return self.clock.now_ns

    # -- market events --------------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        """One market event, already applied by the engine (the engine's tap). Hot: every
        event of every symbol passes here, so the common path is a few attribute reads."""
        kind = type(event)
        if kind is BookUpdate:
            update: BookUpdate = event  # type: ignore[assignment]
            symbol = update.symbol
            entry = self.symbols.get(symbol) or self._admit(symbol)
            if entry is None:
                return
            ts = entry.book_ns = update.ts_event_ns
            if self._on_book is not None:
                state = self._engine_symbols[symbol]
                book = state.book
                if book.depth != update.depth:
                    book = state.book_for(update.depth)
                self._on_book(update, book)
                entry.broker_depth = update.depth  # the compiled tap's record of it
        elif kind is TradeBatch:
            batch: TradeBatch = event  # type: ignore[assignment]
            symbol = batch.symbol
            entry = self.symbols.get(symbol) or self._admit(symbol)
            if entry is None:
                return
            ts = batch.ts_event_ns
            if self._on_trades is not None:
                self._on_trades(batch)
        elif kind is TickerUpdate:
            ticker: TickerUpdate = event  # type: ignore[assignment]
            symbol = ticker.symbol
            entry = self.symbols.get(symbol) or self._admit(symbol)
            if entry is None:
                return
            ts = ticker.ts_event_ns
            if self._on_ticker is not None:
                self._on_ticker(ticker)
        else:
            return
        self.after_market_event(entry, symbol, ts)

    def after_market_event(self, entry: TradedSymbol, symbol: str, ts: int) -> None:
        """The rest of `on_event`, once the execution client has seen the event at `ts`: the
        venue's answers, the risk timers, the strategy, the equity sample."""
        if ts > self.clock.now_ns:
            self.clock.now_ns = ts
        ts = self.clock.now_ns
        if self._pending:
            self._drain()
        if ts >= self.clock.next_risk_ns:
            self._risk_tick(ts)
        state = entry.machine.state
        if state is _SCANNING:
            tracker = entry.tracker
            if tracker is None:
                tracker = entry.tracker = self.signals.trackers.get(symbol)
            if (
                tracker is not None
                and tracker.as_of_ns != entry.evaluated_ns
                and ts >= entry.quiet_until_ns
            ):
                entry.evaluated_ns = tracker.as_of_ns
                if self._entry_gate is None or self._entry_gate(tracker.score, tracker.confluence):
                    self._evaluate(entry, ts)
        elif state is not _IDLE:
            self._after_event(entry, symbol, state, ts)
        if ts >= self.clock.next_sample_ns:
            interval = self.portfolio.equity_interval_ns
            self.clock.next_sample_ns = ts - ts % interval + interval
            self.portfolio.sample(ts)

    def advance_to(self, ts_ns: int) -> None:
        """Event time reached `ts_ns` without a market event (a backtest's end, a timer)."""
        advance = getattr(self.execution, "advance_to", None)
        if advance is not None:
            advance(ts_ns)
        self.clock.now_ns = max(self.clock.now_ns, ts_ns)
        self._drain()
        self._risk_tick(self.clock.now_ns)
        self.portfolio.sample(self.clock.now_ns)

    def _admit(self, symbol: str) -> TradedSymbol | None:
        """A symbol's first event: trade it if allowed and its instrument is known."""
        if self._allowed is not None and symbol not in self._allowed:
            return None
        instrument = self.instruments.get(symbol)
        if instrument is None:
            if symbol not in self._unknown_instruments:
                self._unknown_instruments.add(symbol)
                log.warning("%s is not traded: no instrument (tick size, quantity step)", symbol)
            return None
        machine = SymbolMachine.from_settings(symbol, self.audit, self.settings.strategy)
        entry = self.symbols[symbol] = TradedSymbol(machine, instrument)
        ts = max(self.clock.now_ns, self.engine.clock_ns)
        if self._trading_state is TradingState.HALTED:
            machine.start(ts, self._inputs(entry, ts))
            machine.halt(ts, f"trading halted: {self.risk.state_reason}")
        else:
            machine.start(ts, self._inputs(entry, ts))
        return entry

    def _after_event(self, entry: TradedSymbol, symbol: str, state: MachineState, ts: int) -> None:
        """A symbol that is not scanning: cooling down, or with an order or a position."""
        machine = entry.machine
        if state is MachineState.COOLDOWN:
            machine.on_time(ts)
            state = machine.state
        if state in _BUSY:
            self._mark(symbol, ts)
            self._evaluate(entry, ts)

    def _mark(self, symbol: str, ts: int) -> None:
        if self.portfolio.position(symbol) == 0:
            return
        book = self.engine.symbols[symbol].book
        mid = book.mid() if book is not None else None
        if mid is not None:
            self.portfolio.mark(symbol, mid, ts)
            self.risk.on_equity(ts, self.portfolio.equity)
            self._follow_risk_state(ts)

    def _risk_tick(self, ts: int) -> None:
        self.clock.next_risk_ns = ts + _RISK_TICK_NS
        self.risk.on_time(ts)
        self.risk.on_equity(ts, self.portfolio.equity)
        self._follow_risk_state(ts)

    # -- the strategy ---------------------------------------------------------------------------

    def _evaluate(self, entry: TradedSymbol, ts: int) -> None:
        machine = entry.machine
        if machine.state is MachineState.ENTRY_CANCEL_PENDING:
            self._send_cancel(entry, ts, "entry cancel")
            return
        if machine.state in (MachineState.POSITION_EXIT, MachineState.EXIT_CANCEL_PENDING):
            return
        view = self.view(entry.machine.symbol, ts)
        if view is None:
            return
        try:
            decision = self.strategy.decide(view)
        except Exception as error:  # a strategy's bug halts its symbol, never the process
            self._symbol_error(entry, ts, "strategy", error)
            return
        if decision is not None:
            try:
                self._act(entry, view, decision, ts)
            except IllegalTransition as error:
                self._symbol_error(entry, ts, "transition", error)

    def view(self, symbol: str, ts: int | None = None) -> MarketView | None:
        """The strategy's view of `symbol` now (None for a symbol not traded)."""
        entry = self.symbols.get(symbol)
        if entry is None:
            return None
        ts = self.clock.now_ns if ts is None else ts
        top = self._top(symbol)
        tracker = self.signals.trackers.get(symbol)
        regimes = self.signals.regimes.get(symbol)
        machine = entry.machine
        position = machine.position
        sent = entry.order_sent_ns
        return MarketView(
            ts_ns=ts,
            symbol=symbol,
            bid=top.bid,
            ask=top.ask,
            bid_qty=top.bid_qty,
            ask_qty=top.ask_qty,
            in_sync=top.in_sync,
            tick_size=entry.tick_size,
            score=tracker.score if tracker is not None else None,
            direction=tracker.direction if tracker is not None else 0,
            confluence=tracker.confluence if tracker is not None else 0,
            regimes=(
                {name: regimes.machines[name].state for name in REGIMES}
                if regimes is not None
                else {}
            ),
            atr_bps=_atr_bps(regimes),
            state=machine.state,
            position=position,
            entry_price=self.portfolio.avg_entry_price(symbol) if position else None,
            entry_ns=entry.entry_ns,
            stop_price=machine.stop_price,
            take_profit=entry.take_profit,
            order_age_ns=None if sent is None or machine.order_id is None else ts - sent,
        )

    def _top(self, symbol: str) -> _Top:
        """The best levels of the symbol's book as the engine has it now."""
        book = self.engine.symbols[symbol].book
        if book is None:
            return _Top(None, None, 0.0, 0.0, False)
        bid, ask = book.best_bid(), book.best_ask()
        return _Top(
            bid[0] if bid else None,
            ask[0] if ask else None,
            bid[1] if bid else 0.0,
            ask[1] if ask else 0.0,
            book.in_sync,
        )

    def _act(self, entry: TradedSymbol, view: MarketView, decision: Decision, ts: int) -> None:
        machine = entry.machine
        symbol = machine.symbol
        if isinstance(decision, Enter):
            if machine.state is not MachineState.SCANNING:
                return
            inputs = self._inputs(entry, ts, view)
            machine.on_signal(ts, decision.side, decision.reason, inputs)
            intent = EnterIntent(
                client_id=self._client_id("e", symbol),
                symbol=symbol,
                side=decision.side,
                stop_price=decision.stop_price,
                order_type=decision.order_type,
                time_in_force=decision.time_in_force,
                price=decision.price,
                decided_ns=ts,
                decision_mid=view.mid,
                reason=decision.reason,
            )
            verdict = self._check(intent, entry, ts)
            if isinstance(verdict, Approved):
                assert verdict.stop_price is not None
                inputs = self._inputs(entry, ts, view, verdict.label)
                machine.on_entry_submitted(ts, verdict.request, verdict.stop_price, inputs)
                entry.take_profit = _on_tick(decision.take_profit, entry.instrument.tick_size)
                self._submit(entry, verdict.request, ts)
            else:
                machine.on_risk_refused(
                    ts, verdict.label, self._inputs(entry, ts, view, verdict.label)
                )
                entry.quiet_until_ns = ts + self._refusal_backoff_ns
        elif isinstance(decision, Exit):
            self._exit(entry, ts, decision.reason, decision, view)
        elif isinstance(decision, CancelEntry) and machine.state is MachineState.POSITION_ENTRY:
            machine.request_entry_cancel(ts, decision.reason, self._inputs(entry, ts, view))
            self._send_cancel(entry, ts, decision.reason)

    def _exit(
        self,
        entry: TradedSymbol,
        ts: int,
        reason: str,
        decision: Exit | None = None,
        view: MarketView | None = None,
    ) -> None:
        machine = entry.machine
        if machine.state is not MachineState.IN_POSITION:
            return
        decision = decision or Exit(reason=reason)
        intent = ExitIntent(
            client_id=self._client_id(_EXIT, machine.symbol),
            symbol=machine.symbol,
            order_type=decision.order_type,
            time_in_force=decision.time_in_force,
            price=decision.price,
            decided_ns=ts,
            decision_mid=view.mid if view is not None else None,
            reason=reason,
        )
        verdict = self._check(intent, entry, ts)
        if isinstance(verdict, Approved):
            inputs = self._inputs(entry, ts, view, verdict.label)
            machine.on_exit_submitted(ts, verdict.request, reason, inputs)
            self._submit(entry, verdict.request, ts)
        elif isinstance(verdict, Refused):
            log.debug("%s exit refused: %s", machine.symbol, verdict.label)

    def _send_cancel(self, entry: TradedSymbol, ts: int, reason: str) -> None:
        client_id = entry.machine.order_id
        if client_id is None or entry.cancel_sent == client_id:
            return
        intent = CancelIntent(
            client_id=client_id, symbol=entry.machine.symbol, decided_ns=ts, reason=reason
        )
        if isinstance(self._check(intent, entry, ts), CancelApproved):
            entry.cancel_sent = client_id
            self.execution.cancel(client_id, ts)

    def _check(
        self, intent: Intent, entry: TradedSymbol, ts: int
    ) -> Approved | CancelApproved | Refused:
        symbol = entry.machine.symbol
        top = self._top(symbol)
        context = RiskContext(
            ts_ns=ts,
            equity=self.portfolio.equity,
            instrument=entry.instrument,
            book=BookState(
                bid=top.bid, ask=top.ask, in_sync=top.in_sync, last_update_ns=entry.book_ns
            ),
            feed_up=self.feed_up(),
            positions=self.portfolio.exposures(),
            open_orders=tuple(self.orders.values()),
        )
        verdict = self.risk.check(intent, context)
        if isinstance(verdict, Refused):
            log.debug("%s: %s refused: %s", symbol, type(intent).__name__, verdict.label)
            if self.rows is not None:
                self.rows.append_refusal(ts, intent, verdict, self.risk.state)
        self._follow_risk_state(ts)
        return verdict  # type: ignore[return-value]

    def _submit(self, entry: TradedSymbol, request: OrderRequest, ts: int) -> None:
        if self.store is not None:
            self.store.order_sent(request, ts)  # write-ahead: never sent twice after a crash
        self._requests[request.client_id] = request
        self.orders[request.client_id] = Order(request=request, updated_ns=ts)
        entry.order_sent_ns = ts
        entry.cancel_sent = None
        self.execution.submit(request)
        self._drain()

    def _client_id(self, kind: str, symbol: str) -> str:
        return f"{self._id_prefix}{kind}{next(self._ids)}-{symbol}"[:36]

    def is_exit(self, client_id: str) -> bool:
        """Whether `client_id` is one of this trader's exit orders (ids: prefix, kind, n)."""
        return client_id.startswith(f"{self._id_prefix}{_EXIT}")

    # -- what the venue says --------------------------------------------------------------------

    def _drain(self) -> None:
        """Handle what the execution client delivered (it only queues: no re-entry)."""
        pending = self._pending
        while pending:
            events = pending[:]
            pending.clear()
            for event in events:
                self._on_execution(event)

    def _on_execution(self, event: ExecutionEvent) -> None:
        rows = self.rows
        if rows is not None:
            if type(event) is Fill:
                rows.append_fills((event,))  # type: ignore[arg-type]
            elif type(event) is OrderUpdate:
                rows.append_orders((event,))  # type: ignore[arg-type]
            else:
                rows.append_funding((event,))  # type: ignore[arg-type]
        if type(event) is Fill:
            self._on_fill(event)  # type: ignore[arg-type]
        elif type(event) is OrderUpdate:
            self._on_order(event)  # type: ignore[arg-type]
        elif type(event) is FundingPayment:
            payment: FundingPayment = event  # type: ignore[assignment]
            self.portfolio.apply_funding(payment)
            self.funding.append(payment)
            self._save_account(payment.ts_ns)

    def _on_fill(self, fill: Fill) -> None:
        ts = fill.ts_ns
        self.risk.on_fill(ts, fill)
        request = self._requests.get(fill.client_id)
        trade = self.portfolio.apply_fill(
            fill, decision_mid=request.decision_mid if request is not None else None
        )
        self.fills.append(fill)
        entry = self.symbols.get(fill.symbol)
        if entry is not None:
            was_flat = entry.machine.flat
            try:
                entry.machine.on_fill(ts, fill, self._inputs(entry, ts))
            except IllegalTransition as error:
                self._symbol_error(entry, ts, "transition", error)
            self._position_changed(entry, was_flat, ts)
        if trade is not None:
            self._on_trade(trade)
        if self.store is not None:
            self._save_position(fill.symbol, ts)
            self._save_account(ts)

    def _on_trade(self, trade: TradeRecord) -> None:
        self.risk.on_trade_closed(trade.exit_ns, trade.symbol, trade.net_pnl)
        entry = self.symbols.get(trade.symbol)
        until = self.risk.cooldown_until(trade.symbol)
        if entry is not None and until is not None:
            # the machine cools down as long as the risk engine would refuse the symbol
            machine = entry.machine
            machine.cooldown_until_ns = max(machine.cooldown_until_ns, until)
        log.log(
            logging.INFO if self.wall_clock is not None else logging.DEBUG,  # live / backtest
            "%s %s closed: %.6g -> %.6g, net %.2f (fees %.2f), held %.1fs",
            trade.symbol,
            "long" if trade.side > 0 else "short",
            trade.entry_price,
            trade.exit_price,
            trade.net_pnl,
            trade.fees,
            trade.holding_ns / NS_PER_S,
        )

    def _on_order(self, update: OrderUpdate) -> None:
        order = update.order
        client_id = order.client_id
        ts = update.ts_ns
        if client_id not in self.orders:
            return  # an update of a finished order (e.g. a cancel's reject): nothing to change
        self.risk.on_order_update(ts, order)
        entry = self.symbols.get(order.request.symbol)
        if order.open:
            self.orders[client_id] = order
        else:
            del self.orders[client_id]
            self._requests.pop(client_id, None)
            self.finished.append(order)
            if self.store is not None:
                self.store.order_finished(client_id, order.status.value, ts)
        if entry is not None:
            was_flat = entry.machine.flat
            try:
                entry.machine.on_order_update(ts, order, self._inputs(entry, ts))
            except IllegalTransition as error:
                self._symbol_error(entry, ts, "transition", error)
            if entry.machine.order_id is None:
                entry.order_sent_ns = None
            self._position_changed(entry, was_flat, ts)
        self._follow_risk_state(ts)

    @staticmethod
    def _position_changed(entry: TradedSymbol, was_flat: bool, ts: int) -> None:
        """A position opened (its time stop counts from now) or closed (no target left)."""
        flat = entry.machine.flat
        if was_flat and not flat:
            entry.entry_ns = ts
        elif flat and not was_flat:
            entry.take_profit = None

    # -- restart safety -------------------------------------------------------------------------

    def restore(self, store: TradingStore) -> None:
        """Before the first event: bring back the account and positions `store` kept, and write
        through to it from now on. Orders sent but never answered before the restart are not
        sent again: the paper venue ended with the last process, so they are marked lost."""
        for request in store.unfinished_orders():
            log.warning(
                "%s: order %s was sent before the restart and never answered: the paper venue"
                " ended with the process; it is not sent again",
                request.symbol,
                request.client_id,
            )
            store.order_finished(request.client_id, "lost", request.decided_ns)
        store.forget_finished_orders()
        account = store.account()
        positions = store.positions()
        if account is not None:
            self.portfolio.restore(
                account.realised,
                account.fees,
                account.funding,
                [(p.symbol, p.qty, p.avg_price, p.entry_ns) for p in positions],
            )
        for position in positions if account is not None else ():
            self._restore_position(position)
        self.store = store
        if account is None:
            self._save_account(0)
        elif positions or account.realised or account.fees:
            log.info(
                "restored: equity %.2f, %d positions (%s)",
                self.portfolio.equity,
                len(positions),
                ", ".join(f"{p.symbol} {p.qty:+g} @ {p.avg_price:g}" for p in positions),
            )

    def _restore_position(self, position: StoredPosition) -> None:
        restore = getattr(self.execution, "restore_position", None)
        if restore is not None:
            restore(position.symbol, position.qty)
        entry = self._admit(position.symbol)
        if entry is None:
            log.error("%s: a restored position of an untraded symbol", position.symbol)
            return
        ts, side = position.entry_ns, BUY if position.qty > 0 else SELL
        price = position.avg_price
        stop = position.stop_price or price * (1 - side * 0.01)
        machine = entry.machine
        reason = "restored after a restart"
        request = OrderRequest(
            client_id=f"restored-{position.symbol}"[:36],
            symbol=position.symbol,
            side=side,
            qty=abs(position.qty),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.GTC,
            price=price,
            decided_ns=ts,
            decision_mid=price,
        )
        machine.on_signal(ts, side, reason)
        machine.on_entry_submitted(ts, request, stop)
        machine.on_fill(
            ts,
            Fill(
                client_id=request.client_id,
                symbol=position.symbol,
                side=side,
                price=price,
                qty=request.qty,
                fee=0.0,
                liquidity=Liquidity.MAKER,
                ts_ns=ts,
            ),
        )
        entry.entry_ns = ts
        entry.take_profit = position.take_profit

    def _save_position(self, symbol: str, ts: int) -> None:
        assert self.store is not None
        entry = self.symbols.get(symbol)
        qty = self.portfolio.position(symbol)
        self.store.save_position(
            StoredPosition(
                symbol=symbol,
                qty=qty,
                avg_price=self.portfolio.avg_entry_price(symbol) or 0.0 if qty else 0.0,
                stop_price=entry.machine.stop_price if entry is not None else None,
                take_profit=entry.take_profit if entry is not None else None,
                entry_ns=entry.entry_ns if entry is not None else ts,
            )
        )

    def _save_account(self, ts: int) -> None:
        if self.store is None:
            return
        pnl = self.portfolio.pnl()
        self.store.save_account(
            StoredAccount(
                starting_equity=float(self.portfolio.starting_equity),
                realised=pnl.realised,
                fees=pnl.fees,
                funding=pnl.funding,
                updated_ns=ts,
            )
        )

    def record(self) -> None:
        """Hand the journals' new rows (audit, trades, risk changes, equity points) to `rows`:
        the runtime calls it a few times a second, a backtest at its end."""
        rows = self.rows
        if rows is None:
            return
        rows.append_audit(self.audit.drain())
        rows.append_trades(self.portfolio.trades.drain())
        rows.append_risk_changes(self.risk.changes.drain())
        rows.append_equity_curve(self.portfolio.equity_curve)

    # -- trading state and commands -------------------------------------------------------------

    def _follow_risk_state(self, ts: int) -> None:
        """The risk engine's state changed: halts wind every symbol down, a resume restarts."""
        state = self.risk.state
        if state is self._trading_state:
            return
        previous, self._trading_state = self._trading_state, state
        log.warning(
            "trading %s -> %s: %s", previous.name, state.name, self.risk.state_reason or "resumed"
        )
        if state is TradingState.HALTED:
            reason = f"trading halted: {self.risk.state_reason}"
            for entry in self.symbols.values():
                self._halt_symbol(entry, ts, reason)
            if self.settings.risk.flatten_on_halt:
                self.flatten(ts, reason)
        elif previous is TradingState.HALTED:
            for entry in self.symbols.values():
                self._resume_symbol(entry, ts, "trading resumed")

    def _halt_symbol(self, entry: TradedSymbol, ts: int, reason: str) -> None:
        machine = entry.machine
        if machine.halted:
            return
        machine.halt(ts, reason, self._inputs(entry, ts))
        if machine.state is MachineState.ENTRY_CANCEL_PENDING:
            self._send_cancel(entry, ts, reason)

    def _resume_symbol(self, entry: TradedSymbol, ts: int, reason: str) -> None:
        machine = entry.machine
        if not machine.halted or entry.machine.symbol in self.errors:
            return
        machine.resume(ts, reason, self._inputs(entry, ts))
        if machine.state is MachineState.IDLE:
            machine.start(ts, self._inputs(entry, ts))

    def halt(self, reason: str) -> None:
        """The kill switch: HALTED until `resume` (positions flattened if the settings say so)."""
        ts = self.clock.now_ns
        self.risk.halt(ts, reason)
        self._follow_risk_state(ts)

    def resume(self) -> TradingState:
        """Lift a manual or execution-health halt (the day's loss level stays)."""
        ts = self.clock.now_ns
        state = self.risk.resume(ts)
        self._follow_risk_state(ts)
        return state

    def flatten(self, ts: int | None = None, reason: str = "flatten") -> int:
        """Cancel every entry and close every position at market; returns the exits sent."""
        ts = self.clock.now_ns if ts is None else ts
        exits = 0
        for entry in self.symbols.values():
            machine = entry.machine
            if machine.state is MachineState.POSITION_ENTRY:
                machine.request_entry_cancel(ts, reason, self._inputs(entry, ts))
                self._send_cancel(entry, ts, reason)
            elif machine.state is MachineState.IN_POSITION:
                self._exit(entry, ts, reason)
                exits += machine.state is MachineState.POSITION_EXIT
        return exits

    def _symbol_error(self, entry: TradedSymbol, ts: int, kind: str, error: Exception) -> None:
        symbol = entry.machine.symbol
        self.errors[symbol] = self.errors.get(symbol, 0) + 1
        log.exception("%s halted: %s error: %s", symbol, kind, error, exc_info=error)
        if not entry.machine.halted:
            try:
                self._halt_symbol(entry, ts, f"{kind} error: {error}")
            except IllegalTransition:
                log.error("%s could not be halted from %s", symbol, entry.machine.state.name)

    # -- audit inputs ---------------------------------------------------------------------------

    def _inputs(
        self,
        entry: TradedSymbol,
        ts: int,
        view: MarketView | None = None,
        risk: str | None = None,
    ) -> DecisionInputs:
        book = None
        if view is not None and view.bid is not None and view.ask is not None:
            book = BookTop(bid=view.bid, ask=view.ask, bid_qty=view.bid_qty, ask_qty=view.ask_qty)
        return DecisionInputs(
            score=view.score if view is not None else None,
            regimes=view.regimes if view is not None else {},
            book=book,
            risk=risk,
            wall_ns=self.wall_clock() if self.wall_clock is not None else None,
        )

    # -- what the API reads ---------------------------------------------------------------------

    @property
    def trading_state(self) -> TradingState:
        return self.risk.state

    def machine_states(self) -> dict[str, str]:
        return {symbol: entry.machine.state.value for symbol, entry in self.symbols.items()}

    def take_profit(self, symbol: str) -> float | None:
        entry = self.symbols.get(symbol)
        return entry.take_profit if entry is not None else None


def _atr_bps(regimes: object | None) -> float | None:
    """ATR of 1m candles in bps, None while it warms up (or without 1m candles)."""
    atr = getattr(regimes, "atr", {}).get("1m") if regimes is not None else None
    return atr.bps if atr is not None else None


def _on_tick(price: float | None, tick_size: str) -> float | None:
    """`price` rounded to the nearest tick (the target is compared, never sent)."""
    if price is None:
        return None
    tick = Decimal(tick_size)
    return float((Decimal(repr(price)) / tick).to_integral_value() * tick)
