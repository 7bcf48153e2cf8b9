# C-level interface of scalper._book, for the other compiled modules (cimport).

cdef struct Slot:
    double key
    double size


cdef class BookSide:
    cdef Slot* _levels
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap
    cdef double _sign
    cdef readonly bint is_bid

    cdef void _grow(self) except *
    cdef void _upsert(self, double price, double size) except *
    cdef void _delete(self, double price) noexcept
    cdef void _apply(self, list levels) except *
    cdef void _replace(self, list levels) except *
    cdef void _apply_arrays(self, const double* prices, const double* sizes, Py_ssize_t n) except *
    cdef void _replace_arrays(
        self, const double* prices, const double* sizes, Py_ssize_t n
    ) except *
    cdef Py_ssize_t _trim(self, Py_ssize_t depth)
    cdef Py_ssize_t _count_at_or_better(self, double price)
    cdef double _total_size(self, Py_ssize_t n)


cdef class OrderBook:
    # Declaration order is memory order: what every update touches first.
    cdef public object state
    cdef readonly BookSide bids
    cdef readonly BookSide asks
    cdef public long long update_id
    cdef public long long ts_event_ns
    cdef readonly Py_ssize_t depth
    cdef public long long trimmed_levels
    cdef readonly str symbol
    cdef public object out_of_sync_reason

    cdef object _apply(self, object update)
    cdef object _apply_arrays(
        self,
        bint is_snapshot,
        long long update_id,
        long long ts_event_ns,
        const double* bid_prices,
        const double* bid_sizes,
        Py_ssize_t bid_count,
        const double* ask_prices,
        const double* ask_sizes,
        Py_ssize_t ask_count,
    )
    cdef object _admit(self, bint is_snapshot, long long update_id)
    cdef object _settle(self, object result, long long update_id, long long ts_event_ns)
    cdef object _lose_sync(self, object result, str reason)
