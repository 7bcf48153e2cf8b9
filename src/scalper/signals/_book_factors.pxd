# C-level interface of scalper.signals._book_factors, for the tracker (cimport).

from scalper._book cimport OrderBook

cdef enum:
    OFI_LEVELS = 5


cdef struct Levels:
    double bid_price[OFI_LEVELS]
    double bid_size[OFI_LEVELS]
    double ask_price[OFI_LEVELS]
    double ask_size[OFI_LEVELS]
    Py_ssize_t bids
    Py_ssize_t asks


cdef struct Walls:
    double bid_distance_bps
    double bid_relative
    double ask_distance_bps
    double ask_relative


cdef void read_levels(OrderBook book, Levels* out) noexcept
cdef void level_ofi(const Levels* before, const Levels* after, double* out) noexcept
cdef double top_imbalance(OrderBook book, Py_ssize_t n) noexcept
cdef double band_imbalance(OrderBook book, double bps) noexcept
cdef double smallest_gap(OrderBook book, Py_ssize_t levels) noexcept
cdef void nearest_walls(
    OrderBook book, Py_ssize_t levels, double multiple, double* scratch, Walls* out
) noexcept
cdef double median_of(double* values, Py_ssize_t n) noexcept
