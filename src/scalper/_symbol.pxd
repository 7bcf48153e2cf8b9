# C-level interface of scalper._symbol.

from scalper._book cimport OrderBook
from scalper._flow cimport TradeFlow


cdef class SymbolState:
    cdef readonly str symbol
    cdef readonly dict books
    cdef public OrderBook book
    cdef readonly dict candles
    cdef readonly tuple _series
    cdef readonly TradeFlow flow
    cdef readonly object ticker
    cdef readonly object counters
    cdef readonly object recent_trades
    cdef public long long last_event_ns
    cdef object _on_candles
    cdef object _on_book_transition
    cdef bint _ofi_primed
    cdef double _bid_price
    cdef double _bid_size
    cdef double _ask_price
    cdef double _ask_size

    cdef double _ofi_update(self, OrderBook book) noexcept
    cdef void _publish(self, str name, object closed) except *
