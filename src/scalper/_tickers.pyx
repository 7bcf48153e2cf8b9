# cython: language_level=3, boundscheck=False, wraparound=False
"""The last known ticker of one symbol: snapshots replace it, deltas merge into it (compiled).

Bybit derivatives tickers send a snapshot, then deltas that carry only the fields that changed
(/docs/v5/websocket/public/ticker); spot sends snapshots only. The merged values live in C
arrays inside the TickerState (no float object per field kept), and `fields` reads them as a
new TickerFields.
"""

from msgspec.structs import astuple

from scalper.events import TickerFields

_FIELDS = TickerFields.__struct_fields__
assert _FIELDS[TICKER_FLOATS:] == ("next_funding_time_ms",), _FIELDS
"""16 float fields, then the one integer field; the C arrays below follow this order."""


cdef class TickerState:
    """Merged ticker values of one symbol."""

    def __init__(self):
        cdef Py_ssize_t i
        for i in range(TICKER_FLOATS):
            self._present[i] = False
            self._values[i] = 0.0
        self._next_funding_time_ms = None
        self.ts_event_ns = 0
        self.updates = 0

    @property
    def fields(self) -> TickerFields:
        """The merged values as a new TickerFields (None for a field never received)."""
        cdef Py_ssize_t i
        return TickerFields(
            *[self._values[i] if self._present[i] else None for i in range(TICKER_FLOATS)],
            self._next_funding_time_ms,
        )

    def apply(self, update) -> None:
        """Replace on a snapshot; on a delta, take only the fields the delta carries."""
        self._apply(update)

    cdef void _apply(self, object update) except *:
        cdef tuple values = astuple(update.fields)
        cdef Py_ssize_t i
        cdef bint snapshot = update.is_snapshot
        for i in range(TICKER_FLOATS):
            value = values[i]
            if value is not None:
                self._values[i] = value
                self._present[i] = True
            elif snapshot:
                self._present[i] = False
        value = values[TICKER_FLOATS]
        if value is not None or snapshot:
            self._next_funding_time_ms = value
        self.ts_event_ns = update.ts_event_ns
        self.updates += 1
