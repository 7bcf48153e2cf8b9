# cython: language_level=3
"""What sees every event after the engine applied it, compiled: the base of a compiled tap.

`Engine.add_tap` takes any callable; one that is an `EventTap` is called in C, by the engine's
entry (`EventRouter.on_event_then_tap`) and by `EventRouter.apply_book_columns`. Both offer a
book update first by its symbol, depth and event time (`on_book_row`), and call `on` with its
`BookUpdate` only when the tap asks for it (a columnar row has no event object until then). So
a tap that settles most book updates from those three fields reads no event attribute and, in a
columnar replay, costs no event per update. Several compiled taps run as one (`EventTaps`), and
a Python callable that wants only trade batches runs as a compiled tap (`TradeTap`), so the
engine's entry stays compiled with all of them.
"""

from scalper.events import TradeBatch


cdef class EventTap:
    """A tap the engine calls in C. Subclasses (Cython) override both methods."""

    cdef int on(self, object event) except -1:
        """One event, already applied by the engine."""
        return 0

    cdef int on_book_row(self, str symbol, long long depth, long long ts) except -1:
        """A book update of `symbol`'s book of `depth` at venue time `ts`, already applied:
        0 when settled here, 1 when `on` must be called with its `BookUpdate` (then nothing
        was changed here)."""
        return 1

    def __call__(self, event: object) -> None:
        self.on(event)


cdef class TradeTap(EventTap):
    """A tap for trade batches only (the footprints): `on_trades(batch)` for each `TradeBatch`,
    called in C; every other event and every book row is settled here, doing nothing."""

    cdef object on_trades

    def __init__(self, object on_trades) -> None:
        self.on_trades = on_trades

    cdef int on(self, object event) except -1:
        if type(event) is TradeBatch:
            self.on_trades(event)
        return 0

    cdef int on_book_row(self, str symbol, long long depth, long long ts) except -1:
        return 0


cdef class EventTaps(EventTap):
    """Several compiled taps as one, called in order. A book row is offered to each; when some
    of them ask for its event, `on` with that event goes to those alone."""

    cdef tuple taps
    cdef list asked
    """The taps that asked for the event of the book row just offered (empty otherwise)."""

    def __init__(self, taps: tuple) -> None:
        for tap in taps:
            if not isinstance(tap, EventTap):
                raise TypeError(f"not an EventTap: {type(tap).__name__}")
        self.taps = tuple(taps)
        self.asked = []

    cdef int on(self, object event) except -1:
        cdef EventTap tap
        cdef list asked = self.asked
        if asked:  # the event of the book row offered last
            self.asked = []
            for tap in asked:
                tap.on(event)
            return 0
        for tap in self.taps:
            tap.on(event)
        return 0

    cdef int on_book_row(self, str symbol, long long depth, long long ts) except -1:
        cdef EventTap tap
        for tap in self.taps:
            if tap.on_book_row(symbol, depth, ts):
                self.asked.append(tap)
        return 1 if self.asked else 0
