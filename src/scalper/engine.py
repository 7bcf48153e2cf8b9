"""The engine: routes events to per-symbol state and tells subscribers what happened.

Driven only by event timestamps: `clock_ns` is the latest venue time seen, and the one wall-clock
hook, `close_candles_until`, is called from the edge (the live feed's timer). The same events in
the same order therefore always give the same state. Venue-free: it takes our events
(`on_event`), and says what it needs from a venue in its own terms (`ResyncNeeded(symbol, depth)`),
which the venue adapter maps to its topics.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from scalper._event_tap import EventTap, EventTaps, TradeTap
from scalper._router import EventRouter
from scalper._symbol import Counters, RecentTrades, SymbolObserver, SymbolState
from scalper.aggregates import SymbolCounters
from scalper.book import ApplyResult, OrderBook
from scalper.candles import Candle
from scalper.events import Event, MalformedFrame, Trade
from scalper.settings import EngineSettings

__all__ = [
    "BookSyncChanged",
    "CandleClosed",
    "Counters",
    "Engine",
    "LargeTrade",
    "Notification",
    "RecentTrades",
    "ResyncNeeded",
    "Subscriber",
    "SymbolCounters",
    "SymbolObserver",
    "SymbolState",
    "TradeTap",
]

log = logging.getLogger(__name__)

_MAX_ERROR_KINDS: Final = 256
"""Distinct malformed-frame kinds remembered for log-once; wire.py produces about a dozen."""


class CandleClosed(msgspec.Struct, gc=False):
    symbol: str
    timeframe: str
    candle: Candle


class ResyncNeeded(msgspec.Struct, gc=False):
    """The book of `symbol` at `depth` may be wrong: the venue should send a fresh snapshot."""

    symbol: str
    depth: int
    reason: str


class BookSyncChanged(msgspec.Struct, gc=False):
    symbol: str
    state: str
    reason: str | None


class LargeTrade(msgspec.Struct, gc=False):
    trade: Trade
    side: int
    notional: float


Notification = CandleClosed | ResyncNeeded | BookSyncChanged | LargeTrade
Subscriber = Callable[[Notification], None]
ObserverFactory = Callable[[SymbolState], SymbolObserver]
"""Makes the per-event observer of a symbol's state (see `Engine.observe`)."""


