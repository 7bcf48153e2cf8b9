# cython: language_level=3, boundscheck=False, wraparound=False
"""Everything the engine knows about one symbol, and the per-event work on it (compiled).

`SymbolState.apply_book`, `apply_trades` and `apply_ticker` are the engine's hot path: one call
per event, which counts the event and updates the book, the order-flow imbalance, the flow and
every candle series in C. What is rare (a closed candle, a book that lost or regained sync) goes
back to the engine through the two callbacks given at construction, in event order.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcpy

from scalper._book cimport BookSide, OrderBook
from scalper._candles cimport CandleSeries, Summary, summarize_c
from scalper._flow cimport TradeFlow
from scalper._tickers cimport TickerState
from scalper._trade_fields cimport TradeFields, TradeOffsets, load_trade, trade_field, trade_offsets

from scalper._book import ApplyResult, SyncState
from scalper.aggregates import SymbolCounters
from scalper.events import UNKNOWN_SIDE, Trade

cdef TradeOffsets _AT = trade_offsets(Trade)


cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object text)
    void* PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)


cdef list _TICKS = []
"""The tick directions the rings have seen, in order (code k in a row is _TICKS[k - 1]); at
most _MAX_TICKS, any other is held by its row as an object."""
cdef Py_ssize_t _MAX_TICKS = 16
cdef unsigned char _TICK_OBJECT = 255


cdef int _tick_code(object tick):
    """A trade's tick direction as a row's code (0: None; _TICK_OBJECT: held as an object)."""
    cdef Py_ssize_t i, n = len(_TICKS)
    if tick is None:
        return 0
    for i in range(n):
        if _TICKS[i] is tick:  # the decoder shares one string per name: found by identity
            return i + 1
    if type(tick) is not str:
        return _TICK_OBJECT
    for i in range(n):
        if _TICKS[i] == tick:
            return i + 1
    if n < _MAX_TICKS:
        _TICKS.append(tick)
        return n + 1
    return _TICK_OBJECT

cdef object _IN_SYNC = SyncState.IN_SYNC
cdef object _APPLIED = ApplyResult.APPLIED
cdef object _IGNORED = ApplyResult.IGNORED
cdef object _SNAPSHOT = ApplyResult.SNAPSHOT
cdef object _RESET = ApplyResult.RESET
cdef long _UNKNOWN = UNKNOWN_SIDE


_COUNTER_FIELDS = SymbolCounters.__struct_fields__


cdef class Counters:
    """What happened to one symbol's stream, counted in C int64 fields (no int object per
    increment); every out-of-sync event is counted by cause. `snapshot()` gives the values as a
    SymbolCounters, the Struct the API serves."""

    def snapshot(self) -> SymbolCounters:
        return SymbolCounters(*[getattr(self, name) for name in _COUNTER_FIELDS])

    def __repr__(self) -> str:
        return repr(self.snapshot()).replace("SymbolCounters", "Counters", 1)


cdef class RecentTrades:
    """The last `maxlen` trades of one symbol, oldest first, in a ring of C rows.

    Rows rather than a deque of Trade objects: evicting a Trade object and the cyclic GC visiting
    every kept one touch memory on each trade of 300 symbols. Here a trade is a row of numbers,
    its id's characters (an ASCII id of up to TRADE_ID_CHARS; any other id is held by
    reference) and its tick direction's code, so dropping the oldest row writes it and reads
    nothing: no cold string to release (it was the ring's largest cost, perf annotate). Reads
    build new Trade objects, with equal strings. Full policy: the oldest is dropped. len and
    indexing are O(1), iteration O(len).
    """

    def __cinit__(self, str symbol, Py_ssize_t maxlen):
        if maxlen <= 0:
            raise ValueError(f"maxlen must be positive, got {maxlen}")
        self.symbol = symbol
        self._maxlen = maxlen
        self._head = 0
        self._len = 0
        self._holding = 0
        self._rows = <TradeRow*>PyMem_Malloc(maxlen * sizeof(TradeRow))
        if self._rows == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef Py_ssize_t k
        cdef TradeRow* row
        if self._rows == NULL:
            return
        for k in range(self._len):
            if not self._holding:
                break
            self._release(&self._rows[(self._head + k) % self._maxlen])
        PyMem_Free(self._rows)

    @property
    def maxlen(self) -> int:
        return self._maxlen

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"RecentTrades({self.symbol!r}, len={self._len}, maxlen={self._maxlen})"

    def __getitem__(self, Py_ssize_t index) -> Trade:
        """A new Trade for the one at `index` (0 is the oldest, -1 the newest)."""
        cdef Py_ssize_t position = index + self._len if index < 0 else index
        if not 0 <= position < self._len:
            raise IndexError(f"trade index {index} out of range for {self._len} trades")
        return self._trade(position)

    def __iter__(self):
        """New Trade objects, oldest first, as held when iteration starts."""
        cdef Py_ssize_t k
        return iter([self._trade(k) for k in range(self._len)])

    def extend(self, trades) -> None:
        """Append each trade in order, dropping the oldest when full."""
        self._extend(trades if type(trades) is list else list(trades))

    cdef object _trade(self, Py_ssize_t position):
        cdef TradeRow* row = &self._rows[(self._head + position) % self._maxlen]
        if row.id_length >= 0:
            trade_id = PyUnicode_DecodeASCII(row.id_chars, row.id_length, NULL)
        else:
            trade_id = <object>row.trade_id
        if row.tick == 0:
            tick_direction = None
        elif row.tick == _TICK_OBJECT:
            tick_direction = <object>row.tick_direction
        else:
            tick_direction = _TICKS[row.tick - 1]
        return Trade(
            self.symbol,
            row.price,
            row.size,
            row.side,
            row.ts_event_ns,
            row.recv_ns,
            trade_id,
            tick_direction,
            row.is_block_trade,
        )

    cdef void _release(self, TradeRow* row) noexcept:
        """Drop the objects a row holds (its id or tick direction, when not in the row)."""
        if row.trade_id == NULL and row.tick_direction == NULL:
            return
        if row.trade_id != NULL:
            Py_DECREF(<object>row.trade_id)
            row.trade_id = NULL
        if row.tick_direction != NULL:
            Py_DECREF(<object>row.tick_direction)
            row.tick_direction = NULL
        self._holding -= 1

    cdef void _extend(self, list trades) except *:
        cdef TradeRow* row
        cdef Py_ssize_t slot, id_length
        cdef TradeFields fields
        cdef int tick
        for trade in trades:
            # Every field is read (and may raise) before the ring changes.
            load_trade(trade, &_AT, &fields)
            trade_id = trade_field(trade, &_AT, _AT.trade_id, "trade_id")
            tick_direction = trade_field(trade, &_AT, _AT.tick_direction, "tick_direction")
            tick = _tick_code(tick_direction)
            id_length = -1
            if type(trade_id) is str and PyUnicode_IS_COMPACT_ASCII(trade_id):
                if PyUnicode_GET_LENGTH(trade_id) <= TRADE_ID_CHARS:
                    id_length = PyUnicode_GET_LENGTH(trade_id)
            if self._len == self._maxlen:  # full: the oldest row's slot is reused
                slot = self._head
                self._head = (self._head + 1) % self._maxlen
                row = &self._rows[slot]
                if self._holding:  # else the row holds nothing: not read at all
                    self._release(row)
            else:
                slot = (self._head + self._len) % self._maxlen
                self._len += 1
                row = &self._rows[slot]
            row.price, row.size, row.side = fields.price, fields.size, fields.side
            row.ts_event_ns, row.recv_ns = fields.ts_event_ns, fields.recv_ns
            row.is_block_trade = fields.is_block_trade
            row.id_length = id_length
            row.tick = tick
            row.trade_id = NULL
            row.tick_direction = NULL
            if id_length >= 0:
                memcpy(row.id_chars, PyUnicode_DATA(trade_id), id_length)
            else:
                Py_INCREF(trade_id)
                row.trade_id = <PyObject*>trade_id
            if tick == _TICK_OBJECT:
                Py_INCREF(tick_direction)
                row.tick_direction = <PyObject*>tick_direction
            if row.trade_id != NULL or row.tick_direction != NULL:
                self._holding += 1


cdef class SymbolObserver:
    """What a compiled consumer (the signals layer) sees of one symbol's events, in C.

    The engine calls `on_time(ts)` before it applies an event of the symbol (so the observer
    can close what ends before `ts` on the state as it was), `on_book(book, result)` after any
    update of the main book (its ApplyResult: applied, snapshot, gap...) and
    `on_trades(trades, sides)` after a trade batch, with the aggressor sides the flow used. A
    subclass overrides them in Cython; this base does nothing. One observer per symbol
    (`SymbolState.observer`), None by default: the engine then pays one pointer test per event.

    `as_of_ns` is the event time its outputs are as of (0 before any), set by the subclass: a
    compiled reader (the trading core's tap) sees a new output by it without a Python lookup.
    """

    cdef void on_time(self, long long ts_ns) except *:
        pass

    cdef void on_book(self, OrderBook book, object result) except *:
        pass

    cdef void on_trades(self, list trades, list sides) except *:
        pass


cdef class SymbolState:
    """Book(s), flow, candles, ticker and counters of one symbol. Bounded: rings, fixed books.

    `on_candles(symbol, timeframe, closed)` is called with the candles an event closed;
    `on_book_transition(state, book, result, was_in_sync)` with any book result other than
    APPLIED and IGNORED (snapshot, reset, gap, crossed, no snapshot).
    """

    def __init__(self, str symbol, config, on_candles=None, on_book_transition=None):
        self.symbol = symbol
        self.books = {}
        self.book = None
        """The deepest book seen: the one metrics, OFI and the API use."""
        history_ns = config.candle_history_ns
        self.candles = {
            name: CandleSeries(interval, max(1, history_ns // interval))
            for name, interval in config.timeframes_ns.items()
        }
        self._series = tuple(self.candles.items())
        self.flow = TradeFlow(
            bucket_ns=config.flow_bucket_ns,
            max_span_ns=max(config.flow_windows_ns.values(), default=config.flow_bucket_ns),
            large_trade_notional=config.large_trade_notional,
        )
        self.ticker = TickerState()
        self.counters = Counters()
        self.recent_trades = RecentTrades(symbol, config.recent_trades)
        self.last_event_ns = 0
        self._on_candles = on_candles
        self._on_book_transition = on_book_transition
        self._ofi_primed = False
        self.observer = None

    def __repr__(self) -> str:
        return f"SymbolState({self.symbol!r})"

    def book_for(self, Py_ssize_t depth) -> OrderBook:
        """The book of `depth`, created empty on first use (the deepest is `book`)."""
        book = self.books.get(depth)
        if book is None:
            book = self.books[depth] = OrderBook(self.symbol, depth)
            if self.book is None or depth > self.book.depth:
                self.book = book
        return book

    def apply_book(self, update) -> ApplyResult:
        """Apply a BookUpdate: the book, then OFI into every candle series of the main book."""
        return self._apply_book(update)

    def apply_trades(self, batch):
        """Apply a TradeBatch: flow, candles; returns [(trade, side, notional)] of the large
        trades (notional >= the flow's threshold, with a side), or None if there were none."""
        return self._apply_trades(batch)

    def apply_ticker(self, update) -> None:
        """Apply a TickerUpdate to the merged ticker."""
        self._apply_ticker(update)

    cdef object _apply_book(self, object update):
        cdef long long ts = update.ts_event_ns
        cdef OrderBook book = self._book_event(ts, update.depth)
        cdef bint was_in_sync = book.state is _IN_SYNC
        return self._book_applied(book, book._apply(update), was_in_sync, ts)

    cdef object _apply_book_arrays(
        self,
        Py_ssize_t depth,
        bint is_snapshot,
        long long update_id,
        long long ts,
        const double* bid_prices,
        const double* bid_sizes,
        Py_ssize_t bid_count,
        const double* ask_prices,
        const double* ask_sizes,
        Py_ssize_t ask_count,
    ):
        """`_apply_book` of an update given as its fields and C arrays of levels (the columnar
        replay): the same counting, book rules, OFI, candles and notifications."""
        cdef OrderBook book = self._book_event(ts, depth)
        cdef bint was_in_sync = book.state is _IN_SYNC
        result = book._apply_arrays(
            is_snapshot,
            update_id,
            ts,
            bid_prices,
            bid_sizes,
            bid_count,
            ask_prices,
            ask_sizes,
            ask_count,
        )
        return self._book_applied(book, result, was_in_sync, ts)

    cdef OrderBook _book_event(self, long long ts, Py_ssize_t depth):
        """Count a book event at venue time `ts`; the book of `depth` it goes to. The observer
        first closes what ends before `ts` on the state as it was."""
        cdef SymbolObserver observer = self.observer
        if observer is not None:
            observer.on_time(ts)
        self._advance(ts)
        self.counters.book_frames += 1
        cdef OrderBook book = self.book  # the usual case: one depth per symbol, no dict lookup
        if book is None or book.depth != depth:
            book = self.book_for(depth)
        return book

    cdef object _book_applied(
        self, OrderBook book, object result, bint was_in_sync, long long ts
    ):
        """After the book took an event: OFI, counters, transitions, candles; `result`."""
        cdef CandleSeries series
        cdef double ofi = 0.0
        cdef Counters counters = self.counters
        cdef SymbolObserver observer = self.observer
        if result is _APPLIED:
            if book is self.book:
                ofi = self._ofi_update(book)
        elif result is _IGNORED:
            counters.ignored_deltas += 1
        else:
            if book is self.book and (result is _SNAPSHOT or result is _RESET):
                self._ofi_primed = False  # a new book: no previous best levels to compare
                self._ofi_update(book)
            if self._on_book_transition is not None:
                self._on_book_transition(self, book, result, was_in_sync)
        if book is self.book:
            if observer is not None:
                observer.on_book(book, result)
            for name, series in self._series:
                closed = series._add_ofi(ts, ofi)
                if closed:
                    self._publish(name, closed)
        return result

    cdef object _apply_trades(self, object batch):
        cdef TradeFlow flow = self.flow
        cdef CandleSeries series
        cdef Summary summary
        cdef list trades = batch.trades
        cdef list sides
        cdef double notional, threshold
        cdef Py_ssize_t i, n = len(trades)
        cdef long side
        cdef long long ts = batch.ts_event_ns
        cdef Counters counters = self.counters
        cdef SymbolObserver observer = self.observer
        if observer is not None:
            observer.on_time(ts)
        self._advance(ts)
        counters.trade_frames += 1
        counters.trades += n
        self.recent_trades._extend(trades)
        sides = flow._add_batch(trades)
        if observer is not None:
            observer.on_trades(trades, sides)
        summary = summarize_c(trades, sides)
        for name, series in self._series:
            closed = series._add_batch(trades, sides, &summary)
            if closed:
                self._publish(name, closed)
        threshold = flow.large_trade_notional
        large = None
        for i in range(n):
            trade = trades[i]
            side = sides[i]
            notional = (
                <double>trade_field(trade, &_AT, _AT.price, "price")
                * <double>trade_field(trade, &_AT, _AT.size, "size")
            )
            if notional >= threshold and side != _UNKNOWN:
                counters.large_trades += 1
                if large is None:
                    large = []
                large.append((trade, side, notional))
        return large

    cdef void _apply_ticker(self, object update) except *:
        cdef long long ts = update.ts_event_ns
        if self.observer is not None:
            self.observer.on_time(ts)
        self._advance(ts)
        self.counters.ticker_frames += 1
        self.ticker._apply(update)

    cdef void _advance(self, long long ts) noexcept:
        """Count one event of this symbol at venue time `ts`."""
        self.counters.frames += 1
        if ts > self.last_event_ns:
            self.last_event_ns = ts

    cdef double _ofi_update(self, OrderBook book) noexcept:
        """Order-flow imbalance of this best-level state against the previous one.

        e = [bid queue added] - [bid queue removed] - [ask queue added] + [ask queue removed];
        0 when either state lacks a side.
        """
        cdef BookSide bids = book.bids, asks = book.asks
        cdef double bid, bid_size, ask, ask_size, e = 0.0
        if not bids._len or not asks._len:
            self._ofi_primed = False
            return 0.0
        bid, bid_size = -bids._levels[0].key, bids._levels[0].size
        ask, ask_size = asks._levels[0].key, asks._levels[0].size
        if self._ofi_primed:
            if bid >= self._bid_price:
                e += bid_size
            if bid <= self._bid_price:
                e -= self._bid_size
            if ask <= self._ask_price:
                e -= ask_size
            if ask >= self._ask_price:
                e += self._ask_size
        self._ofi_primed = True
        self._bid_price, self._bid_size = bid, bid_size
        self._ask_price, self._ask_size = ask, ask_size
        return e

    cdef void _publish(self, str name, object closed) except *:
        if self._on_candles is not None:
            self._on_candles(self.symbol, name, closed)
