# cython: language_level=3
"""The engine's per-event dispatch, compiled: `EventRouter`, the base class of `Engine`.

It counts an event, advances the engine clock and hands a market event to its symbol's
`SymbolState` in one C call. Everything rare (a symbol's first event, malformed frames, large
trades) goes to methods the Python subclass (`engine.Engine`) defines: `symbol`, `_on_other`
(malformed frames) and `_on_large_trades`. Venue-free: venue adapters decode their frames into
our events first.
"""

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

    def __cinit__(self, *args, **kwargs):
        self.symbols = {}
        self.frames = 0
        self.clock_ns = 0

    def on_event(self, event) -> None:
        """Apply one decoded event."""
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
            elif kind is _TradeBatch:
                large = state._apply_trades(event)
                if large is not None:
                    self._on_large_trades(large)
            else:
                state._apply_ticker(event)
        else:
            self._on_other(event)
