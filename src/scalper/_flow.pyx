# cython: language_level=3, boundscheck=False, wraparound=False
"""Trade flow of one symbol: aggressor volumes, delta, cumulative delta and rolling windows
(compiled).

The aggressor side is the venue's taker side (Bybit v5 publicTrade `S`: the side of the taker
order). Only trades without a side are classified with the tick rule; a given side is never
overridden. Rolling windows are recomputed from per-bucket aggregates held in a fixed ring of
C structs (no object per bucket).
"""

import math

from cpython.mem cimport PyMem_Free, PyMem_Malloc

from scalper._trade_fields cimport TradeOffsets, trade_field, trade_offsets

from scalper.aggregates import FlowTotals
from scalper.events import BUY, SELL, UNKNOWN_SIDE, Trade

cdef TradeOffsets _AT = trade_offsets(Trade)

cdef long _BUY = BUY
cdef long _SELL = SELL
cdef long _UNKNOWN = UNKNOWN_SIDE

cdef long long _NO_BUCKET = -(2**63)
"""Start of a slot that never held a bucket: no epoch-ns bucket starts at int64's minimum."""


cdef inline void _clear(Bucket* bucket, long long start) noexcept:
    bucket.start = start
    bucket.buy_volume = bucket.sell_volume = 0.0
    bucket.buy_count = bucket.sell_count = 0
    bucket.buy_notional = bucket.sell_notional = 0.0


cdef inline void _add_to(Bucket* bucket, long side, double size, double notional) noexcept:
    """Add one classified trade (side BUY or SELL)."""
    if side == _BUY:
        bucket.buy_volume += size
        bucket.buy_count += 1
        bucket.buy_notional += notional
    else:
        bucket.sell_volume += size
        bucket.sell_count += 1
        bucket.sell_notional += notional


