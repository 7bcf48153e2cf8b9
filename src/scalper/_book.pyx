# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""A depth-limited L2 order book kept in sync with a venue's snapshot/delta stream (compiled).

Each side keeps one C array of (sort key, size) pairs, with index 0 the best level: the key is the
price for asks and the negated price for bids, so both sides are ascending. An update costs a
binary search and, for an inserted or deleted level, a memmove of at most `depth` pairs: no sort
per update and no Python object per level. One array rather than one per field: the engine
touches a side's first cache line on every frame, and a cold symbol's book costs one miss less.
`bench/book_structures.py` compares it with sortedcontainers.SortedDict and a dict sorted on
demand for 50-1000 levels; see the README.

Sync rules (Bybit v5, /docs/v5/websocket/public/orderbook): a snapshot replaces the book; a delta
must carry update id `u` = last `u` + 1, otherwise the book is out of sync and ignores deltas
until the next snapshot; a frame with `u` = 1 (service restart) replaces the book like a
snapshot. A crossed book after any update is out of sync too.
"""

import enum

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memmove


class SyncState(enum.Enum):
    """Whether the book can be served as a true copy of the venue's book."""

    AWAITING_SNAPSHOT = "awaiting_snapshot"
    IN_SYNC = "in_sync"
    OUT_OF_SYNC = "out_of_sync"


class ApplyResult(enum.Enum):
    """What one update did to the book. The three last members are out-of-sync events."""

    APPLIED = "applied"
    SNAPSHOT = "snapshot"
    RESET = "reset"
    IGNORED = "ignored"
    GAP = "gap"
    CROSSED = "crossed"
    NO_SNAPSHOT = "no_snapshot"


OUT_OF_SYNC_EVENTS = frozenset({ApplyResult.GAP, ApplyResult.CROSSED, ApplyResult.NO_SNAPSHOT})

# C-level references to the members the hot path returns and compares (no module dict lookup).
cdef object _AWAITING = SyncState.AWAITING_SNAPSHOT
cdef object _IN_SYNC = SyncState.IN_SYNC
cdef object _OUT_OF_SYNC = SyncState.OUT_OF_SYNC
cdef object _APPLIED = ApplyResult.APPLIED
cdef object _SNAPSHOT = ApplyResult.SNAPSHOT
cdef object _RESET = ApplyResult.RESET
cdef object _IGNORED = ApplyResult.IGNORED
cdef object _GAP = ApplyResult.GAP
cdef object _CROSSED = ApplyResult.CROSSED
cdef object _NO_SNAPSHOT = ApplyResult.NO_SNAPSHOT

cdef Py_ssize_t _INITIAL_CAPACITY = 64
"""Levels a side holds before its arrays first grow (they double; depth + one update's inserts
is the most a side ever holds)."""


