# cython: language_level=3, boundscheck=False, wraparound=False
"""Micro-candles of one symbol and one timeframe, built from trades by event time (compiled).

Candles are aligned to epoch multiples of the interval: a trade at `ts` belongs to the candle
starting at `ts - ts % interval_ns`, covering [start, start + interval_ns). A candle closes once
an event (trade, OFI value or timer) at or after its end is seen, so closing on a timer gives
exactly the candles a later trade would have produced. Intervals without trades become flat
candles at the previous close, so a series has no holes.

The forming candle lives in C fields of its `CandleSeries` (read as a new Candle); closed candles
are kept column by column in a fixed ring (`CandleRing`), not as objects. A venue message's
trades are summarised once (`summarize`) and merged into each timeframe with
`CandleSeries.add_batch`, in O(1) when they fall in the forming candle's interval.
"""

from array import array

import msgspec

from scalper._trade_fields cimport TradeOffsets, trade_field, trade_offsets

from scalper.aggregates import Candle
from scalper.events import BUY, SELL, Trade

cdef TradeOffsets _AT = trade_offsets(Trade)

cdef long _BUY = BUY
cdef long _SELL = SELL

_NOTHING = ()
"""Shared empty result: the hot path returns it instead of allocating an empty list."""

_TYPECODES = tuple(
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

    def __iter__(self):
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

    def extend(self, candles) -> None:
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
    in neither side's volume. Frozen: one summary is shared by every timeframe. The engine uses
    the C struct `Summary` with the same fields; this is its Python face.
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
    buy_turnover: float = 0.0
    sell_turnover: float = 0.0


cdef Summary summarize_c(list trades, list sides) except *:
    """summarize() into a C struct: one pass, O(len(trades)); sums run in batch order."""
    cdef Summary s
    cdef Py_ssize_t n = len(trades), i
    cdef long long ts
    cdef double price, size
    cdef long side
    if len(sides) != n:
        raise ValueError(f"{n} trades but {len(sides)} sides")
    s.count = n
    s.ordered = True
    s.volume = s.turnover = s.buy_volume = s.sell_volume = 0.0
    s.buy_turnover = s.sell_turnover = 0.0
    if n == 0:
        s.first_ts_ns = s.last_ts_ns = 0
        s.open = s.high = s.low = s.close = 0.0
        return s
    first = trades[0]
    s.first_ts_ns = s.last_ts_ns = trade_field(first, &_AT, _AT.ts_event_ns, "ts_event_ns")
    s.open = s.high = s.low = price = trade_field(first, &_AT, _AT.price, "price")
    for i in range(n):
        trade = trades[i]
        side = sides[i]
        ts = trade_field(trade, &_AT, _AT.ts_event_ns, "ts_event_ns")
        if ts >= s.last_ts_ns:
            s.last_ts_ns = ts
        else:
            s.ordered = False
            if ts < s.first_ts_ns:
                s.first_ts_ns = ts
        price = trade_field(trade, &_AT, _AT.price, "price")
        size = trade_field(trade, &_AT, _AT.size, "size")
        if price > s.high:
            s.high = price
        elif price < s.low:
            s.low = price
        s.volume += size
        s.turnover += price * size
        if side == _BUY:
            s.buy_volume += size
            s.buy_turnover += price * size
        elif side == _SELL:
            s.sell_volume += size
            s.sell_turnover += price * size
    s.close = price
    return s


def summarize(trades, sides) -> TradeSummary:
    """Aggregate `trades` with their classified `sides` (from TradeFlow.add_batch).

    One pass, O(len(trades)); sums run in batch order, as add_trade's would from zero.
    """
    cdef Summary s = summarize_c(list(trades), list(sides))
    return TradeSummary(
        s.first_ts_ns, s.last_ts_ns, s.open, s.high, s.low, s.close, s.volume, s.turnover,
        s.buy_volume, s.sell_volume, s.count, s.ordered, s.buy_turnover, s.sell_turnover,
    )


cdef class CandleSeries:
    """Candles of one interval: the forming one plus a bounded ring of closed ones.

    `closed` (a CandleRing) holds at most `history` candles, oldest first; when full the
    oldest is dropped. Every interval before `closed_until_ns` is closed: a trade falling
    there is counted in `late_trades` (an OFI value in `late_ofi`) and not merged. Each candle
    sums only its own events, so no rounding carries from one candle to the next. All
    operations are O(1) except closing, which is O(candles closed) and at most `history` flat
    candles per call, and add_batch's fallback, O(len(trades)). `forming` is read as a new
    Candle: changing it does not change the series.
    """

    def __init__(self, long long interval_ns, Py_ssize_t history):
        if interval_ns <= 0:
            raise ValueError(f"interval_ns must be positive, got {interval_ns}")
        if history <= 0:
            raise ValueError(f"history must be positive, got {history}")
        self.interval_ns = interval_ns
        self.history = history
        self.closed = CandleRing(history)
        self.late_trades = 0
        self.late_ofi = 0
        self._started = False
        self._forming = False
        self._last_close = 0.0  # read only once a candle has closed

    def __repr__(self) -> str:
        return f"CandleSeries(interval_ns={self.interval_ns}, closed={len(self.closed)})"

    @property
    def forming(self):
        """A copy of the forming candle, or None."""
        if not self._forming:
            return None
        return Candle(
            self._f_start, self._f_open, self._f_high, self._f_low, self._f_close,
            self._f_volume, self._f_turnover, self._f_trades, self._f_buy_volume,
            self._f_sell_volume, self._f_ofi, self._f_buy_turnover, self._f_sell_turnover,
        )

    @property
    def closed_until_ns(self):
        """Start of the earliest interval not yet closed; None before the first trade."""
        return self._open_start if self._started else None

    @property
    def forming_end_ns(self):
        """End of the forming candle (when a timer should close it); None if none is forming."""
        return self._f_start + self.interval_ns if self._forming else None

    cdef void _open_forming(self, long long start_ns, double price) noexcept:
        """A flat forming candle at `price` (no trades yet: the first one sets O/H/L)."""
        self._forming = True
        self._f_start = start_ns
        self._f_open = self._f_high = self._f_low = self._f_close = price
        self._f_volume = self._f_turnover = self._f_buy_volume = self._f_sell_volume = 0.0
        self._f_buy_turnover = self._f_sell_turnover = 0.0
        self._f_ofi = 0.0
        self._f_trades = 0

    def close_until(self, long long ts_ns):
        """Close every candle ending at or before `ts_ns`, filling empty intervals with flats.

        Returns the candles closed by this call, oldest first (the shared `()` if none).
        """
        return self._close_until(ts_ns)

    cdef object _close_until(self, long long ts_ns):
        if not self._started:
            return _NOTHING
        cdef long long start = self._open_start
        cdef long long interval = self.interval_ns
        if ts_ns < start + interval:
            return _NOTHING
        cdef long long target = ts_ns - ts_ns % interval
        done = []
        if self._forming:
            done.append(self.forming)
            self._forming = False
            self._last_close = self._f_close
            start += interval
        cdef long long count = (target - start) // interval
        cdef long long first
        if count > 0:  # flat candles, only the last `history` of them
            first = start + max(0, count - self.history) * interval
            price = self._last_close
            done.extend([Candle(s, price, price, price, price) for s in range(first, target, interval)])
        self._open_start = target
        self.closed.extend(done)
        return done

    def restore(self, candles) -> None:
        """Load closed candles from a recording (warm start), before any event.

        Only the last `history` are kept. The next event starts a new candle without filling
        the gap since the last restored one: no data is not a flat market.
        """
        if self._started or self._forming:
            raise ValueError("restore() is only possible before the first event")
        kept = sorted(candles, key=lambda candle: candle.start_ns)
        kept = kept[max(0, len(kept) - self.history) :]
        self.closed.extend(kept)
        if kept:
            self._last_close = kept[len(kept) - 1].close

    def add_trade(self, long long ts_ns, double price, double size, long side):
        """Close what `ts_ns` ends, then add the trade to the forming candle.

        `side` is BUY or SELL; any other value counts in volume but in neither side.
        Returns the candles closed by this call, oldest first.
        """
        return self._add_trade(ts_ns, price, size, side)

    cdef object _add_trade(self, long long ts_ns, double price, double size, long side):
        done = self._close_until(ts_ns)
        if self._started and ts_ns < self._open_start:
            self.late_trades += 1
            return done
        if not self._forming:
            self._open_forming(ts_ns - ts_ns % self.interval_ns, price)
            self._open_start = self._f_start
            self._started = True
        if self._f_trades == 0:  # the first trade sets O/H/L, even in a flat OFI carrier
            self._f_open = self._f_high = self._f_low = price
        elif price > self._f_high:
            self._f_high = price
        elif price < self._f_low:
            self._f_low = price
        self._f_close = price
        self._f_volume += size
        self._f_turnover += price * size
        self._f_trades += 1
        if side == _BUY:
            self._f_buy_volume += size
            self._f_buy_turnover += price * size
        elif side == _SELL:
            self._f_sell_volume += size
            self._f_sell_turnover += price * size
        return done

    def add_batch(self, trades, sides, summary: TradeSummary):
        """Add a batch's trades: the same as add_trade for each (ts, price, size, side) in order.

        `summary` is summarize(trades, sides), computed once for every timeframe. When all the
        trades fall in one interval that is open (the forming one, or the one that becomes
        forming once earlier candles close) the summary is merged in O(1); a batch spanning
        intervals or holding late trades takes the per-trade path, O(len(trades)). Sums may
        differ from the per-trade path's in the last bits (the batch's sums are added at once).
        Returns the candles closed by this call, oldest first.
        """
        cdef Summary s
        s.first_ts_ns, s.last_ts_ns = summary.first_ts_ns, summary.last_ts_ns
        s.open, s.high, s.low, s.close = summary.open, summary.high, summary.low, summary.close
        s.volume, s.turnover = summary.volume, summary.turnover
        s.buy_volume, s.sell_volume = summary.buy_volume, summary.sell_volume
        s.buy_turnover, s.sell_turnover = summary.buy_turnover, summary.sell_turnover
        s.count, s.ordered = summary.count, summary.ordered
        return self._add_batch(list(trades), list(sides), &s)

    cdef object _add_batch(self, list trades, list sides, const Summary* summary):
        cdef long long first_ts = summary.first_ts_ns
        cdef long long interval = self.interval_ns
        cdef long long start = first_ts - first_ts % interval
        if (
            summary.count == 0
            or summary.last_ts_ns >= start + interval
            or (self._started and first_ts < self._open_start)
        ):
            return self._add_each(trades, sides)
        done = self._close_until(first_ts)
        if not self._forming:
            self._open_forming(start, summary.open)
            self._open_start = start
            self._started = True
        if self._f_trades == 0:
            self._f_open, self._f_high, self._f_low = summary.open, summary.high, summary.low
        else:
            if summary.high > self._f_high:
                self._f_high = summary.high
            if summary.low < self._f_low:
                self._f_low = summary.low
        self._f_close = summary.close
        self._f_volume += summary.volume
        self._f_turnover += summary.turnover
        self._f_trades += summary.count
        self._f_buy_volume += summary.buy_volume
        self._f_sell_volume += summary.sell_volume
        self._f_buy_turnover += summary.buy_turnover
        self._f_sell_turnover += summary.sell_turnover
        return done

    def add_ofi(self, long long ts_ns, double value):
        """Close what `ts_ns` ends, then add an order-flow-imbalance value to the forming candle.

        With no forming candle, a flat one at the previous close carries the value; before the
        first trade the value is dropped. Returns the candles closed by this call.
        """
        return self._add_ofi(ts_ns, value)

    cdef object _add_ofi(self, long long ts_ns, double value):
        done = self._close_until(ts_ns)
        if not self._started:
            return done
        if ts_ns < self._open_start:
            self.late_ofi += 1
            return done
        if not self._forming:
            self._open_forming(self._open_start, self._last_close)
        self._f_ofi += value
        return done

    cdef object _add_each(self, list trades, list sides):
        """add_trade for each trade in order; the candles they closed. O(len(trades))."""
        if len(trades) != len(sides):
            raise ValueError(f"{len(trades)} trades but {len(sides)} sides")
        done = []
        for trade, side in zip(trades, sides):
            done.extend(
                self._add_trade(
                    trade_field(trade, &_AT, _AT.ts_event_ns, "ts_event_ns"),
                    trade_field(trade, &_AT, _AT.price, "price"),
                    trade_field(trade, &_AT, _AT.size, "size"),
                    side,
                )
            )
        return done or _NOTHING