cdef class TradeFlow:
    """Flow state of one symbol, bounded in memory.

    - `add(trade)` classifies the aggressor side and adds the trade to `totals` (since start;
      cumulative volume delta = totals.delta) and to its bucket (start = ts - ts % bucket_ns);
      `add_batch(trades)` does the same for a venue message.
    - `window(span_ns, now_ns)` sums the buckets of the last `span_ns` by event time.
    - Buckets live in a ring of `capacity = max_span_ns // bucket_ns + 1` C structs indexed by
      bucket number modulo capacity; each holds its start, which tells a stale slot from the
      wanted bucket. When a newer bucket needs a slot the older one is dropped. Memory is
      56 * capacity bytes plus a constant. A late trade still counts in `totals`, and in its
      bucket only while it is within the ring.
    """

    def __cinit__(self, *args, **kwargs):
        self._buckets = NULL

    def __init__(
        self,
        long long bucket_ns=1_000_000_000,
        long long max_span_ns=300_000_000_000,
        double large_trade_notional=100_000.0,
    ):
        if bucket_ns <= 0:
            raise ValueError(f"bucket_ns must be positive, got {bucket_ns}")
        if max_span_ns < bucket_ns:
            raise ValueError(f"max_span_ns ({max_span_ns}) must be >= bucket_ns ({bucket_ns})")
        self.bucket_ns = bucket_ns
        self.max_span_ns = max_span_ns
        self.large_trade_notional = large_trade_notional
        self.capacity = max_span_ns // bucket_ns + 1
        PyMem_Free(self._buckets)
        self._buckets = <Bucket*>PyMem_Malloc(self.capacity * sizeof(Bucket))
        if self._buckets == NULL:
            raise MemoryError()
        cdef Py_ssize_t i
        for i in range(self.capacity):
            _clear(&self._buckets[i], _NO_BUCKET)
        _clear(&self._totals, 0)
        self.unclassified_trades = 0
        self.trade_count = 0
        self._has_last_price = False
        self._last_price = 0.0
        self._last_side = _UNKNOWN
        self._has_newest = False
        self._newest = 0

    def __dealloc__(self):
        PyMem_Free(self._buckets)

    @property
    def totals(self) -> FlowTotals:
        """Flow since start (a new FlowTotals; cumulative volume delta = totals.delta)."""
        return FlowTotals(
            self._totals.buy_volume,
            self._totals.sell_volume,
            self._totals.buy_count,
            self._totals.sell_count,
            self._totals.buy_notional,
            self._totals.sell_notional,
        )

    @property
    def last_price(self):
        """The last trade's price (the tick rule's reference), or None before any trade."""
        return self._last_price if self._has_last_price else None

    @property
    def bucket_count(self) -> int:
        """Slots that hold a bucket (at most `capacity`). O(capacity)."""
        cdef Py_ssize_t i, count = 0
        for i in range(self.capacity):
            count += self._buckets[i].start != _NO_BUCKET
        return count

    @property
    def _starts(self) -> list:
        """The start held by each slot (-2**63 for a slot that never held a bucket)."""
        cdef Py_ssize_t i
        return [self._buckets[i].start for i in range(self.capacity)]

    @property
    def _newest_start(self):
        """Start of the newest bucket seen, or None."""
        return self._newest if self._has_newest else None

    def classify(self, trade) -> int:
        """The aggressor side: trade.side, or by the tick rule when it is UNKNOWN_SIDE.

        Tick rule: above the previous trade price is BUY, below is SELL, equal repeats the
        previous classification; with neither, UNKNOWN_SIDE. Does not change state.
        """
        cdef long side = trade.side
        if side != _UNKNOWN:
            return side
        return self._tick_rule(trade.price)

    cdef long _tick_rule(self, double price) noexcept:
        """Above the previous trade price BUY, below SELL, equal (or no previous) the previous
        classification."""
        if not self._has_last_price or price == self._last_price:
            return self._last_side
        return _BUY if price > self._last_price else _SELL

    def add(self, trade) -> int:
        """Classify and add one trade; returns the side used (UNKNOWN_SIDE if unclassified).

        O(1). For the trades of one message `add_batch` gives the same result.
        """
        return self._add(trade)

    cdef long _add(self, object trade) except? -2:
        cdef long side = trade_field(trade, &_AT, _AT.side, "side")
        cdef double price = trade_field(trade, &_AT, _AT.price, "price")
        cdef double size, notional
        cdef long long ts
        cdef Py_ssize_t index
        if side == _UNKNOWN:
            side = self._tick_rule(price)
        self._has_last_price = True
        self._last_price = price
        self.trade_count += 1
        if side == _UNKNOWN:
            self.unclassified_trades += 1
            return side
        self._last_side = side
        size = trade_field(trade, &_AT, _AT.size, "size")
        notional = price * size
        _add_to(&self._totals, side, size, notional)
        ts = trade_field(trade, &_AT, _AT.ts_event_ns, "ts_event_ns")
        index = self._slot(ts - ts % self.bucket_ns)
        if index >= 0:
            _add_to(&self._buckets[index], side, size, notional)
        return side

    def add_batch(self, trades) -> list:
        """Classify and add `trades` in order: exactly `[self.add(t) for t in trades]`. O(n)."""
        return self._add_batch(trades if type(trades) is list else list(trades))

    cdef list _add_batch(self, list trades):
        return [self._add(trade) for trade in trades]

    def window(self, long long span_ns, long long now_ns) -> FlowTotals:
        """Exact totals of the buckets starting in (now_start - span_ns, now_start].

        now_start is the start of the bucket containing `now_ns`. Exact while now_ns is not
        earlier than the newest trade's bucket; older buckets may have left the ring.
        Recomputed on each call with math.fsum (correctly rounded): O(span_ns / bucket_ns).
        """
        cdef long long bucket_ns = self.bucket_ns
        if span_ns <= 0 or span_ns > self.max_span_ns or span_ns % bucket_ns:
            raise ValueError(
                f"span_ns must be a positive multiple of {bucket_ns} up to {self.max_span_ns},"
                f" got {span_ns}"
            )
        cdef long long now_start = now_ns - now_ns % bucket_ns
        cdef long long first_start = now_start - span_ns + bucket_ns
        cdef long long count = span_ns // bucket_ns, k, start
        cdef long long base = first_start // bucket_ns
        cdef Py_ssize_t index
        held = []
        for k in range(count):
            index = (base + k) % self.capacity
            start = first_start + k * bucket_ns
            if self._buckets[index].start == start:
                held.append(index)
        buckets = [self._buckets[i] for i in held]
        return FlowTotals(
            buy_volume=math.fsum([b["buy_volume"] for b in buckets]),
            sell_volume=math.fsum([b["sell_volume"] for b in buckets]),
            buy_count=sum([b["buy_count"] for b in buckets]),
            sell_count=sum([b["sell_count"] for b in buckets]),
            buy_notional=math.fsum([b["buy_notional"] for b in buckets]),
            sell_notional=math.fsum([b["sell_notional"] for b in buckets]),
        )

    cdef Py_ssize_t _slot(self, long long start_ns) noexcept:
        """Slot of the bucket starting at `start_ns`, claimed if needed; -1 if beyond the ring.

        O(1). Claiming a slot that holds another start zeroes it: that bucket is a full ring
        older than this one, so it is dropped.
        """
        if not self._has_newest or start_ns > self._newest:
            self._has_newest = True
            self._newest = start_ns
        elif start_ns <= self._newest - self.capacity * self.bucket_ns:
            return -1
        cdef Py_ssize_t index = (start_ns // self.bucket_ns) % self.capacity
        if self._buckets[index].start != start_ns:
            _clear(&self._buckets[index], start_ns)
        return index
