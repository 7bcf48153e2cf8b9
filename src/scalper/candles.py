"""Micro-candles of one symbol and one timeframe, built from trades by event time.

Candles are aligned to epoch multiples of the interval: a trade at `ts` belongs to the candle
starting at `ts - ts % interval_ns`, covering [start, start + interval_ns). A candle closes once
an event (trade, OFI value or timer) at or after its end is seen, so closing on a timer gives
exactly the candles a later trade would have produced. Intervals without trades become flat
candles at the previous close, so a series has no holes.

Closed candles are kept column by column in a fixed ring (`CandleRing`), not as objects. A
venue message's trades are summarised once (`summarize`) and merged into each timeframe with
`CandleSeries.add_batch`, in O(1) when they fall in the forming candle's interval.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Final

import msgspec

from scalper.events import BUY, SELL, Trade


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

_TYPECODES: Final = tuple(
    "q" if name in ("start_ns", "trades") else "d" for name in Candle.__struct_fields__
)
"""One array typecode per Candle field, in field order: int64 for the ints, double else."""


class CandleRing:
    """Closed candles, oldest first, in a fixed-capacity ring stored column by column.

    One preallocated array per Candle field (array('q') for start_ns and trades, array('d')
    for the others), so `maxlen` candles take 88 * maxlen bytes plus a constant, whatever
    they hold (a Candle Struct with its float objects takes ~300 B). Full policy: appending
    overwrites the oldest. Read-only to callers: reads build new Candle objects, so mutating
    one never changes the ring. len, indexing and append are O(1); iteration is O(len).
    """

    __slots__ = ("_columns", "_head", "_len", "_maxlen")

    def __init__(self, maxlen: int) -> None:
        if maxlen <= 0:
            raise ValueError(f"maxlen must be positive, got {maxlen}")
        self._maxlen = maxlen
        self._columns = tuple(array(code, [0]) * maxlen for code in _TYPECODES)
        self._head = 0  # slot of the oldest candle
        self._len = 0

    @property
    def maxlen(self) -> int:
        """The capacity: at most this many candles are held."""
        return self._maxlen

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Candle]:
        """Copies of the candles, oldest first, as held when iteration starts."""
        head = self._head
        end = head + self._len
        wrapped = max(0, end - self._maxlen)
        return map(Candle, *(column[head:end] + column[:wrapped] for column in self._columns))

    def __getitem__(self, index: int) -> Candle:
        """A copy of the candle at `index` (0 is the oldest, -1 the newest)."""
        length = self._len
        position = index + length if index < 0 else index
        if not 0 <= position < length:
            raise IndexError(f"candle index {index} out of range for {length} candles")
        slot = (self._head + position) % self._maxlen
        return Candle(*(column[slot] for column in self._columns))

    def __repr__(self) -> str:
        return f"CandleRing(len={self._len}, maxlen={self._maxlen})"

    def append(self, candle: Candle) -> None:
        """Store a copy of `candle` as the newest, dropping the oldest when full."""
        maxlen, length = self._maxlen, self._len
        slot = (self._head + length) % maxlen
        if length == maxlen:
            self._head = (self._head + 1) % maxlen
        else:
            self._len = length + 1
        for column, value in zip(self._columns, msgspec.structs.astuple(candle), strict=True):
            column[slot] = value

    def extend(self, candles: Iterable[Candle]) -> None:
        """Append each candle in order. O(len(candles))."""
        for candle in candles:
            self.append(candle)


class TradeSummary(msgspec.Struct, frozen=True, gc=False):
    """One trade batch aggregated once, to merge into every timeframe's forming candle.

    first_ts_ns and last_ts_ns are the earliest and latest event times (min and max, so an
    unsorted batch spanning intervals is still seen); open and close are the first and the
    last trade's prices in batch order; `ordered` is whether event times never decrease
    (informative: a batch merged whole lies in one interval, where add_trade's close is the
    last trade's price whatever the order). Sides other than BUY and SELL count in volume but
    in neither side's volume. Frozen: one summary is shared by every timeframe.
    """

    first_ts_ns: int
    last_ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float
    buy_volume: float
    sell_volume: float
    count: int
    ordered: bool


_EMPTY_SUMMARY: Final = TradeSummary(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, True)


def summarize(trades: Sequence[Trade], sides: Sequence[int]) -> TradeSummary:
    """Aggregate `trades` with their classified `sides` (from TradeFlow.add_batch).

    One pass, O(len(trades)); sums run in batch order, as add_trade's would from zero.
    """
    if not trades:
        return _EMPTY_SUMMARY
    first = trades[0]
    lo = hi = first.ts_event_ns
    high = low = price = first.price
    volume = turnover = buy_volume = sell_volume = 0.0
    ordered = True
    for trade, side in zip(trades, sides, strict=True):
        ts = trade.ts_event_ns
        if ts >= hi:
            hi = ts
        else:
            ordered = False
            if ts < lo:
                lo = ts
        price = trade.price
        size = trade.size
        if price > high:
            high = price
        elif price < low:
            low = price
        volume += size
        turnover += price * size
        if side == BUY:
            buy_volume += size
        elif side == SELL:
            sell_volume += size
    return TradeSummary(
        first_ts_ns=lo,
        last_ts_ns=hi,
        open=first.price,
        high=high,
        low=low,
        close=price,
        volume=volume,
        turnover=turnover,
        buy_volume=buy_volume,
        sell_volume=sell_volume,
        count=len(trades),
        ordered=ordered,
    )


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


def _merge_summary(candle: Candle, summary: TradeSummary) -> None:
    """Add a batch's summary to `candle`, as _merge_trade for each of its trades would. O(1).

    The close is the batch's last trade, which is the last one merged whatever the order of
    event times. Sums are added at once, so they may differ from trade-by-trade sums in the
    last bits (re-association); a candle still sums only its own trades.
    """
    if candle.trades == 0:
        candle.open, candle.high, candle.low = summary.open, summary.high, summary.low
    else:
        if summary.high > candle.high:
            candle.high = summary.high
        if summary.low < candle.low:
            candle.low = summary.low
    candle.close = summary.close
    candle.volume += summary.volume
    candle.turnover += summary.turnover
    candle.trades += summary.count
    candle.buy_volume += summary.buy_volume
    candle.sell_volume += summary.sell_volume


class CandleSeries:
    """Candles of one interval: the forming one plus a bounded ring of closed ones.

    `closed` (a CandleRing) holds at most `history` candles, oldest first; when full the
    oldest is dropped. Every interval before `closed_until_ns` is closed: a trade falling
    there is counted in `late_trades` (an OFI value in `late_ofi`) and not merged. Each candle
    sums only its own events, so no rounding carries from one candle to the next. All
    operations are O(1) except closing, which is O(candles closed) and at most `history` flat
    candles per call, and add_batch's fallback, O(len(trades)).
    """

    def __init__(self, interval_ns: int, history: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"interval_ns must be positive, got {interval_ns}")
        if history <= 0:
            raise ValueError(f"history must be positive, got {history}")
        self.interval_ns = interval_ns
        self.history = history
        self.closed = CandleRing(history)
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

    def restore(self, candles: Sequence[Candle]) -> None:
        """Load closed candles from a recording (warm start), before any event.

        Only the last `history` are kept. The next event starts a new candle without filling
        the gap since the last restored one: no data is not a flat market.
        """
        if self._open_start is not None or self.forming is not None:
            raise ValueError("restore() is only possible before the first event")
        kept = sorted(candles, key=lambda candle: candle.start_ns)[-self.history :]
        self.closed.extend(kept)
        if kept:
            self._last_close = kept[-1].close

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

    def add_batch(
        self, trades: Sequence[Trade], sides: Sequence[int], summary: TradeSummary
    ) -> Sequence[Candle]:
        """Add a batch's trades: the same as add_trade for each (ts, price, size, side) in order.

        `summary` is summarize(trades, sides), computed once for every timeframe. When all the
        trades fall in one interval that is open (the forming one, or the one that becomes
        forming once earlier candles close) the summary is merged in O(1); a batch spanning
        intervals or holding late trades takes the per-trade path, O(len(trades)). Sums may
        differ from the per-trade path's in the last bits (see _merge_summary).
        Returns the candles closed by this call, oldest first.
        """
        first_ts = summary.first_ts_ns
        interval = self.interval_ns
        start = first_ts - first_ts % interval
        open_start = self._open_start
        if (
            summary.count == 0
            or summary.last_ts_ns >= start + interval
            or (open_start is not None and first_ts < open_start)
        ):
            return self._add_each(trades, sides)
        done = self.close_until(first_ts)
        forming = self.forming
        if forming is None:
            forming = self.forming = _flat(start, summary.open)
            self._open_start = start
        _merge_summary(forming, summary)
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

    def _add_each(self, trades: Sequence[Trade], sides: Sequence[int]) -> Sequence[Candle]:
        """add_trade for each trade in order; the candles they closed. O(len(trades))."""
        done: list[Candle] = []
        for trade, side in zip(trades, sides, strict=True):
            done.extend(self.add_trade(trade.ts_event_ns, trade.price, trade.size, side))
        return done or _NOTHING

    def _flats(self, start_ns: int, end_ns: int) -> list[Candle]:
        """Flat candles for [start_ns, end_ns), only the last `history` of them."""
        interval = self.interval_ns
        count = (end_ns - start_ns) // interval
        if count <= 0:
            return []
        first = start_ns + max(0, count - self.history) * interval
        price = self._last_close
        return [_flat(s, price) for s in range(first, end_ns, interval)]
