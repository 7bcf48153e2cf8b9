# C-level interface of scalper._flow, for the other compiled modules (cimport).

cdef struct Bucket:
    long long start
    double buy_volume
    double sell_volume
    long long buy_count
    long long sell_count
    double buy_notional
    double sell_notional


cdef class TradeFlow:
    # Declaration order is memory order: what every trade touches first.
    cdef Bucket* _buckets
    cdef readonly long long bucket_ns
    cdef readonly Py_ssize_t capacity
    cdef double _last_price
    cdef long _last_side
    cdef bint _has_last_price
    cdef bint _has_newest
    cdef long long _newest
    cdef public long long trade_count
    cdef public long long unclassified_trades
    cdef Bucket _totals
    cdef public double large_trade_notional
    cdef readonly long long max_span_ns

    cdef Py_ssize_t _slot(self, long long start_ns) noexcept
    cdef long _tick_rule(self, double price) noexcept
    cdef long _add(self, object trade) except? -2
    cdef list _add_batch(self, list trades)
