# cython: language_level=3, boundscheck=False, wraparound=False
"""The footprints' per-trade work, compiled: each symbol's candles and session profile as spans
of (buy, sell) doubles in one `array('d')` each, filled by a loop in C over a batch's trades.

`scalper.footprint.Footprints` subclasses `TradeCounter` (views, tick sizes and settings are
there); the spans are read by its views through their public attributes.
"""

from collections import deque

from cpython cimport array
from libc.math cimport floor
from libc.string cimport memmove, memset

from scalper._trade_fields cimport TradeOffsets, trade_field, trade_offsets

from scalper.events import BUY, SELL, Trade, TradeBatch

cdef TradeOffsets _AT = trade_offsets(Trade)

cdef long long _BUY = BUY
cdef long long _SELL = SELL
cdef long long DAY_NS = 86_400_000_000_000


cdef class Span:
    """Buy and sell volume of consecutive price levels, in one array of doubles, and in all."""

    cdef public long long first
    """The level index of `volumes[0:2]`."""
    cdef public array.array volumes
    """Buy, sell volume of level `first + i` at `2 * i`, `2 * i + 1` (empty levels: 0);
    allocated to its length exactly."""
    cdef public double buy
    """Buy-aggressor volume of every trade added, in a level or not."""
    cdef public double sell

    def __init__(self) -> None:
        self.first = 0
        self.volumes = array.array("d")
        self.buy = 0.0
        self.sell = 0.0

    cdef inline void add(self, Py_ssize_t slot, long long side, double qty) noexcept:
        """A trade of `side` (BUY or SELL): in the totals, and at the level whose buy volume
        is at `slot` (`slot()`) unless `slot` is -1."""
        if side == _BUY:
            self.buy += qty
            if slot >= 0:
                self.volumes.data.as_doubles[slot] += qty
        else:
            self.sell += qty
            if slot >= 0:
                self.volumes.data.as_doubles[slot + 1] += qty

    cdef Py_ssize_t slot(self, long long level, Py_ssize_t max_levels) except -2:
        """The index of `level`'s buy volume in `volumes`, the span widened to it; -1 when
        that would span more than `max_levels` levels."""
        cdef array.array volumes = self.volumes
        cdef Py_ssize_t span = len(volumes) >> 1
        cdef long long offset
        if span == 0:
            self.first = level
            array.resize(volumes, 2)
            volumes.data.as_doubles[0] = volumes.data.as_doubles[1] = 0.0
            return 0
        offset = level - self.first
        if offset < 0:
            if span - offset > max_levels:
                return -1
            array.resize(volumes, 2 * (span - offset))
            memmove(
                volumes.data.as_doubles - 2 * offset,
                volumes.data.as_doubles,
                2 * span * sizeof(double),
            )
            memset(volumes.data.as_doubles, 0, -2 * offset * sizeof(double))
            self.first = level
            return 0
        if offset >= span:
            if offset >= max_levels:
                return -1
            array.resize(volumes, 2 * (offset + 1))
            memset(
                volumes.data.as_doubles + 2 * span, 0, 2 * (offset + 1 - span) * sizeof(double)
            )
        return <Py_ssize_t>(offset << 1)

    cdef double move_to(self, long long level, Py_ssize_t max_levels) except? -1.0:
        """Drop the levels on the far side of `level` so that a span of `max_levels` levels
        reaches it; returns the volume dropped (summed lowest level first)."""
        cdef array.array volumes = self.volumes
        cdef Py_ssize_t span = len(volumes) >> 1, keep, cut, i
        cdef double dropped = 0.0
        cdef double* data = volumes.data.as_doubles
        if level < self.first:  # keep the lowest levels up to level + max_levels - 1
            keep = <Py_ssize_t>min(span, max(0, level + max_levels - self.first))
            for i in range(2 * keep, 2 * span):
                dropped += data[i]
            array.resize(volumes, 2 * keep)
        else:  # keep the highest levels down to level - max_levels + 1
            cut = <Py_ssize_t>max(0, min(span, level - max_levels + 1 - self.first))
            for i in range(2 * cut):
                dropped += data[i]
            memmove(data, data + 2 * cut, 2 * (span - cut) * sizeof(double))
            array.resize(volumes, 2 * (span - cut))
            self.first += cut
        if len(volumes) == 0:
            self.first = level
        return dropped