class Engine(EventRouter):
    """Per-symbol books, flow, candles and tickers, fed with our events.

    `on_event(event)` comes from the compiled EventRouter (`_router.pyx`), as do `symbols`,
    `frames` and `clock_ns`, and `apply_book_columns` (a batch of rows whose book updates come
    as C arrays, the columnar replay's, with `column_tap()` as its tap); what is rare is
    handled here.
    """

    def __init__(self, config: EngineSettings | None = None) -> None:
        self.config = config or EngineSettings()
        self.malformed: dict[str, int] = {}
        """Malformed frames counted by kind."""
        self.large_trades: deque[LargeTrade] = deque(maxlen=self.config.recent_large_trades)
        self._subscribers: list[Subscriber] = []
        self._observer_factory: ObserverFactory | None = None
        self._taps: list[Callable[[Event], None]] = []
        self._logged_kinds: set[str] = set()

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call `subscriber` with every notification (closed candles, resyncs, large trades...).

        Subscribers run inline on the engine's path: they must be quick and must not raise.
        """
        self._subscribers.append(subscriber)

    def observe(self, factory: ObserverFactory) -> None:
        """Give every symbol, now and to come, the observer `factory(state)` makes: a compiled
        `SymbolObserver` that sees each of the symbol's events in C (the signals layer).

        Notifications (`subscribe`) are for what is rare; per-event consumers observe instead,
        as a Python call per event would cost more than the engine's own work. One factory.
        """
        if self._observer_factory is not None:
            raise RuntimeError("the engine already has an observer factory")
        self._observer_factory = factory
        for state in self.symbols.values():
            state.observer = factory(state)

    def add_tap(self, tap: Callable[[Event], None]) -> None:
        """Call `tap(event)` after the engine applied each event (the trading core, the
        footprints). Taps are bound when a feed or applier takes `entry()`: add them before
        building those. Compiled taps (`EventTap`, e.g. `TradeTap` around a Python callable
        for trade batches) keep the entry compiled; any other callable makes it Python."""
        self._taps.append(tap)

    @property
    def tapped(self) -> bool:
        """Whether something besides the engine must see every event (`add_tap`)."""
        return bool(self._taps)

    def entry(self) -> Callable[[Event], None]:
        """What feeds this engine: `on_event`, followed by the taps when there are any."""
        if not self._taps:
            return self.on_event
        on_event, taps = self.on_event, tuple(self._taps)
        compiled = self._compiled_taps(taps)
        if compiled is not None:  # no Python frame between the engine and its taps
            self.entry_tap = compiled
            return self.on_event_then_tap

        def apply_and_taps(event: Event) -> None:
            on_event(event)
            for tap in taps:
                tap(event)

        return apply_and_taps

    def column_tap(self) -> Callable[[Event], None] | None:
        """What `apply_book_columns` calls after each event it applies (its `tap`), as
        `entry()` does: None without taps, one `EventTap` when all of them are compiled, or
        a Python call of each in order."""
        taps = tuple(self._taps)
        if not taps:
            return None
        compiled = self._compiled_taps(taps)
        if compiled is not None:
            return compiled  # type: ignore[return-value]

        def all_taps(event: Event) -> None:
            for tap in taps:
                tap(event)

        return all_taps

    @staticmethod
    def _compiled_taps(taps: tuple[Callable[[Event], None], ...]) -> EventTap | None:
        """The taps as one `EventTap` when every one of them is compiled, else None."""
        if not all(isinstance(tap, EventTap) for tap in taps):
            return None
        return taps[0] if len(taps) == 1 else EventTaps(taps)  # type: ignore[return-value]

    def _on_other(self, event: Event) -> None:
        """A malformed frame (EventRouter.on_event's rare path)."""
        if type(event) is not MalformedFrame:
            raise TypeError(f"not an engine event: {type(event).__name__}")
        self._on_malformed(event)  # type: ignore[arg-type]

    def close_candles_until(self, ts_ns: int) -> None:
        """Close every candle that ended at or before `ts_ns` (the live feed's wall-clock hook)."""
        for state in self.symbols.values():
            for name, series in state.candles.items():
                self._publish_candles(state.symbol, name, series.close_until(ts_ns))

    def symbol(self, symbol: str) -> SymbolState:
        """The state of `symbol`, created empty on first use."""
        state = self.symbols.get(symbol)
        if state is None:
            state = self.symbols[symbol] = SymbolState(
                symbol, self.config, self._publish_candles, self._on_book_transition
            )
            if self._observer_factory is not None:
                state.observer = self._observer_factory(state)
        return state

    def _on_book_transition(
        self, state: SymbolState, book: OrderBook, result: ApplyResult, was_in_sync: bool
    ) -> None:
        """Count a snapshot, reset or loss of sync, and tell subscribers (SymbolState calls
        this from apply_book, before the candles the same event closes are published)."""
        counters = state.counters
        if result is ApplyResult.SNAPSHOT or result is ApplyResult.RESET:
            if result is ApplyResult.SNAPSHOT:
                counters.snapshots += 1
            else:
                counters.resets += 1
            if not was_in_sync and book.in_sync:
                self._notify(BookSyncChanged(state.symbol, book.state.value, None))
            return
        if result is ApplyResult.GAP:
            counters.gaps += 1
        elif result is ApplyResult.CROSSED:
            counters.crossed += 1
        else:
            counters.deltas_before_snapshot += 1
        self._request_resync(state, book, book.out_of_sync_reason or result.value)

    def _request_resync(self, state: SymbolState, book: OrderBook, reason: str) -> None:
        state.counters.resyncs_requested += 1
        self._notify(BookSyncChanged(state.symbol, book.state.value, reason))
        self._notify(ResyncNeeded(state.symbol, book.depth, reason))

    def _on_large_trades(self, large: list[tuple[Trade, int, float]]) -> None:
        for trade, side, notional in large:
            notification = LargeTrade(trade, side, notional)
            self.large_trades.append(notification)
            self._notify(notification)

    def _on_malformed(self, frame: MalformedFrame) -> None:
        kind = frame.kind
        self.malformed[kind] = self.malformed.get(kind, 0) + 1
        if kind not in self._logged_kinds and len(self._logged_kinds) < _MAX_ERROR_KINDS:
            self._logged_kinds.add(kind)
            log.warning(
                "malformed frame (%s): %s; sample: %s (logged once per kind; counted in health)",
                kind,
                frame.detail,
                frame.sample,
            )
        if frame.symbol is None:
            return
        state = self.symbols.get(frame.symbol)
        if state is None:
            return
        state.counters.malformed += 1
        if frame.book_depth is not None:
            book = state.books.get(frame.book_depth)
            reason = f"malformed book frame ({kind})"
            if book is not None and book.invalidate(reason):
                self._request_resync(state, book, reason)

    def _publish_candles(self, symbol: str, timeframe: str, closed: Sequence[Candle]) -> None:
        if not self._subscribers:
            return
        for candle in closed:
            self._notify(CandleClosed(symbol, timeframe, candle))

    def _notify(self, notification: Notification) -> None:
        for subscriber in self._subscribers:
            subscriber(notification)
