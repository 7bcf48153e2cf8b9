"""Trailing statistics of one symbol's closed candles: bounded rings, percentile, z-score, ATR.

These are what the regimes and the candle-based factors compare the present with. Everything
here takes candles in time order and keeps a fixed number of floats.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Sequence
from itertools import pairwise

from scalper.candles import Candle


class FloatRing:
    """The last `capacity` floats, in an array (8 bytes each); full policy: the oldest goes."""

    __slots__ = ("_head", "_len", "_values")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self._values = array("d", bytes(8 * capacity))
        self._head = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    @property
    def capacity(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[float]:
        capacity = len(self._values)
        for k in range(self._len):
            yield self._values[(self._head - self._len + k) % capacity]

    def append(self, value: float) -> None:
        self._values[self._head] = value
        self._head = (self._head + 1) % len(self._values)
        self._len = min(self._len + 1, len(self._values))

    def newest(self, k: int = 0) -> float:
        """The k-th newest value (0: the last appended)."""
        if not 0 <= k < self._len:
            raise IndexError(f"{k} is beyond the {self._len} values held")
        return self._values[(self._head - 1 - k) % len(self._values)]


class TrailingValues:
    """The last `capacity` floats, with their percentile ranks in O(log n) and their mean and
    standard deviation in O(1) (the regimes ask once a candle; a warm start asks a day of
    candles per symbol at once, where an O(n) scan per candle took minutes for 300 symbols).

    Beside the ring: the values sorted (an array kept by bisection: an insert and a delete,
    each a memmove, per value) and the sums of (x - anchor) and (x - anchor)**2. Running sums
    gain rounding with every add and remove, so every `capacity` values they are summed again
    from the ring (math.fsum) around a new anchor, the mean: the error never outlives one pass.
    """

    __slots__ = ("_anchor", "_ring", "_sorted", "_squares", "_sum", "_updates")

    def __init__(self, capacity: int) -> None:
        self._ring = FloatRing(capacity)
        self._sorted = array("d")
        self._anchor = 0.0
        self._sum = 0.0
        self._squares = 0.0
        self._updates = 0

    def __len__(self) -> int:
        return len(self._ring)

    def __iter__(self) -> Iterator[float]:
        return iter(self._ring)

    def append(self, value: float) -> None:
        ring, ordered = self._ring, self._sorted
        capacity = ring.capacity
        if len(ring) == capacity:
            oldest = ring.newest(capacity - 1)
            del ordered[bisect_left(ordered, oldest)]
            self._sum -= oldest - self._anchor
            self._squares -= (oldest - self._anchor) ** 2
        ring.append(value)
        insort(ordered, value)
        self._sum += value - self._anchor
        self._squares += (value - self._anchor) ** 2
        self._updates += 1
        if self._updates % capacity == 0:
            values = list(ring)
            self._anchor = math.fsum(values) / len(values)
            self._sum = math.fsum(v - self._anchor for v in values)
            self._squares = math.fsum((v - self._anchor) ** 2 for v in values)

    def percentile_rank(self, value: float) -> float:
        """Share of the values below `value`, ties counting half (the mid-rank)."""
        ordered = self._sorted
        below = bisect_left(ordered, value)
        equal = bisect_right(ordered, value) - below
        return (below + 0.5 * equal) / len(ordered)

    def mean_std(self) -> tuple[float, float]:
        """Mean and population standard deviation."""
        n = len(self._ring)
        shift = self._sum / n
        return self._anchor + shift, math.sqrt(max(0.0, self._squares / n - shift * shift))


def efficiency_ratio(closes: Sequence[float], window: int) -> float | None:
    """Kaufman's efficiency ratio, signed, of the last `window` steps of `closes` (oldest
    first): (c_t - c_t-n) / sum |c_i - c_i-1|; None with fewer than n + 1 closes; 0 for a flat
    window (Kaufman 1995)."""
    if len(closes) < window + 1:
        return None
    last = list(closes)[-window - 1 :]
    path = math.fsum(abs(b - a) for a, b in pairwise(last))
    return (last[-1] - last[0]) / path if path > 0.0 else 0.0


def realised_volatility_bps(closes: Sequence[float], window: int) -> float | None:
    """sqrt of the sum of squared close-to-close log returns over the last `window` steps of
    `closes` (oldest first), in bps; None without window + 1 positive closes."""
    if len(closes) < window + 1:
        return None
    last = list(closes)[-window - 1 :]
    if min(last) <= 0.0:
        return None
    return math.sqrt(math.fsum(math.log(b / a) ** 2 for a, b in pairwise(last))) * 10_000.0


class WilderAtr:
    """Average true range (Wilder 1978): the first value is the mean of the first `period` true
    ranges, then ATR = (ATR * (period - 1) + TR) / period; TR = max(high - low,
    |high - previous close|, |low - previous close|). In bps of the close."""

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._previous_close: float | None = None
        self._ranges: list[float] = []
        self._atr: float | None = None
        self._close = 0.0

    def add(self, candle: Candle) -> None:
        previous = self._previous_close
        self._previous_close = candle.close
        self._close = candle.close
        if previous is None:
            return
        true_range = max(
            candle.high - candle.low, abs(candle.high - previous), abs(candle.low - previous)
        )
        if self._atr is None:
            self._ranges.append(true_range)
            if len(self._ranges) == self.period:
                self._atr = math.fsum(self._ranges) / self.period
                self._ranges = []
            return
        self._atr = (self._atr * (self.period - 1) + true_range) / self.period

    @property
    def bps(self) -> float | None:
        """The ATR in bps of the last close, or None while warming up."""
        if self._atr is None or self._close <= 0.0:
            return None
        return self._atr / self._close * 10_000.0


class LogVolumeBaseline:
    """z-score of ln(1 + volume) of a candle against the trailing candles before it."""

    def __init__(self, capacity: int, min_history: int) -> None:
        self.history = TrailingValues(capacity)
        self.min_history = min_history

    def add(self, candle: Candle) -> tuple[float, float, float, float] | None:
        """(z, ln(1 + volume), baseline mean, baseline std) of `candle`, then remember it;
        None while the baseline has fewer than min_history values or no spread."""
        value = math.log1p(candle.volume)
        result = None
        if len(self.history) >= self.min_history:
            mean, std = self.history.mean_std()
            if std > 0.0:
                result = ((value - mean) / std, value, mean, std)
        self.history.append(value)
        return result
