# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Book factors read straight from the engine's C book arrays (compiled; no Python object per
level). Callers pass a book that has both sides; each function states its cost.

Imbalances are signed, (bid - ask) / (bid + ask) = 2 * ratio - 1 of the engine's
`metrics.ratio`, over the same parts of the book as `metrics.imbalance` (top N levels,
within X bps of the mid as `OrderBook.size_within_bps` counts them), 0 when both are empty.
"""

from libc.math cimport NAN, fabs

from scalper._book cimport BookSide, OrderBook


cdef void read_levels(OrderBook book, Levels* out) noexcept:
    """The best OFI_LEVELS levels of each side (fewer if the side has fewer). O(levels)."""
    cdef BookSide bids = book.bids, asks = book.asks
    cdef Py_ssize_t i
    out.bids = bids._len if bids._len < OFI_LEVELS else OFI_LEVELS
    out.asks = asks._len if asks._len < OFI_LEVELS else OFI_LEVELS
    for i in range(out.bids):
        out.bid_price[i] = -bids._levels[i].key
        out.bid_size[i] = bids._levels[i].size
    for i in range(out.asks):
        out.ask_price[i] = asks._levels[i].key
        out.ask_size[i] = asks._levels[i].size


cdef void level_ofi(const Levels* before, const Levels* after, double* out) noexcept:
    """Order-flow imbalance of level m between two book states, m = 0..OFI_LEVELS-1.

    Xu, Gould and Howison (2019), eq. 3, the m-th best level's version of Cont, Kukanov and
    Stoikov (2014): e = q_b 1{P_b >= P_b'} - q_b' 1{P_b <= P_b'} - q_a 1{P_a <= P_a'}
    + q_a' 1{P_a >= P_a'}, primes the state before. A side missing level m in either state adds
    nothing at that level. Level 0 is the engine's best-level OFI (SymbolState._ofi_update).
    """
    cdef Py_ssize_t m
    cdef double e
    for m in range(OFI_LEVELS):
        e = 0.0
        if m < before.bids and m < after.bids:
            if after.bid_price[m] >= before.bid_price[m]:
                e += after.bid_size[m]
            if after.bid_price[m] <= before.bid_price[m]:
                e -= before.bid_size[m]
        if m < before.asks and m < after.asks:
            if after.ask_price[m] <= before.ask_price[m]:
                e -= after.ask_size[m]
            if after.ask_price[m] >= before.ask_price[m]:
                e += before.ask_size[m]
        out[m] = e


cdef inline double _signed(double bid, double ask) noexcept:
    cdef double total = bid + ask
    return (bid - ask) / total if total > 0.0 else 0.0


cdef double top_imbalance(OrderBook book, Py_ssize_t n) noexcept:
    """Signed imbalance of the best `n` levels. O(n)."""
    return _signed(book.bids._total_size(n), book.asks._total_size(n))


cdef double band_imbalance(OrderBook book, double bps) noexcept:
    """Signed imbalance of the sizes within `bps` of the mid. O(log depth + levels in band)."""
    cdef BookSide bids = book.bids, asks = book.asks
    cdef double mid = (asks._levels[0].key - bids._levels[0].key) / 2.0
    cdef double offset = mid * bps / 10_000.0
    return _signed(
        bids._total_size(bids._count_at_or_better(mid - offset)),
        asks._total_size(asks._count_at_or_better(mid + offset)),
    )


cdef inline double _spread(OrderBook book) noexcept:
    return book.asks._levels[0].key + book.bids._levels[0].key


cdef double smallest_gap(OrderBook book, Py_ssize_t levels) noexcept:
    """The smallest positive price step between adjacent levels among the best `levels` of
    each side and across the spread: an upper bound of the tick size. O(levels)."""
    cdef BookSide side
    cdef double gap = _spread(book), step
    cdef Py_ssize_t i, n
    for side in (book.bids, book.asks):
        n = side._len if side._len < levels else levels
        for i in range(1, n):
            step = side._levels[i].key - side._levels[i - 1].key
            if 0.0 < step < gap:
                gap = step
    return gap



cdef void _side_wall(
    BookSide side, Py_ssize_t levels, double multiple, double mid, double* scratch,
    double* distance_bps, double* relative
) noexcept:
    cdef Py_ssize_t i, n = side._len if side._len < levels else levels
    cdef double median, price
    distance_bps[0] = NAN
    relative[0] = NAN
    if n < 3:
        return
    for i in range(n):
        scratch[i] = side._levels[i].size
    median = median_of(scratch, n)
    if median <= 0.0:
        return
    for i in range(n):
        if side._levels[i].size >= multiple * median:
            price = side._levels[i].key
            distance_bps[0] = fabs(fabs(price) - mid) / mid * 10_000.0
            relative[0] = side._levels[i].size / median
            return


cdef void nearest_walls(
    OrderBook book, Py_ssize_t levels, double multiple, double* scratch, Walls* out
) noexcept:
    """The nearest level of each side, among its best `levels`, whose size is at least
    `multiple` times the median of those levels' sizes: distance from the mid in bps and size
    over the median (NaN when there is none). `scratch` holds `levels` doubles. O(levels)."""
    cdef double mid = (book.asks._levels[0].key - book.bids._levels[0].key) / 2.0
    _side_wall(
        book.bids, levels, multiple, mid, scratch, &out.bid_distance_bps, &out.bid_relative
    )
    _side_wall(
        book.asks, levels, multiple, mid, scratch, &out.ask_distance_bps, &out.ask_relative
    )


cdef double median_of(double* values, Py_ssize_t n) noexcept:
    """The median of `values[0:n]` (n > 0), reordering them: quickselect, O(n) on average;
    the mean of the two middle values when n is even."""
    cdef Py_ssize_t k = n // 2
    cdef double upper = _select(values, n, k), lower
    if n % 2:
        return upper
    lower = values[0]
    cdef Py_ssize_t i
    for i in range(1, k):
        if values[i] > lower:
            lower = values[i]
    return (lower + upper) / 2.0


cdef double _select(double* values, Py_ssize_t n, Py_ssize_t k) noexcept:
    """The k-th smallest of values[0:n] (Hoare's selection); afterwards values[0:k] hold the k
    smaller ones (in any order)."""
    cdef Py_ssize_t lo = 0, hi = n - 1, i, j
    cdef double pivot, swap
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                swap = values[i]
                values[i] = values[j]
                values[j] = swap
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return values[k]


def _median_for_tests(values) -> float:
    """median_of on a copy of `values` (tests compare it with statistics.median)."""
    from array import array
    cdef double[:] copy = array("d", values)
    return median_of(&copy[0], len(copy))


def _level_ofi_for_tests(OrderBook before, OrderBook after) -> list:
    """level_ofi between two books' best OFI_LEVELS levels (tests compare it with the formula)."""
    cdef Levels a, b
    cdef double out[OFI_LEVELS]
    read_levels(before, &a)
    read_levels(after, &b)
    level_ofi(&a, &b, out)
    return [out[m] for m in range(OFI_LEVELS)]
