"""Trade flow of one symbol: aggressor volumes, delta, cumulative delta and rolling windows.

The aggressor side is the venue's taker side (Bybit v5 publicTrade `S`: the side of the taker
order). Only trades without a side are classified with the tick rule; a given side is never
overridden. Rolling windows are recomputed from per-bucket aggregates held in a fixed ring.
"""

from __future__ import annotations

import math

import msgspec

from scalper.events import BUY, SELL, UNKNOWN_SIDE, Trade


class FlowTotals(msgspec.Struct, gc=False):
    """Aggregated flow over some span. delta = buy_volume - sell_volume."""

    buy_volume: float = 0.0
    sell_volume: float = 0.0
    buy_count: int = 0
    sell_count: int = 0
    buy_notional: float = 0.0
    sell_notional: float = 0.0

    @property
    def delta(self) -> float:
        return self.buy_volume - self.sell_volume

    @property
    def volume(self) -> float:
        return self.buy_volume + self.sell_volume


def _add_to(totals: FlowTotals, side: int, size: float, notional: float) -> None:
    """Add one classified trade (side BUY or SELL) to `totals`."""
    if side == BUY:
        totals.buy_volume += size
        totals.buy_count += 1
        totals.buy_notional += notional
    else:
        totals.sell_volume += size
        totals.sell_count += 1
        totals.sell_notional += notional


def _exact_sum(parts: list[FlowTotals]) -> FlowTotals:
    """Field-wise sum of `parts`, floats with math.fsum (correctly rounded)."""
    return FlowTotals(
        buy_volume=math.fsum(p.buy_volume for p in parts),
        sell_volume=math.fsum(p.sell_volume for p in parts),
        buy_count=sum(p.buy_count for p in parts),
        sell_count=sum(p.sell_count for p in parts),
        buy_notional=math.fsum(p.buy_notional for p in parts),
        sell_notional=math.fsum(p.sell_notional for p in parts),
    )


class TradeFlow:
    """Flow state of one symbol, bounded in memory.

    - `add(trade)` classifies the aggressor side and adds the trade to `totals` (since start;
      cumulative volume delta = totals.delta) and to its bucket (start = ts - ts % bucket_ns).
    - `window(span_ns, now_ns)` sums the buckets of the last `span_ns` by event time.
    - Buckets live in a ring of `max_span_ns // bucket_ns + 1` slots indexed by bucket number;
      when a newer bucket needs a slot the older one is dropped. A late trade still counts in
      `totals`, and in its bucket only while that bucket is within the ring.
    """

    def __init__(
        self,
        bucket_ns: int = 1_000_000_000,
        max_span_ns: int = 300_000_000_000,
        large_trade_notional: float = 100_000.0,
    ) -> None:
        if bucket_ns <= 0:
            raise ValueError(f"bucket_ns must be positive, got {bucket_ns}")
        if max_span_ns < bucket_ns:
            raise ValueError(f"max_span_ns ({max_span_ns}) must be >= bucket_ns ({bucket_ns})")
        self.bucket_ns = bucket_ns
        self.max_span_ns = max_span_ns
        self.large_trade_notional = large_trade_notional
        self.capacity = max_span_ns // bucket_ns + 1
        self.totals = FlowTotals()
        self.unclassified_trades = 0
        self.trade_count = 0
        self.last_price: float | None = None
        self._last_side = UNKNOWN_SIDE
        self._ring: list[tuple[int, FlowTotals] | None] = [None] * self.capacity
        self._newest_start: int | None = None

    @property
    def bucket_count(self) -> int:
        """Buckets currently held (at most `capacity`)."""
        return sum(slot is not None for slot in self._ring)

    def classify(self, trade: Trade) -> int:
        """The aggressor side: trade.side, or by the tick rule when it is UNKNOWN_SIDE.

        Tick rule: above the previous trade price is BUY, below is SELL, equal repeats the
        previous classification; with neither, UNKNOWN_SIDE. Does not change state.
        """
        if trade.side != UNKNOWN_SIDE:
            return trade.side
        last = self.last_price
        if last is None or trade.price == last:
            return self._last_side
        return BUY if trade.price > last else SELL

    def add(self, trade: Trade) -> int:
        """Classify and add one trade; returns the side used (UNKNOWN_SIDE if unclassified)."""
        side = self.classify(trade)
        self.last_price = trade.price
        self.trade_count += 1
        if side == UNKNOWN_SIDE:
            self.unclassified_trades += 1
            return side
        self._last_side = side
        notional = trade.price * trade.size
        _add_to(self.totals, side, trade.size, notional)
        bucket = self._bucket(trade.ts_event_ns - trade.ts_event_ns % self.bucket_ns)
        if bucket is not None:
            _add_to(bucket, side, trade.size, notional)
        return side

    def window(self, span_ns: int, now_ns: int) -> FlowTotals:
        """Exact totals of the buckets starting in (now_start - span_ns, now_start].

        now_start is the start of the bucket containing `now_ns`. Exact while now_ns is not
        earlier than the newest trade's bucket; older buckets may have left the ring.
        """
        bucket_ns = self.bucket_ns
        if span_ns <= 0 or span_ns > self.max_span_ns or span_ns % bucket_ns:
            raise ValueError(
                f"span_ns must be a positive multiple of {bucket_ns} up to {self.max_span_ns},"
                f" got {span_ns}"
            )
        now_start = now_ns - now_ns % bucket_ns
        starts = range(now_start - span_ns + bucket_ns, now_start + bucket_ns, bucket_ns)
        return _exact_sum([b for b in map(self._held, starts) if b is not None])

    def is_large(self, trade: Trade) -> bool:
        """Whether the trade's notional (price * size) reaches `large_trade_notional`."""
        return trade.price * trade.size >= self.large_trade_notional

    def _held(self, start_ns: int) -> FlowTotals | None:
        """The bucket starting at `start_ns` if the ring holds it."""
        slot = self._ring[(start_ns // self.bucket_ns) % self.capacity]
        return slot[1] if slot is not None and slot[0] == start_ns else None

    def _bucket(self, start_ns: int) -> FlowTotals | None:
        """The bucket starting at `start_ns`, created if needed; None if beyond the ring."""
        newest = self._newest_start
        if newest is None or start_ns > newest:
            self._newest_start = newest = start_ns
        elif start_ns <= newest - self.capacity * self.bucket_ns:
            return None
        index = (start_ns // self.bucket_ns) % self.capacity
        slot = self._ring[index]
        if slot is not None and slot[0] == start_ns:
            return slot[1]
        # Same slot, different start: the held bucket is a full ring older, so it is dropped.
        bucket = FlowTotals()
        self._ring[index] = (start_ns, bucket)
        return bucket
