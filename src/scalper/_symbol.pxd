# C-level interface of scalper._symbol.

from cpython.object cimport PyObject

from scalper._book cimport OrderBook
from scalper._flow cimport TradeFlow
from scalper._tickers cimport TickerState


cdef class Counters:
    cdef public long long frames
    cdef public long long book_frames
    cdef public long long trade_frames
    cdef public long long ticker_frames
    cdef public long long trades
    cdef public long long snapshots
    cdef public long long resets
    cdef public long long gaps
    cdef public long long crossed
    cdef public long long deltas_before_snapshot
    cdef public long long ignored_deltas
    cdef public long long malformed
    cdef public long long resyncs_requested
    cdef public long long large_trades


cdef enum:
    TRADE_ID_CHARS = 40  # an ASCII trade id up to this long is kept in its row (Bybit's: 36)


cdef struct TradeRow:
    double price
    double size
    long long ts_event_ns
    long long recv_ns
    long side
    bint is_block_trade
    signed char id_length  # -1: the id is the object `trade_id`
    unsigned char tick  # 0: None, k: the k-th tick direction seen, 255: the object `tick_direction`
    char id_chars[TRADE_ID_CHARS]
    PyObject* trade_id  # NULL unless id_length is -1
    PyObject* tick_direction  # NULL unless tick is 255


cdef class RecentTrades:
    cdef TradeRow* _rows
    cdef Py_ssize_t _maxlen
    cdef Py_ssize_t _head
    cdef Py_ssize_t _len
    cdef Py_ssize_t _holding
    cdef readonly str symbol

    cdef void _extend(self, list trades) except *
    cdef object _trade(self, Py_ssize_t position)
    cdef void _release(self, TradeRow* row) noexcept


cdef class SymbolObserver:
    cdef readonly long long as_of_ns
    cdef void on_time(self, long long ts_ns) except *
    cdef void on_book(self, OrderBook book, object result) except *
    cdef void on_trades(self, list trades, list sides) except *


cdef class SymbolState:
    # Declaration order is memory order: what a book event touches first.
    cdef public OrderBook book
    cdef readonly Counters counters
    cdef public SymbolObserver observer
    cdef public long long last_event_ns
    cdef readonly tuple _series
    cdef bint _ofi_primed
    cdef double _bid_price
    cdef double _bid_size
    cdef double _ask_price
    cdef double _ask_size
    cdef readonly TradeFlow flow
    cdef readonly RecentTrades recent_trades
    cdef readonly TickerState ticker
    cdef readonly dict books
    cdef readonly dict candles
    cdef readonly str symbol
    cdef object _on_candles
    cdef object _on_book_transition

    cdef object _apply_book(self, object update)
    cdef object _apply_book_arrays(
        self,
        Py_ssize_t depth,
        bint is_snapshot,
        long long update_id,
        long long ts,
        const double* bid_prices,
        const double* bid_sizes,
        Py_ssize_t bid_count,
        const double* ask_prices,
        const double* ask_sizes,
        Py_ssize_t ask_count,
    )
    cdef OrderBook _book_event(self, long long ts, Py_ssize_t depth)
    cdef object _book_applied(self, OrderBook book, object result, bint was_in_sync, long long ts)
    cdef object _apply_trades(self, object batch)
    cdef void _apply_ticker(self, object update) except *
    cdef void _advance(self, long long ts) noexcept
    cdef double _ofi_update(self, OrderBook book) noexcept
    cdef void _publish(self, str name, object closed) except *
