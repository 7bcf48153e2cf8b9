"""Trailing statistics of one symbol's closed candles: bounded rings, percentile, z-score, ATR.

These are what the regimes and the candle-based factors compare the present with. Everything
here takes candles in time order and keeps a fixed number of floats.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator

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


def percentile_rank(history: FloatRing, value: float) -> float:
    """Share of `history` below `value`, ties counting half (the mid-rank). O(len)."""
    below = equal = 0
    for past in history:
        if past < value:
            below += 1
        elif past == value:
            equal += 1
    return (below + 0.5 * equal) / len(history)


def mean_std(history: FloatRing) -> tuple[float, float]:
    """Mean and population standard deviation, summed with math.fsum. O(len)."""
    values = list(history)
    mean = math.fsum(values) / len(values)
    variance = math.fsum((v - mean) ** 2 for v in values) / len(values)
    return mean, math.sqrt(variance)


def efficiency_ratio(closes: FloatRing, window: int) -> float | None:
    """Kaufman's efficiency ratio, signed: (c_t - c_t-n) / sum |c_i - c_i-1| over the last n
    steps; None with fewer than n + 1 closes; 0 for a flat window (Kaufman 1995)."""
    if len(closes) < window + 1:
        return None
    path = math.fsum(abs(closes.newest(k) - closes.newest(k + 1)) for k in range(window))
    change = closes.newest(0) - closes.newest(window)
    return change / path if path > 0.0 else 0.0


def realised_volatility_bps(closes: FloatRing, window: int) -> float | None:
    """sqrt of the sum of squared close-to-close log returns over the last `window` candles, in
    bps; None without window + 1 positive closes."""
    if len(closes) < window + 1:
        return None
    returns = []
    for k in range(window):
        new, old = closes.newest(k), closes.newest(k + 1)
        if new <= 0.0 or old <= 0.0:
            return None
        returns.append(math.log(new / old))
    return math.sqrt(math.fsum(r * r for r in returns)) * 10_000.0


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
        self.history = FloatRing(capacity)
        self.min_history = min_history

    def add(self, candle: Candle) -> tuple[float, float, float, float] | None:
        """(z, ln(1 + volume), baseline mean, baseline std) of `candle`, then remember it;
        None while the baseline has fewer than min_history values or no spread."""
        value = math.log1p(candle.volume)
        result = None
        if len(self.history) >= self.min_history:
            mean, std = mean_std(self.history)
            if std > 0.0:
                result = ((value - mean) / std, value, mean, std)
        self.history.append(value)
        return result
