# cython: language_level=3, boundscheck=False, wraparound=False
"""The engine's per-event dispatch, compiled: `EventRouter`, the base class of `Engine`.

It counts an event, advances the engine clock and hands a market event to its symbol's
`SymbolState` in one C call. Everything rare (a symbol's first event, malformed frames, large
trades) goes to methods the Python subclass (`engine.Engine`) defines: `symbol`, `_on_other`
(malformed frames) and `_on_large_trades`. Venue-free: venue adapters decode their frames into
our events first.

`apply_book_columns` is the same dispatch for a batch of rows whose book updates come as
columns of numbers (a recording's, read back): no event object per book update.
"""

from scalper._book cimport OrderBook
from scalper._event_tap cimport EventTap
from scalper._symbol cimport SymbolState

from scalper.events import BookUpdate, TickerUpdate, TradeBatch

cdef object _BookUpdate = BookUpdate
cdef object _TradeBatch = TradeBatch
cdef object _TickerUpdate = TickerUpdate


cdef class EventRouter:
    """Routes events to per-symbol state; `symbols`, `frames` and `clock_ns` are its state."""

    cdef public dict symbols
    """Every symbol's state, by symbol."""
    cdef public long long frames
    """Events seen, malformed frames included."""
    cdef public long long clock_ns
    """The latest venue event time seen (ns): "now" for windows and metrics."""
    cdef public EventTap entry_tap
    """What `on_event_then_tap` calls after each event it applied (`Engine.entry` sets it
    to the engine's compiled taps)."""

    def __cinit__(self, *args, **kwargs):
        self.symbols = {}
        self.frames = 0
        self.clock_ns = 0
        self.entry_tap = None

    def on_event(self, event) -> None:
        """Apply one decoded event."""
        self._dispatch(event, None)

    def on_event_then_tap(self, event) -> None:
        """Apply one decoded event, then hand it to `entry_tap` in C, with no Python call in
        between: a book update is offered by the fields the dispatch read already
        (`EventTap.on_book_row`), and passed to `on` only when the tap asks for it."""
        self._dispatch(event, self.entry_tap)

    cdef void _dispatch(self, object event, EventTap tap) except *:
        cdef SymbolState state
        cdef long long ts
        self.frames += 1
        kind = type(event)
        if kind is _BookUpdate or kind is _TradeBatch or kind is _TickerUpdate:
            ts = event.ts_event_ns
            if ts > self.clock_ns:
                self.clock_ns = ts
            symbol = event.symbol
            found = self.symbols.get(symbol)
            state = found if found is not None else self.symbol(symbol)
            if kind is _BookUpdate:
                state._apply_book(event)
                if tap is not None and tap.on_book_row(symbol, event.depth, ts):
                    tap.on(event)
                return
            elif kind is _TradeBatch:
                large = state._apply_trades(event)
                if large is not None:
                    self._on_large_trades(large)
            else:
                state._apply_ticker(event)
        else:
            self._on_other(event)
        if tap is not None:
            tap.on(event)

    def apply_book_columns(
        self,
        const signed char[::1] book_row,
        const int[::1] topic_of_row,
        list topic_symbols,
        const long long[::1] topic_depths,
        const unsigned char[::1] is_snapshot,
        const long long[::1] update_id,
        const long long[::1] ts_event_ns,
        const long long[::1] bid_start,
        const long long[::1] bid_end,
        const double[::1] bid_prices,
        const double[::1] bid_sizes,
        const long long[::1] ask_start,
        const long long[::1] ask_end,
        const double[::1] ask_prices,
        const double[::1] ask_sizes,
        list others,
        object apply_other,
        bint books_only=False,
        object tap=None,
        object book_event=None,
    ) -> None:
        """Apply rows in order: row i is a book update given by columns where `book_row[i]`,
        else the next item of `others`: an event (applied as `on_event` applies it) or anything
        else, handed to `apply_other`.

        A book row's symbol and depth are its topic's (`topic_symbols[t]`, `topic_depths[t]`
        for t = `topic_of_row[i]`); its bids are `bid_prices[bid_start[i]:bid_end[i]]` with
        the sizes in `bid_sizes` alike, and its asks the same. Each book row counts as one
        event and does exactly what `on_event` does with the BookUpdate of the same fields.

        `books_only`: each book row goes to its book alone, as `OrderBook.apply` would take
        it (no counters, clock, candles or notifications), and every other item to
        `apply_other` (a replay's pre-roll: the books as they were at its start).

        `tap` (`Engine.column_tap`): what sees each event after it was applied, as the taps
        of `Engine.entry` do; `apply_other` must tap what it applies itself. A book row's
        event is `book_event(i)`, made only when the tap needs it: an `EventTap` is offered
        the row's symbol, depth and time first (`EventTap.on_book_row`); any other tap is
        called with the event."""
        cdef SymbolState state
        cdef OrderBook book
        cdef Py_ssize_t i, t, b, a, n = book_row.shape[0]
        cdef Py_ssize_t other = 0
        cdef long long ts
        cdef dict symbols = self.symbols
        cdef const double* no_levels = NULL
        cdef EventTap fast_tap = tap if isinstance(tap, EventTap) else None
        cdef object slow_tap = tap if fast_tap is None else None
        if tap is not None and book_event is None and not books_only:
            raise ValueError("a tap needs book_event to make a book row's event")
        for i in range(n):
            if not book_row[i]:
                item = others[other]
                other += 1
                kind = type(item)
                if books_only:
                    apply_other(item)
                elif kind is _TradeBatch or kind is _TickerUpdate or kind is _BookUpdate:
                    self._dispatch(item, fast_tap)
                    if slow_tap is not None:
                        slow_tap(item)
                else:
                    apply_other(item)
                continue
            ts = ts_event_ns[i]
            t = topic_of_row[i]
            symbol = topic_symbols[t]
            found = symbols.get(symbol)
            state = found if found is not None else self.symbol(symbol)
            b = bid_start[i]
            a = ask_start[i]
            if books_only:
                book = state.book_for(topic_depths[t])
                book._apply_arrays(
                    is_snapshot[i],
                    update_id[i],
                    ts,
                    &bid_prices[b] if bid_end[i] > b else no_levels,
                    &bid_sizes[b] if bid_end[i] > b else no_levels,
                    bid_end[i] - b,
                    &ask_prices[a] if ask_end[i] > a else no_levels,
                    &ask_sizes[a] if ask_end[i] > a else no_levels,
                    ask_end[i] - a,
                )
                continue
            self.frames += 1
            if ts > self.clock_ns:
                self.clock_ns = ts
            state._apply_book_arrays(
                topic_depths[t],
                is_snapshot[i],
                update_id[i],
                ts,
                &bid_prices[b] if bid_end[i] > b else no_levels,
                &bid_sizes[b] if bid_end[i] > b else no_levels,
                bid_end[i] - b,
                &ask_prices[a] if ask_end[i] > a else no_levels,
                &ask_sizes[a] if ask_end[i] > a else no_levels,
                ask_end[i] - a,
            )
            if fast_tap is not None:
                if fast_tap.on_book_row(symbol, topic_depths[t], ts):
                    fast_tap.on(book_event(i))
            elif slow_tap is not None:
                slow_tap(book_event(i))
