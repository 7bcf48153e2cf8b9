# C-level interface of scalper._tickers, for the other compiled modules (cimport).

cdef enum:
    TICKER_FLOATS = 16


cdef class TickerState:
    cdef double _values[TICKER_FLOATS]
    cdef bint _present[TICKER_FLOATS]
    cdef object _next_funding_time_ms
    cdef public long long ts_event_ns
    cdef public long long updates

    cdef void _apply(self, object update) except *