cdef class Candle(Span):
    """A footprint candle: its span and totals, from `start_ns` to `end_ns`."""

    cdef public long long start_ns
    cdef public long long end_ns
    cdef public double overflow
    """Volume at levels beyond `max_levels` (in buy and sell, in no level)."""
    cdef public long long trades

    def __init__(self, long long start_ns, long long end_ns) -> None:
        Span.__init__(self)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.overflow = 0.0
        self.trades = 0


cdef class Session(Span):
    """A symbol's session volume profile: UTC day `day`, from its trade at `since_ns`."""

    cdef public long long day
    cdef public long long since_ns
    cdef public double evicted
    """Volume of the levels dropped to stay within `session_levels`."""

    def __init__(self, long long day, long long since_ns) -> None:
        Span.__init__(self)
        self.day = day
        self.since_ns = since_ns
        self.evicted = 0.0


cdef class SymbolFootprints:
    """One symbol's candles (the last `candles`, oldest first) and session."""

    cdef public object candles
    """deque of `Candle`, at most `candles`."""
    cdef public double level_size
    cdef public int decimals
    """Decimals of a level's price (`level_size`'s)."""
    cdef public Session session
    """None before the first trade with a side."""
    cdef Candle last
    """`candles[-1]` (None while there is none)."""

    def __init__(self, int candles, double level_size, int decimals) -> None:
        self.candles = deque(maxlen=candles)
        self.level_size = level_size
        self.decimals = decimals
        self.session = None
        self.last = None


cdef class TradeCounter:
    """Every symbol's footprints, filled from trade batches in C. A subclass makes the entry of
    a symbol at its first trade: `_new_symbol(symbol, price) -> SymbolFootprints`."""

    cdef public dict symbols
    """symbol -> SymbolFootprints."""
    cdef public long long late_trades
    """Trades of a candle no longer kept (out of order by more than the history)."""
    cdef public long long interval_ns
    cdef Py_ssize_t max_levels
    cdef Py_ssize_t session_levels

    def __init__(self, long long interval_ns, Py_ssize_t max_levels, Py_ssize_t session_levels):
        self.symbols = {}
        self.late_trades = 0
        self.interval_ns = interval_ns
        self.max_levels = max_levels
        self.session_levels = session_levels

    def on_event(self, event: object) -> None:
        """An engine event: trade batches are counted, everything else ignored."""
        if type(event) is TradeBatch:
            self.on_trades(event)

    def on_trades(self, batch: TradeBatch) -> None:
        """Count a batch's trades with a side: in their candle (by event time) and session."""
        cdef list trades = batch.trades
        cdef SymbolFootprints entry = self.symbols.get(batch.symbol)
        cdef Session session
        cdef Candle candle
        cdef long long side, ts, day, start, level
        cdef long long interval = self.interval_ns
        cdef Py_ssize_t slot
        cdef double qty, price, size
        if entry is None:
            if not trades:
                return
            entry = self._new_symbol(
                batch.symbol, trade_field(trades[0], &_AT, _AT.price, "price")
            )
            self.symbols[batch.symbol] = entry
        size = entry.level_size
        session = entry.session
        for trade in trades:
            side = trade_field(trade, &_AT, _AT.side, "side")
            if side != _BUY and side != _SELL:
                continue
            ts = trade_field(trade, &_AT, _AT.ts_event_ns, "ts_event_ns")
            day = ts // DAY_NS
            if session is None or session.day < day:
                session = entry.session = Session(day, ts)
            start = ts - ts % interval
            candle = entry.last
            if candle is None or candle.start_ns < start:
                candle = Candle(start, start + interval)
                entry.candles.append(candle)
                entry.last = candle
            elif candle.start_ns > start:
                candle = _kept(entry.candles, start)
                if candle is None:
                    self.late_trades += 1
                    continue
            qty = trade_field(trade, &_AT, _AT.size, "size")
            price = trade_field(trade, &_AT, _AT.price, "price")
            level = <long long>floor(price / size + 0.5)
            slot = candle.slot(level, self.max_levels)
            if slot < 0:
                candle.overflow += qty
            candle.add(slot, side, qty)
            candle.trades += 1
            if session.day == day:
                slot = session.slot(level, self.session_levels)
                if slot < 0:
                    session.evicted += session.move_to(level, self.session_levels)
                    slot = session.slot(level, self.session_levels)
                session.add(slot, side, qty)


cdef Candle _kept(object candles, long long start):
    """The kept candle starting at `start` (None: none)."""
    cdef Candle candle
    for candle in candles:
        if candle.start_ns == start:
            return candle
    return None
