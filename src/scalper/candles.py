"""Micro-candles of one symbol and one timeframe, built from trades by event time.

Candles are aligned to epoch multiples of the interval: a trade at `ts` belongs to the candle
starting at `ts - ts % interval_ns`, covering [start, start + interval_ns). A candle closes once
an event (trade, OFI value or timer) at or after its end is seen, so closing on a timer gives
exactly the candles a later trade would have produced. Intervals without trades become flat
candles at the previous close, so a series has no holes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import msgspec

from scalper.events import BUY, SELL


class Candle(msgspec.Struct, gc=False):
    """One closed (or forming) candle. `start_ns` is an epoch multiple of the interval."""

    start_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    turnover: float = 0.0
    trades: int = 0
    buy_volume: float = 0.0
    sell_volume: float = 0.0
    ofi: float = 0.0

    @property
    def delta(self) -> float:
        return self.buy_volume - self.sell_volume

    @property
    def vwap(self) -> float:
        """turnover / volume; the close for a candle with no volume."""
        return self.turnover / self.volume if self.volume > 0.0 else self.close


_NOTHING: tuple[Candle, ...] = ()
"""Shared empty result: the hot path returns it instead of allocating an empty list."""


def _flat(start_ns: int, price: float) -> Candle:
    """A candle with no trades: O=H=L=C=price, volume 0."""
    return Candle(start_ns, price, price, price, price)


def _merge_trade(candle: Candle, price: float, size: float, side: int) -> None:
    """Add one trade to `candle`; the first trade sets O/H/L even in a flat OFI carrier."""
    if candle.trades == 0:
        candle.open = candle.high = candle.low = price
    elif price > candle.high:
        candle.high = price
    elif price < candle.low:
        candle.low = price
    candle.close = price
    candle.volume += size
    candle.turnover += price * size
    candle.trades += 1
    if side == BUY:
        candle.buy_volume += size
    elif side == SELL:
        candle.sell_volume += size


class CandleSeries:
    """Candles of one interval: the forming one plus a bounded ring of closed ones.

    `closed` holds at most `history` candles, oldest first; when full the oldest is dropped.
    Every interval before `closed_until_ns` is closed: a trade falling there is counted in
    `late_trades` (an OFI value in `late_ofi`) and not merged. Each candle sums only its own
    events, so no rounding carries from one candle to the next. All operations are O(1) except
    closing, which is O(candles closed) and at most `history` flat candles per call.
    """

    def __init__(self, interval_ns: int, history: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"interval_ns must be positive, got {interval_ns}")
        if history <= 0:
            raise ValueError(f"history must be positive, got {history}")
        self.interval_ns = interval_ns
        self.history = history
        self.closed: deque[Candle] = deque(maxlen=history)
        self.forming: Candle | None = None
        self.late_trades = 0
        self.late_ofi = 0
        self._open_start: int | None = None
        self._last_close = 0.0  # read only once a candle has closed

    @property
    def closed_until_ns(self) -> int | None:
        """Start of the earliest interval not yet closed; None before the first trade."""
        return self._open_start

    @property
    def forming_end_ns(self) -> int | None:
        """End of the forming candle (when a timer should close it); None if none is forming."""
        forming = self.forming
        return None if forming is None else forming.start_ns + self.interval_ns

    def close_until(self, ts_ns: int) -> Sequence[Candle]:
        """Close every candle ending at or before `ts_ns`, filling empty intervals with flats.

        Returns the candles closed by this call, oldest first (the shared `()` if none).
        """
        start = self._open_start
        interval = self.interval_ns
        if start is None or ts_ns < start + interval:
            return _NOTHING
        target = ts_ns - ts_ns % interval
        done: list[Candle] = []
        forming = self.forming
        if forming is not None:
            self.forming = None
            self._last_close = forming.close
            done.append(forming)
            start += interval
        done.extend(self._flats(start, target))
        self._open_start = target
        self.closed.extend(done)
        return done

    def add_trade(self, ts_ns: int, price: float, size: float, side: int) -> Sequence[Candle]:
        """Close what `ts_ns` ends, then add the trade to the forming candle.

        `side` is BUY or SELL; any other value counts in volume but in neither side.
        Returns the candles closed by this call, oldest first.
        """
        done = self.close_until(ts_ns)
        start = self._open_start
        if start is not None and ts_ns < start:
            self.late_trades += 1
            return done
        forming = self.forming
        if forming is None:
            forming = self.forming = _flat(ts_ns - ts_ns % self.interval_ns, price)
            self._open_start = forming.start_ns
        _merge_trade(forming, price, size, side)
        return done

    def add_ofi(self, ts_ns: int, value: float) -> Sequence[Candle]:
        """Close what `ts_ns` ends, then add an order-flow-imbalance value to the forming candle.

        With no forming candle, a flat one at the previous close carries the value; before the
        first trade the value is dropped. Returns the candles closed by this call.
        """
        done = self.close_until(ts_ns)
        start = self._open_start
        if start is None:
            return done
        if ts_ns < start:
            self.late_ofi += 1
            return done
        forming = self.forming
        if forming is None:
            forming = self.forming = _flat(start, self._last_close)
        forming.ofi += value
        return done

    def _flats(self, start_ns: int, end_ns: int) -> list[Candle]:
        """Flat candles for [start_ns, end_ns), only the last `history` of them."""
        interval = self.interval_ns
        count = (end_ns - start_ns) // interval
        if count <= 0:
            return []
        first = start_ns + max(0, count - self.history) * interval
        price = self._last_close
        return [_flat(s, price) for s in range(first, end_ns, interval)]