cdef inline Py_ssize_t _lower_bound(const Slot* levels, Py_ssize_t n, double key) noexcept:
    """First index whose key is >= `key` (n if none)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if levels[mid].key < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _upper_bound(const Slot* levels, Py_ssize_t n, double key) noexcept:
    """First index whose key is > `key` (n if none)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if levels[mid].key <= key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef class BookSide:
    """One side of the book: levels ordered best first, in one C array of (key, size)."""

    def __cinit__(self, bint is_bid):
        self.is_bid = is_bid
        self._sign = -1.0 if is_bid else 1.0
        self._len = 0
        self._cap = _INITIAL_CAPACITY
        self._levels = <Slot*>PyMem_Malloc(self._cap * sizeof(Slot))
        if self._levels == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._levels)

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"BookSide(is_bid={bool(self.is_bid)}, levels={self._len})"

    cdef void _grow(self) except *:
        cdef Py_ssize_t cap = self._cap * 2
        cdef Slot* levels = <Slot*>PyMem_Realloc(self._levels, cap * sizeof(Slot))
        if levels == NULL:
            raise MemoryError()
        self._levels = levels
        self._cap = cap

    cdef void _upsert(self, double price, double size) except *:
        """Set the size at `price` (size != 0): overwrite a present level or insert a new one."""
        cdef double key = self._sign * price
        cdef Py_ssize_t n = self._len
        cdef Py_ssize_t i = _lower_bound(self._levels, n, key)
        if i < n and self._levels[i].key == key:
            self._levels[i].size = size
            return
        if n == self._cap:
            self._grow()
        if i < n:
            memmove(self._levels + i + 1, self._levels + i, (n - i) * sizeof(Slot))
        self._levels[i].key = key
        self._levels[i].size = size
        self._len = n + 1

    cdef void _delete(self, double price) noexcept:
        """Remove the level at `price`, if present."""
        cdef double key = self._sign * price
        cdef Py_ssize_t n = self._len
        cdef Py_ssize_t i = _lower_bound(self._levels, n, key)
        if i < n and self._levels[i].key == key:
            memmove(self._levels + i, self._levels + i + 1, (n - i - 1) * sizeof(Slot))
            self._len = n - 1

    cdef void _apply(self, list levels) except *:
        cdef double price, size
        for level in levels:
            price, size = level
            if size == 0.0:
                self._delete(price)
            else:
                self._upsert(price, size)

    cdef void _replace(self, list levels) except *:
        cdef double price, size
        self._len = 0
        for level in levels:
            price, size = level
            if size != 0.0:
                self._upsert(price, size)

    cdef void _apply_arrays(
        self, const double* prices, const double* sizes, Py_ssize_t n
    ) except *:
        """`_apply` of levels given as two C arrays (the columnar replay's)."""
        cdef Py_ssize_t k
        for k in range(n):
            if sizes[k] == 0.0:
                self._delete(prices[k])
            else:
                self._upsert(prices[k], sizes[k])

    cdef void _replace_arrays(
        self, const double* prices, const double* sizes, Py_ssize_t n
    ) except *:
        """`_replace` of levels given as two C arrays."""
        cdef Py_ssize_t k
        self._len = 0
        for k in range(n):
            if sizes[k] != 0.0:
                self._upsert(prices[k], sizes[k])

    cdef Py_ssize_t _trim(self, Py_ssize_t depth):
        cdef Py_ssize_t extra = self._len - depth
        if extra <= 0:
            return 0
        self._len = depth
        return extra

    cdef Py_ssize_t _count_at_or_better(self, double price):
        return _upper_bound(self._levels, self._len, self._sign * price)

    cdef double _total_size(self, Py_ssize_t n):
        """Sum of the best `n` sizes, best first."""
        cdef double total = 0.0
        cdef Py_ssize_t i
        if n > self._len:
            n = self._len
        for i in range(n):
            total += self._levels[i].size
        return total

    def replace(self, levels) -> None:
        """Replace every level (levels with size 0 are skipped; a repeated price keeps its last
        size). O(n log n) for n levels, O(n) when they come best first as venues send them."""
        self._replace(levels if type(levels) is list else list(levels))

    def apply(self, levels) -> None:
        """Apply delta levels: size 0 deletes, an unknown price inserts, else the size changes."""
        self._apply(levels if type(levels) is list else list(levels))

    def best(self):
        """The best level as (price, size), or None for an empty side. O(1)."""
        if self._len == 0:
            return None
        return (self._sign * self._levels[0].key, self._levels[0].size)

    def top(self, Py_ssize_t n) -> list:
        """The best `n` levels, best first. O(n)."""
        cdef Py_ssize_t i
        if n > self._len:
            n = self._len
        return [(self._sign * self._levels[i].key, self._levels[i].size) for i in range(max(n, 0))]

    def total_size(self, n=None) -> float:
        """Total size of the best `n` levels (all levels when n is None), summed best first."""
        return self._total_size(self._len if n is None else max(<Py_ssize_t>n, 0))

    @property
    def sizes(self) -> dict:
        """A new dict of price -> size, best first. O(n)."""
        cdef Py_ssize_t i
        return {self._sign * self._levels[i].key: self._levels[i].size for i in range(self._len)}


