# C-level interface of scalper._candles, for the other compiled modules (cimport).

cdef struct Summary:
    long long first_ts_ns
    long long last_ts_ns
    double open
    double high
    double low
    double close
    double volume
    double turnover
    double buy_volume
    double sell_volume
    double buy_turnover
    double sell_turnover
    Py_ssize_t count
    bint ordered


cdef Summary summarize_c(list trades, list sides) except *


cdef class CandleSeries:
    # Declaration order is memory order: what every event touches comes first (one cache line
    # after the object header), the forming candle next, the rest last.
    cdef bint _started
    cdef bint _forming
    cdef readonly long long interval_ns
    cdef long long _open_start
    cdef double _f_ofi
    cdef long long _f_trades
    cdef double _f_close
    cdef double _f_high
    cdef double _f_low
    cdef double _f_volume
    cdef double _f_turnover
    cdef double _f_buy_volume
    cdef double _f_sell_volume
    cdef double _f_buy_turnover
    cdef double _f_sell_turnover
    cdef double _f_open
    cdef long long _f_start
    cdef double _last_close
    cdef readonly Py_ssize_t history
    cdef readonly object closed
    cdef public long long late_trades
    cdef public long long late_ofi

    cdef object _close_until(self, long long ts_ns)
    cdef void _open_forming(self, long long start_ns, double price) noexcept
    cdef object _add_trade(self, long long ts_ns, double price, double size, long side)
    cdef object _add_batch(self, list trades, list sides, const Summary* summary)
    cdef object _add_ofi(self, long long ts_ns, double value)
    cdef object _add_each(self, list trades, list sides)