cdef class OrderBook:
    """The L2 book of one symbol at one depth, with its sync state."""

    def __init__(self, str symbol, Py_ssize_t depth):
        self.symbol = symbol
        self.depth = depth
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.update_id = 0
        self.ts_event_ns = 0
        self.state = _AWAITING
        self.out_of_sync_reason = None
        self.trimmed_levels = 0
        """Levels dropped because a side grew beyond `depth` (the venue should delete them)."""

    def __repr__(self) -> str:
        return f"OrderBook({self.symbol!r}, depth={self.depth}, state={self.state.value})"

    @property
    def in_sync(self) -> bool:
        return self.state is _IN_SYNC

    def apply(self, update) -> ApplyResult:
        """Apply a snapshot or delta (a BookUpdate) and return what happened (see ApplyResult)."""
        return self._apply(update)

    cdef object _apply(self, object update):
        cdef long long update_id = update.update_id
        cdef object result = self._admit(update.is_snapshot, update_id)
        if result is _APPLIED:
            self.bids._apply(update.bids)
            self.asks._apply(update.asks)
        elif result is _SNAPSHOT or result is _RESET:
            self.bids._replace(update.bids)
            self.asks._replace(update.asks)
        else:
            return result
        return self._settle(result, update_id, update.ts_event_ns)

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
    ):
        """`_apply` of an update given as its fields and C arrays of levels (the columnar
        replay's): the same rules, the same result."""
        cdef object result = self._admit(is_snapshot, update_id)
        if result is _APPLIED:
            self.bids._apply_arrays(bid_prices, bid_sizes, bid_count)
            self.asks._apply_arrays(ask_prices, ask_sizes, ask_count)
        elif result is _SNAPSHOT or result is _RESET:
            self.bids._replace_arrays(bid_prices, bid_sizes, bid_count)
            self.asks._replace_arrays(ask_prices, ask_sizes, ask_count)
        else:
            return result
        return self._settle(result, update_id, ts_event_ns)

    cdef object _admit(self, bint is_snapshot, long long update_id):
        """What an update does before its levels are read: SNAPSHOT or RESET (replace the
        sides), APPLIED (apply them), or IGNORED / NO_SNAPSHOT / GAP (leave the book)."""
        if is_snapshot:
            return _SNAPSHOT
        if update_id == 1:
            return _RESET
        if self.state is not _IN_SYNC:
            if self.state is _OUT_OF_SYNC:
                return _IGNORED
            return self._lose_sync(_NO_SNAPSHOT, "delta before any snapshot")
        if update_id != self.update_id + 1:
            return self._lose_sync(_GAP, f"update id {update_id} after {self.update_id}")
        return _APPLIED

    cdef object _settle(self, object result, long long update_id, long long ts_event_ns):
        """After the levels: the update's id and time, the depth, the crossed check."""
        cdef BookSide bids = self.bids, asks = self.asks
        self.update_id = update_id
        self.ts_event_ns = ts_event_ns
        if bids._len > self.depth or asks._len > self.depth:
            self.trimmed_levels += bids._trim(self.depth) + asks._trim(self.depth)
        if bids._len and asks._len and -bids._levels[0].key >= asks._levels[0].key:
            return self._lose_sync(
                _CROSSED,
                f"crossed: bid {-bids._levels[0].key} >= ask {asks._levels[0].key} at update id {update_id}",
            )
        self.state = _IN_SYNC
        self.out_of_sync_reason = None
        return result

    def invalidate(self, str reason) -> bool:
        """Mark the book out of sync (e.g. one of its frames was unreadable).

        Returns False if it already was, so that a resync is requested once per episode.
        """
        if self.state is _OUT_OF_SYNC:
            return False
        self._lose_sync(_IGNORED, reason)
        return True

    cdef object _lose_sync(self, object result, str reason):
        self.state = _OUT_OF_SYNC
        self.out_of_sync_reason = reason
        return result

    def best_bid(self):
        return self.bids.best()

    def best_ask(self):
        return self.asks.best()

    def mid(self):
        """Mid price, or None unless both sides have a level."""
        if not self.bids._len or not self.asks._len:
            return None
        return (self.asks._levels[0].key - self.bids._levels[0].key) / 2.0

    def spread(self):
        if not self.bids._len or not self.asks._len:
            return None
        return self.asks._levels[0].key + self.bids._levels[0].key

    def spread_bps(self):
        """Spread in basis points of the mid."""
        if not self.bids._len or not self.asks._len:
            return None
        cdef double mid = (self.asks._levels[0].key - self.bids._levels[0].key) / 2.0
        if mid <= 0.0:
            return None
        return (self.asks._levels[0].key + self.bids._levels[0].key) / mid * 10_000.0

    def microprice(self):
        """Size-weighted mid: (bid * ask_size + ask * bid_size) / (bid_size + ask_size)."""
        if not self.bids._len or not self.asks._len:
            return None
        cdef double bid = -self.bids._levels[0].key, bid_size = self.bids._levels[0].size
        cdef double ask = self.asks._levels[0].key, ask_size = self.asks._levels[0].size
        return (bid * ask_size + ask * bid_size) / (bid_size + ask_size)

    def size_within_bps(self, double bps) -> tuple:
        """(bid size, ask size) resting within `bps` basis points of the mid; zeros if no mid."""
        if not self.bids._len or not self.asks._len:
            return (0.0, 0.0)
        cdef double mid = (self.asks._levels[0].key - self.bids._levels[0].key) / 2.0
        cdef double offset = mid * bps / 10_000.0
        return (
            self.bids._total_size(self.bids._count_at_or_better(mid - offset)),
            self.asks._total_size(self.asks._count_at_or_better(mid + offset)),
        )
