# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One symbol's factors and score, advanced by its events in event time (compiled).

`SymbolSignals` is the engine's `SymbolObserver` for one symbol. Per event it only adds: the
multi-level order-flow imbalance of each book update, and the aggressor volume, large trades,
cumulative delta and VPIN buckets of each trade, into the forming tick. Every `cadence` of event
time (epoch multiples; 100 ms by default) it closes the tick: before the first event at or after
a boundary B is applied, on the state as it was, so a value "at B" holds exactly the events
before B, live, in replay and in backtests alike. Closing a tick computes every factor from the
book and the windows, then the score. Whole seconds also close a second (its flow totals and a
sample of mid, depth, top-5 imbalance and cumulative delta): the per-second factors (realised
volatility, CVD slope and divergence, spread median, Stoikov's adjustment) move then.

Windows: 1 s is the last second of ticks exactly. 5 s, 30 s and 1 m are the whole seconds
before plus the current second's closed ticks: exactly W at each whole second (where the
evaluator samples), up to W + 1 s in between, like the engine's flow windows. Sums are
recomputed from the stored ticks and seconds, never kept as running sums, so no rounding
accumulates and an empty window is exactly zero: the whole seconds of each window (and the mean
depth of each level) once a second, the current second's ticks at each tick. Summing the 60
stored seconds at every tick instead cost a quarter more wall time than the engine alone in
`make bench` (cache misses: a symbol's seconds are cold by its next tick).

Bounded: a ring of the last second's ticks (at most MAX_TICKS_PER_SECOND), a ring of
SECONDS_KEPT seconds, `spread_history` spread samples, `vpin_buckets` buckets, fixed tables.
After a silence longer than `max_catch_up` ticks the rings restart instead of closing every
empty tick (no per-second history then: volatility and CVD figures warm up again).
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport INFINITY, NAN, fabs, floor, isnan, log, sqrt, tanh
from libc.string cimport memset

from scalper._book cimport OrderBook
from scalper._symbol cimport SymbolObserver
from scalper.signals._book_factors cimport (
    OFI_LEVELS,
    Levels,
    Walls,
    band_imbalance,
    level_ofi,
    median_of,
    nearest_walls,
    read_levels,
    smallest_gap,
    top_imbalance,
)

from scalper._book import ApplyResult, SyncState
from scalper.events import BUY, SELL
from scalper.signals.catalog import BOOK_FACTORS, DETAILS, FACTOR_NAMES

cdef object _IN_SYNC = SyncState.IN_SYNC
cdef object _SNAPSHOT = ApplyResult.SNAPSHOT
cdef object _RESET = ApplyResult.RESET
cdef long _BUY = BUY
cdef long _SELL = SELL
cdef long long _SECOND = 1_000_000_000

cdef enum:
    MAX_TICKS_PER_SECOND = 20
    SECONDS_KEPT = 64
    RV_RETURNS = 60
    CVD_SECONDS = 30
    STOIKOV_BINS = 10
    WALL_LEVELS_MAX = 200

# Factor indices: the order of catalog.FACTORS (checked below).
cdef enum:
    F_IMB_TOP1, F_IMB_TOP5, F_IMB_TOP10, F_IMB_BPS10, F_IMB_BPS25, F_IMB_CHANGE,
    F_OFI_1S, F_OFI_5S, F_OFI_30S, F_MLOFI_1S, F_MLOFI_5S, F_MLOFI_30S,
    F_MICRO, F_STOIKOV,
    F_FLOW_1S, F_FLOW_5S, F_FLOW_30S, F_FLOW_1M,
    F_CVD_SLOPE, F_CVD_DIVERGENCE, F_LARGE, F_WALL,
    F_VPIN, F_SPREAD_TICKS, F_SPREAD_RATIO, F_RV, F_ATR_1M, F_ATR_5M, F_VOLUME_Z,
    N_FACTORS

cdef enum:
    D_WALL_BID_DISTANCE, D_WALL_BID_RELATIVE, D_WALL_ASK_DISTANCE, D_WALL_ASK_RELATIVE,
    D_LARGE_COUNT, D_TICK, D_MEDIAN_SPREAD, D_VPIN_BUCKET, D_MID,
    N_DETAILS

cdef enum:
    OK = 0
    WARMING_UP = 1
    UNAVAILABLE = 2

cdef enum:
    GATE_VPIN = 1
    GATE_SPREAD = 2
    GATE_COUNTER_TREND = 4
    GATE_REGIME_SHIFT = 3  # the regimes' gate bits (set from Python) sit above these three

_ORDER = (
    "imbalance_top1", "imbalance_top5", "imbalance_top10", "imbalance_bps10", "imbalance_bps25",
    "imbalance_change_5s", "ofi_1s", "ofi_5s", "ofi_30s", "mlofi_1s", "mlofi_5s", "mlofi_30s",
    "microprice_bps", "stoikov_bps", "flow_imbalance_1s", "flow_imbalance_5s",
    "flow_imbalance_30s", "flow_imbalance_1m", "cvd_slope_30s", "cvd_divergence_30s",
    "large_trade_imbalance_30s", "wall_pressure", "vpin", "spread_ticks", "spread_ratio",
    "realized_vol_1m_bps", "atr_1m_bps", "atr_5m_bps", "volume_zscore_1m",
)
if _ORDER != FACTOR_NAMES or len(_ORDER) != N_FACTORS or len(DETAILS) != N_DETAILS:
    raise ImportError("scalper.signals._tracker's indices disagree with signals.catalog")

cdef bint _BOOK_FACTOR[N_FACTORS]
for _index, _name in enumerate(_ORDER):
    _BOOK_FACTOR[_index] = _name in BOOK_FACTORS

COMPUTED_GATES = {"vpin_toxic": GATE_VPIN, "spread_wide": GATE_SPREAD,
                  "counter_trend": GATE_COUNTER_TREND}
"""Gate name -> bit of the gates the tracker applies itself."""
REGIME_GATE_SHIFT = GATE_REGIME_SHIFT
CONTEXT_FACTORS = {"atr_1m_bps": F_ATR_1M, "atr_5m_bps": F_ATR_5M,
                   "volume_zscore_1m": F_VOLUME_Z}
"""Factors computed from closed candles in Python (regimes.py), set with set_context()."""


cdef struct Flow:
    double ofi[OFI_LEVELS]
    double buy
    double sell
    double large_buy
    double large_sell
    double large_count


cdef struct Second:
    Flow flow
    double depth[OFI_LEVELS]
    double imbalance_top5


cdef inline void _add(Flow* into, const Flow* x) noexcept:
    cdef Py_ssize_t m
    for m in range(OFI_LEVELS):
        into.ofi[m] += x.ofi[m]
    into.buy += x.buy
    into.sell += x.sell
    into.large_buy += x.large_buy
    into.large_sell += x.large_sell
    into.large_count += x.large_count


cdef inline double _ratio(double up, double down) noexcept:
    """(up - down) / (up + down), 0 when both are 0."""
    cdef double total = up + down
    return (up - down) / total if total > 0.0 else 0.0


cdef class TrackerConfig:
    """What every symbol's tracker shares: cadence, factor parameters, score weights and gates
    (built from `SignalSettings` by scalper.signals.engine)."""

    cdef public long long cadence_ns
    cdef public int ticks_per_second
    cdef public long long max_catch_up
    cdef public Py_ssize_t spread_history
    cdef public Py_ssize_t spread_min_samples
    cdef public Py_ssize_t rv_min_returns
    cdef public double stoikov_min_count
    cdef public double stoikov_max_count
    cdef public double vpin_bucket_seconds
    cdef public Py_ssize_t vpin_buckets
    cdef public double large_multiple
    cdef public long long large_warmup_trades
    cdef public double size_alpha
    cdef public Py_ssize_t wall_levels
    cdef public double wall_multiple
    cdef public double wall_scale_bps
    cdef public double z_alpha
    cdef public long long z_warmup_ticks
    cdef public double squash
    cdef public double direction_threshold
    cdef public double confluence_z
    cdef public double min_ready_share
    cdef public double vpin_toxic
    cdef public double vpin_gate
    cdef public double spread_wide
    cdef public double spread_gate
    cdef public double counter_trend_gate
    cdef double _weights[N_FACTORS]
    cdef double total_weight

    def __init__(self, **values):
        for name, value in values.items():
            setattr(self, name, value)
        if self.cadence_ns <= 0 or _SECOND % self.cadence_ns:
            raise ValueError(f"the cadence must divide 1 s, got {self.cadence_ns} ns")
        self.ticks_per_second = <int>(_SECOND // self.cadence_ns)
        if self.ticks_per_second > MAX_TICKS_PER_SECOND:
            raise ValueError(f"the cadence must be at least {1000 // MAX_TICKS_PER_SECOND} ms")
        if not 1 <= self.wall_levels <= WALL_LEVELS_MAX:
            raise ValueError(f"wall levels must be within 1..{WALL_LEVELS_MAX}")
        if self.spread_history < 1 or self.vpin_buckets < 1:
            raise ValueError("spread_history and vpin_buckets must be positive")

    @property
    def weights(self) -> list:
        return [self._weights[i] for i in range(N_FACTORS)]

    @weights.setter
    def weights(self, values) -> None:
        cdef Py_ssize_t i
        if len(values) != N_FACTORS:
            raise ValueError(f"{N_FACTORS} weights expected, got {len(values)}")
        self.total_weight = 0.0
        for i in range(N_FACTORS):
            self._weights[i] = values[i]
            self.total_weight += fabs(self._weights[i])


cdef class SymbolSignals(SymbolObserver):
    """Factors, score and their inputs for one symbol (see the module docstring)."""

    # Declaration order is memory order: what every event touches first (a few cache lines),
    # then what ticks and seconds touch.
    cdef long long _next_tick
    cdef long long _last_ts
    cdef bint _in_sync
    cdef bint _primed
    cdef double _tick_size
    cdef double _cvd
    cdef double _size_mean
    cdef long long _size_trades
    cdef TrackerConfig config
    cdef OrderBook _book
    cdef Flow _tick
    cdef Levels _levels
    cdef double _bucket_buy
    cdef double _bucket_sell
    cdef double _bucket_volume
    cdef long long _first_event_ns
    cdef long long _sync_since
    cdef readonly long long ticks
    cdef readonly str symbol
    # the current second's closed ticks, and the rings
    cdef Flow _second
    cdef Flow _ticks[MAX_TICKS_PER_SECOND]
    cdef Py_ssize_t _tick_head
    cdef Py_ssize_t _tick_count
    cdef Second* _seconds
    cdef Py_ssize_t _second_head
    cdef Py_ssize_t _second_count
    cdef double _mids[SECONDS_KEPT]
    cdef double _cvds[SECONDS_KEPT]
    """Mid (NaN out of sync) and cumulative delta at each stored second's end, beside _seconds
    (same slots): the once-a-second scans read one compact array, not every record."""
    cdef Flow _whole[3]
    """The last 5, 30 and 60 whole seconds' flow (summed once a second)."""
    cdef double _depth[OFI_LEVELS]
    """Each level's mean depth over the last 30 whole-second samples (NaN: none)."""
    cdef double* _spreads
    cdef Py_ssize_t _spread_head
    cdef Py_ssize_t _spread_count
    cdef double* _scratch
    cdef double* _vpin_imbalance
    cdef double* _vpin_volume
    cdef Py_ssize_t _vpin_head
    cdef Py_ssize_t _vpin_count
    # Stoikov's adjustment: sums and counts of the next second's mid change (ticks) by
    # [spread class][imbalance bin], and the state a second ago
    cdef double _g_sum[2][STOIKOV_BINS]
    cdef double _g_count[2][STOIKOV_BINS]
    cdef int _prev_bin
    cdef int _prev_class
    cdef double _prev_mid
    # per-second results (moved at whole seconds, served at every tick)
    cdef double _rv
    cdef double _cvd_slope
    cdef double _divergence
    cdef double _vpin
    cdef double _median_spread
    # outputs
    cdef double _values[N_FACTORS]
    cdef unsigned char _status[N_FACTORS]
    cdef double _details[N_DETAILS]
    cdef double _z_mean[N_FACTORS]
    cdef double _z_var[N_FACTORS]
    cdef long long _z_count[N_FACTORS]
    cdef double _z[N_FACTORS]
    cdef double _contribution[N_FACTORS]
    cdef double _score
    cdef unsigned char _score_status
    cdef int _direction
    cdef int _confluence
    cdef int _gates
    cdef double _multiplier
    cdef double _regime_multiplier
    cdef int _regime_gates
    cdef int _trend
    cdef public object sampler
    """None, or called at each whole second with (symbol, ts_ns, values, score, mid): the values
    as floats in catalog order, NaN where a factor is not ok (the evaluator's columns)."""

    def __cinit__(self, *args, **kwargs):
        self._seconds = NULL
        self._spreads = NULL
        self._scratch = NULL
        self._vpin_imbalance = NULL
        self._vpin_volume = NULL

    def __init__(self, str symbol, TrackerConfig config):
        cdef Py_ssize_t i, scratch = max(config.spread_history, config.wall_levels)
        self.symbol = symbol
        self.config = config
        self._seconds = <Second*>PyMem_Malloc(SECONDS_KEPT * sizeof(Second))
        self._spreads = <double*>PyMem_Malloc(config.spread_history * sizeof(double))
        self._scratch = <double*>PyMem_Malloc(scratch * sizeof(double))
        self._vpin_imbalance = <double*>PyMem_Malloc(config.vpin_buckets * sizeof(double))
        self._vpin_volume = <double*>PyMem_Malloc(config.vpin_buckets * sizeof(double))
        if (
            self._seconds == NULL or self._spreads == NULL or self._scratch == NULL
            or self._vpin_imbalance == NULL or self._vpin_volume == NULL
        ):
            raise MemoryError()
        self._book = None
        self._next_tick = 0
        self._last_ts = 0
        self._first_event_ns = 0
        self._sync_since = 0
        self._in_sync = False
        self.as_of_ns = 0
        self.ticks = 0
        self._clear_history()
        self._tick_size = INFINITY
        self._spread_head = self._spread_count = 0
        self._cvd = 0.0
        self._size_mean = 0.0
        self._size_trades = 0
        self._vpin_head = self._vpin_count = 0
        self._bucket_buy = self._bucket_sell = self._bucket_volume = 0.0
        memset(self._g_sum, 0, sizeof(self._g_sum))
        memset(self._g_count, 0, sizeof(self._g_count))
        self._vpin = self._median_spread = NAN
        for i in range(N_FACTORS):
            self._values[i] = NAN
            self._status[i] = WARMING_UP
            self._z_mean[i] = self._z_var[i] = 0.0
            self._z_count[i] = 0
            self._z[i] = self._contribution[i] = NAN
        for i in range(N_DETAILS):
            self._details[i] = NAN
        self._score = NAN
        self._score_status = WARMING_UP
        self._direction = self._confluence = self._gates = 0
        self._multiplier = self._regime_multiplier = 1.0
        self._regime_gates = self._trend = 0
        self.sampler = None

    def __dealloc__(self):
        PyMem_Free(self._seconds)
        PyMem_Free(self._spreads)
        PyMem_Free(self._scratch)
        PyMem_Free(self._vpin_imbalance)
        PyMem_Free(self._vpin_volume)

    def __repr__(self) -> str:
        return f"SymbolSignals({self.symbol!r}, as_of_ns={self.as_of_ns}, ticks={self.ticks})"

    cdef void _clear_history(self) noexcept:
        """Forget the tick and second rings (start, or after a long silence)."""
        cdef Py_ssize_t m
        memset(&self._tick, 0, sizeof(Flow))
        memset(&self._second, 0, sizeof(Flow))
        memset(self._whole, 0, sizeof(self._whole))
        for m in range(OFI_LEVELS):
            self._depth[m] = NAN
        self._tick_head = self._tick_count = 0
        self._second_head = self._second_count = 0
        self._prev_mid = NAN
        self._rv = self._cvd_slope = self._divergence = NAN

    # -- the engine's calls ------------------------------------------------------------------

    cdef void on_time(self, long long ts_ns) except *:
        cdef long long cadence = self.config.cadence_ns
        if ts_ns > self._last_ts:
            self._last_ts = ts_ns
        if self._next_tick == 0:
            self._first_event_ns = ts_ns
            self._next_tick = ts_ns - ts_ns % cadence + cadence
            return
        if ts_ns < self._next_tick:
            return
        if (ts_ns - self._next_tick) // cadence >= self.config.max_catch_up:
            self._clear_history()
            self._next_tick = ts_ns - ts_ns % cadence + cadence
            return
        while ts_ns >= self._next_tick:
            self._close_tick(self._next_tick)
            self._next_tick += cadence

    cdef void on_book(self, OrderBook book, object result) except *:
        cdef Levels now
        cdef double e[OFI_LEVELS]
        cdef double gap
        cdef Py_ssize_t m
        self._book = book
        if result is _SNAPSHOT or result is _RESET:
            self._primed = False
        if book.state is not _IN_SYNC or not book.bids._len or not book.asks._len:
            self._in_sync = False
            self._primed = False
            return
        if not self._in_sync:
            self._in_sync = True
            self._sync_since = self._last_ts
            self._primed = False
        read_levels(book, &now)
        if self._primed:
            level_ofi(&self._levels, &now, e)
            for m in range(OFI_LEVELS):
                self._tick.ofi[m] += e[m]
        self._levels = now
        self._primed = True
        gap = smallest_gap(book, 5)
        if gap < self._tick_size:
            self._tick_size = gap

    cdef void on_trades(self, list trades, list sides) except *:
        cdef Py_ssize_t i, n = len(trades)
        cdef long side
        cdef double size
        cdef TrackerConfig config = self.config
        cdef bint large
        for i in range(n):
            side = sides[i]
            if side != _BUY and side != _SELL:
                continue
            size = trades[i].size
            if size <= 0.0:
                continue
            large = (
                self._size_trades >= config.large_warmup_trades
                and size >= config.large_multiple * self._size_mean
            )
            if side == _BUY:
                self._tick.buy += size
                self._cvd += size
                if large:
                    self._tick.large_buy += size
            else:
                self._tick.sell += size
                self._cvd -= size
                if large:
                    self._tick.large_sell += size
            if large:
                self._tick.large_count += 1.0
            if self._size_trades == 0:
                self._size_mean = size
            else:
                self._size_mean += config.size_alpha * (size - self._size_mean)
            self._size_trades += 1
            self._vpin_add(side, size)

    # -- VPIN ---------------------------------------------------------------------------------

    cdef double _bucket_size(self) noexcept:
        """Volume of a new bucket: `vpin_bucket_seconds` of the mean volume per second over
        the last minute of whole seconds (at least 10 of them); 0 while unknown."""
        cdef Py_ssize_t k, n = self._second_count if self._second_count < 60 else 60
        cdef double volume = 0.0
        cdef Second* rec
        if n < 10:
            return 0.0
        for k in range(n):
            rec = &self._seconds[(self._second_head - k + SECONDS_KEPT) % SECONDS_KEPT]
            volume += rec.flow.buy + rec.flow.sell
        return self.config.vpin_bucket_seconds * volume / n

    cdef void _vpin_add(self, long side, double size) noexcept:
        """Fill equal-volume buckets with one trade, splitting it at bucket edges (Easley,
        López de Prado and O'Hara 2012), with the trade's true aggressor side."""
        cdef double room, take
        cdef Py_ssize_t guard = 0
        if self._bucket_volume <= 0.0:
            self._bucket_volume = self._bucket_size()
            if self._bucket_volume <= 0.0:
                return
        while size > 0.0 and guard <= self.config.vpin_buckets:
            room = self._bucket_volume - self._bucket_buy - self._bucket_sell
            take = size if size < room else room
            if side == _BUY:
                self._bucket_buy += take
            else:
                self._bucket_sell += take
            size -= take
            if take >= room:
                self._push_bucket()
                guard += 1

    cdef void _push_bucket(self) noexcept:
        cdef Py_ssize_t cap = self.config.vpin_buckets, k
        cdef double imbalance = 0.0, volume = 0.0, size
        self._vpin_head = (self._vpin_head + 1) % cap
        self._vpin_imbalance[self._vpin_head] = fabs(self._bucket_buy - self._bucket_sell)
        self._vpin_volume[self._vpin_head] = self._bucket_buy + self._bucket_sell
        if self._vpin_count < cap:
            self._vpin_count += 1
        self._bucket_buy = self._bucket_sell = 0.0
        size = self._bucket_size()
        if size > 0.0:
            self._bucket_volume = size
        if self._vpin_count == cap:
            for k in range(cap):
                imbalance += self._vpin_imbalance[k]
                volume += self._vpin_volume[k]
            self._vpin = imbalance / volume if volume > 0.0 else NAN

    # -- ticks and seconds ----------------------------------------------------------------------

    cdef void _close_tick(self, long long boundary) except *:
        cdef int tps = self.config.ticks_per_second
        cdef bint book_ok
        self._tick_head = (self._tick_head + 1) % tps
        self._ticks[self._tick_head] = self._tick
        if self._tick_count < tps:
            self._tick_count += 1
        _add(&self._second, &self._tick)
        memset(&self._tick, 0, sizeof(Flow))
        self.as_of_ns = boundary
        self.ticks += 1
        book_ok = self._in_sync and self._book is not None
        if boundary % _SECOND == 0:
            self._close_second(book_ok)
        self._compute(boundary, book_ok)
        self._score_tick()
        if boundary % _SECOND == 0 and self.sampler is not None:
            self._emit(boundary)

    cdef Second* _second_ago(self, Py_ssize_t k) noexcept:
        """The k-th newest stored second (0: the one that ended last), or NULL."""
        if k >= self._second_count:
            return NULL
        return &self._seconds[(self._second_head - k + SECONDS_KEPT) % SECONDS_KEPT]

    cdef void _close_second(self, bint book_ok) noexcept:
        cdef Second* rec
        cdef OrderBook book = self._book
        cdef Py_ssize_t m
        cdef double mid, spread_bps
        cdef int imbalance_bin, spread_class
        self._second_head = (self._second_head + 1) % SECONDS_KEPT
        if self._second_count < SECONDS_KEPT:
            self._second_count += 1
        rec = &self._seconds[self._second_head]
        rec.flow = self._second
        memset(&self._second, 0, sizeof(Flow))
        self._cvds[self._second_head] = self._cvd
        self._mids[self._second_head] = NAN
        rec.imbalance_top5 = NAN
        for m in range(OFI_LEVELS):
            rec.depth[m] = NAN
        if book_ok:
            mid = (book.asks._levels[0].key - book.bids._levels[0].key) / 2.0
            self._mids[self._second_head] = mid
            rec.imbalance_top5 = top_imbalance(book, 5)
            for m in range(OFI_LEVELS):
                if m < book.bids._len and m < book.asks._len:
                    rec.depth[m] = (book.bids._levels[m].size + book.asks._levels[m].size) / 2.0
            spread_bps = (book.asks._levels[0].key + book.bids._levels[0].key) / mid * 10_000.0
            self._spread_head = (self._spread_head + 1) % self.config.spread_history
            self._spreads[self._spread_head] = spread_bps
            if self._spread_count < self.config.spread_history:
                self._spread_count += 1
            self._learn_stoikov(mid)
        else:
            self._prev_mid = NAN
        self._second_figures()

    cdef void _learn_stoikov(self, double mid) noexcept:
        """Count the last second's mid change (in ticks) under the imbalance bin and spread
        class it started from; halve a cell's sums at `stoikov_max_count` (slow forgetting)."""
        cdef OrderBook book = self._book
        cdef double tick = self._tick_size, spread
        cdef int b, c
        if not isnan(self._prev_mid) and tick < INFINITY:
            b, c = self._prev_bin, self._prev_class
            self._g_sum[c][b] += (mid - self._prev_mid) / tick
            self._g_count[c][b] += 1.0
            if self._g_count[c][b] >= self.config.stoikov_max_count:
                self._g_sum[c][b] /= 2.0
                self._g_count[c][b] /= 2.0
        spread = book.asks._levels[0].key + book.bids._levels[0].key
        self._prev_mid = mid
        self._prev_class = 0 if tick < INFINITY and spread <= 1.5 * tick else 1
        self._prev_bin = _bin_of(top_imbalance(book, 1))

    cdef double _mid_ago(self, Py_ssize_t k) noexcept:
        """The mid at the end of the k-th newest stored second (NaN: none, or out of sync)."""
        if k >= self._second_count:
            return NAN
        return self._mids[(self._second_head - k + SECONDS_KEPT) % SECONDS_KEPT]

    cdef double _cvd_ago(self, Py_ssize_t k) noexcept:
        return self._cvds[(self._second_head - k + SECONDS_KEPT) % SECONDS_KEPT]

    cdef void _second_figures(self) noexcept:
        """Window sums of whole seconds, mean depths, realised volatility, CVD slope and
        divergence, median spread: at whole seconds."""
        cdef Py_ssize_t k, m, n = 0, counted[OFI_LEVELS]
        cdef Second* a
        cdef double r, squares = 0.0, volume = 0.0, mean_x, mean_y, sxy = 0.0, sxx = 0.0
        cdef double new, old
        cdef double flow30, sigma, move
        cdef Flow empty
        memset(&empty, 0, sizeof(Flow))
        self._whole[0] = self._whole[1] = self._whole[2] = empty
        for m in range(OFI_LEVELS):
            self._depth[m] = 0.0
            counted[m] = 0
        for k in range(self._second_count if self._second_count < 60 else 60):
            a = self._second_ago(k)
            if k < 5:
                _add(&self._whole[0], &a.flow)
            if k < 30:
                _add(&self._whole[1], &a.flow)
                for m in range(OFI_LEVELS):
                    if not isnan(a.depth[m]):
                        self._depth[m] += a.depth[m]
                        counted[m] += 1
            _add(&self._whole[2], &a.flow)
        for m in range(OFI_LEVELS):
            self._depth[m] = self._depth[m] / counted[m] if counted[m] else NAN
        # realised volatility: sum of squared 1 s log-returns over the last minute, scaled up
        # to 60 returns when some seconds were out of sync
        for k in range(RV_RETURNS):
            if k + 1 >= self._second_count:
                break
            new, old = self._mid_ago(k), self._mid_ago(k + 1)
            if not isnan(new) and not isnan(old):
                r = log(new / old)
                squares += r * r
                n += 1
        self._rv = (
            sqrt(squares * RV_RETURNS / n) * 10_000.0 if n >= self.config.rv_min_returns else NAN
        )
        # CVD slope: least squares over 31 samples (x = seconds), over the mean volume per s
        self._cvd_slope = NAN
        self._divergence = NAN
        if self._second_count > CVD_SECONDS:
            mean_x = -CVD_SECONDS / 2.0
            mean_y = 0.0
            for k in range(CVD_SECONDS + 1):
                mean_y += self._cvd_ago(k)
            mean_y /= CVD_SECONDS + 1
            for k in range(CVD_SECONDS + 1):
                sxy += (-k - mean_x) * (self._cvd_ago(k) - mean_y)
                sxx += (-k - mean_x) * (-k - mean_x)
            volume = (self._whole[1].buy + self._whole[1].sell) / CVD_SECONDS
            flow30 = self._whole[1].buy - self._whole[1].sell
            self._cvd_slope = (sxy / sxx) / volume if volume > 0.0 else 0.0
            # divergence: flow imbalance against the volatility-scaled price move
            new, old = self._mid_ago(0), self._mid_ago(CVD_SECONDS)
            if not isnan(self._rv) and not isnan(new) and not isnan(old):
                sigma = self._rv / 10_000.0 / sqrt(<double>RV_RETURNS) * sqrt(<double>CVD_SECONDS)
                move = tanh(log(new / old) / sigma) if sigma > 0.0 else 0.0
                self._divergence = (flow30 / (volume * CVD_SECONDS) if volume > 0.0 else 0.0) - move
        if self._spread_count >= self.config.spread_min_samples:
            for k in range(self._spread_count):
                self._scratch[k] = self._spreads[k]
            self._median_spread = median_of(self._scratch, self._spread_count)
        else:
            self._median_spread = NAN

    # -- factors --------------------------------------------------------------------------------

    cdef void _set(self, int factor, double value, unsigned char status) noexcept:
        self._values[factor] = value if status == OK else NAN
        self._status[factor] = status

    cdef void _window(self, int whole, Flow* out) noexcept:
        """The current second's closed ticks plus the whole seconds of _whole[whole]."""
        out[0] = self._second
        _add(out, &self._whole[whole])

    cdef void _compute(self, long long boundary, bint book_ok) noexcept:
        cdef TrackerConfig config = self.config
        cdef Flow w1, w5, w30, w60
        cdef Py_ssize_t k
        cdef long long second_start = boundary - boundary % _SECOND
        cdef long long starts[4]
        starts[0] = boundary - _SECOND
        starts[1] = second_start - 5 * _SECOND
        starts[2] = second_start - 30 * _SECOND
        starts[3] = second_start - 60 * _SECOND
        memset(&w1, 0, sizeof(Flow))
        for k in range(self._tick_count):
            _add(&w1, &self._ticks[k])
        self._window(0, &w5)
        self._window(1, &w30)
        self._window(2, &w60)
        # trade flow: observed since the first event, or warming up
        self._flow(F_FLOW_1S, &w1, starts[0])
        self._flow(F_FLOW_5S, &w5, starts[1])
        self._flow(F_FLOW_30S, &w30, starts[2])
        self._flow(F_FLOW_1M, &w60, starts[3])
        self._set(
            F_LARGE,
            _ratio(w30.large_buy, w30.large_sell),
            OK if starts[2] >= self._first_event_ns and self._size_trades >= config.large_warmup_trades
            else WARMING_UP,
        )
        self._details[D_LARGE_COUNT] = w30.large_count
        self._set(F_CVD_SLOPE, self._cvd_slope, WARMING_UP if isnan(self._cvd_slope) else OK)
        self._set(F_VPIN, self._vpin, WARMING_UP if isnan(self._vpin) else OK)
        self._details[D_VPIN_BUCKET] = self._bucket_volume if self._bucket_volume > 0.0 else NAN
        self._details[D_TICK] = self._tick_size if self._tick_size < INFINITY else NAN
        self._details[D_MEDIAN_SPREAD] = self._median_spread
        if book_ok:
            self._book_factors(boundary, &w1, &w5, &w30, starts)
        else:
            for k in range(N_FACTORS):
                if _BOOK_FACTOR[k]:
                    self._set(<int>k, NAN, UNAVAILABLE)
            for k in (D_WALL_BID_DISTANCE, D_WALL_BID_RELATIVE, D_WALL_ASK_DISTANCE,
                      D_WALL_ASK_RELATIVE, D_MID):
                self._details[k] = NAN

    cdef void _flow(self, int factor, const Flow* window, long long start) noexcept:
        self._set(
            factor,
            _ratio(window.buy, window.sell),
            OK if start >= self._first_event_ns else WARMING_UP,
        )

    cdef void _book_factors(
        self, long long boundary, const Flow* w1, const Flow* w5, const Flow* w30,
        long long* starts
    ) noexcept:
        cdef TrackerConfig config = self.config
        cdef OrderBook book = self._book
        cdef double bid = -book.bids._levels[0].key, bid_size = book.bids._levels[0].size
        cdef double ask = book.asks._levels[0].key, ask_size = book.asks._levels[0].size
        cdef double mid = (bid + ask) / 2.0, spread = ask - bid, depth[OFI_LEVELS], g, n
        cdef double pressure = 0.0, spread_bps
        cdef Py_ssize_t m
        cdef Second* rec
        cdef Walls walls
        cdef int b, c
        self._details[D_MID] = mid
        self._set(F_IMB_TOP1, top_imbalance(book, 1), OK)
        self._set(F_IMB_TOP5, top_imbalance(book, 5), OK)
        self._set(F_IMB_TOP10, top_imbalance(book, 10), OK)
        self._set(F_IMB_BPS10, band_imbalance(book, 10.0), OK)
        self._set(F_IMB_BPS25, band_imbalance(book, 25.0), OK)
        rec = self._second_ago(5)
        if rec != NULL and not isnan(rec.imbalance_top5):
            self._set(F_IMB_CHANGE, self._values[F_IMB_TOP5] - rec.imbalance_top5, OK)
        else:
            self._set(F_IMB_CHANGE, NAN, WARMING_UP)
        # depth of each level: mean of the last 30 whole-second samples (the book now if none)
        for m in range(OFI_LEVELS):
            depth[m] = self._depth[m]
            if isnan(depth[m]):
                depth[m] = (
                    (book.bids._levels[m].size + book.asks._levels[m].size) / 2.0
                    if m < book.bids._len and m < book.asks._len
                    else 0.0
                )
        self._ofi(F_OFI_1S, F_MLOFI_1S, w1, depth, starts[0])
        self._ofi(F_OFI_5S, F_MLOFI_5S, w5, depth, starts[1])
        self._ofi(F_OFI_30S, F_MLOFI_30S, w30, depth, starts[2])
        # microprice (Stoikov 2018): weighted mid, and the learnt adjustment g(I, S)
        self._set(
            F_MICRO,
            ((bid * ask_size + ask * bid_size) / (bid_size + ask_size) - mid) / mid * 10_000.0,
            OK,
        )
        if self._tick_size < INFINITY:
            b = _bin_of(self._values[F_IMB_TOP1])
            c = 0 if spread <= 1.5 * self._tick_size else 1
            n = self._g_count[c][b] + self._g_count[c][STOIKOV_BINS - 1 - b]
            if n >= config.stoikov_min_count:
                g = (self._g_sum[c][b] - self._g_sum[c][STOIKOV_BINS - 1 - b]) / n
                self._set(F_STOIKOV, g * self._tick_size / mid * 10_000.0, OK)
            else:
                self._set(F_STOIKOV, NAN, WARMING_UP)
            self._set(F_SPREAD_TICKS, floor(spread / self._tick_size + 0.5), OK)
        else:
            self._set(F_STOIKOV, NAN, WARMING_UP)
            self._set(F_SPREAD_TICKS, NAN, WARMING_UP)
        # walls: the nearest large level of each side, closer is stronger
        nearest_walls(book, config.wall_levels, config.wall_multiple, self._scratch, &walls)
        self._details[D_WALL_BID_DISTANCE] = walls.bid_distance_bps
        self._details[D_WALL_BID_RELATIVE] = walls.bid_relative
        self._details[D_WALL_ASK_DISTANCE] = walls.ask_distance_bps
        self._details[D_WALL_ASK_RELATIVE] = walls.ask_relative
        if not isnan(walls.bid_distance_bps):
            pressure += 1.0 / (1.0 + walls.bid_distance_bps / config.wall_scale_bps)
        if not isnan(walls.ask_distance_bps):
            pressure -= 1.0 / (1.0 + walls.ask_distance_bps / config.wall_scale_bps)
        self._set(F_WALL, pressure, OK)
        spread_bps = spread / mid * 10_000.0
        if isnan(self._median_spread) or self._median_spread <= 0.0:
            self._set(F_SPREAD_RATIO, NAN, WARMING_UP)
        else:
            self._set(F_SPREAD_RATIO, spread_bps / self._median_spread, OK)
        self._set(F_RV, self._rv, WARMING_UP if isnan(self._rv) else OK)
        self._set(
            F_CVD_DIVERGENCE, self._divergence, WARMING_UP if isnan(self._divergence) else OK
        )

    cdef void _ofi(
        self, int best, int multi, const Flow* window, const double* depth, long long start
    ) noexcept:
        """Best-level and multi-level OFI of a window, each level over its mean depth; warming
        up until the window lies wholly after the book came (back) in sync."""
        cdef double total = 0.0
        cdef Py_ssize_t m, levels = 0
        if start < self._sync_since or start < self._first_event_ns:
            self._set(best, NAN, WARMING_UP)
            self._set(multi, NAN, WARMING_UP)
            return
        self._set(best, window.ofi[0] / depth[0] if depth[0] > 0.0 else 0.0, OK)
        for m in range(OFI_LEVELS):
            if depth[m] > 0.0:
                total += window.ofi[m] / depth[m]
                levels += 1
        self._set(multi, total / levels if levels else 0.0, OK)

    # -- score ----------------------------------------------------------------------------------

    cdef void _score_tick(self) noexcept:
        """score = sum of w * tanh(z / squash) over the ready weighted factors, divided by the
        sum of their |w|, times the gates; z against each factor's own exponentially weighted
        mean and variance of the ticks before (TRADING.md: combine factors after z-scoring)."""
        cdef TrackerConfig config = self.config
        cdef Py_ssize_t i
        cdef double w, x, z, delta, ready = 0.0, raw = 0.0, multiplier
        cdef int gates = self._regime_gates << GATE_REGIME_SHIFT, direction = 0, agree = 0
        for i in range(N_FACTORS):
            w = config._weights[i]
            self._z[i] = NAN
            self._contribution[i] = NAN
            if w == 0.0 or self._status[i] != OK:
                continue
            x = self._values[i]
            if self._z_count[i] >= config.z_warmup_ticks and self._z_var[i] > 0.0:
                z = (x - self._z_mean[i]) / sqrt(self._z_var[i])
                self._z[i] = z
                self._contribution[i] = w * tanh(z / config.squash)
                raw += self._contribution[i]
                ready += fabs(w)
            delta = x - self._z_mean[i]
            if self._z_count[i] == 0:
                self._z_mean[i] = x
            else:
                self._z_mean[i] += config.z_alpha * delta
                self._z_var[i] = (1.0 - config.z_alpha) * (
                    self._z_var[i] + config.z_alpha * delta * delta
                )
            self._z_count[i] += 1
        if config.total_weight <= 0.0 or ready < config.min_ready_share * config.total_weight:
            self._score = NAN
            self._score_status = WARMING_UP
            self._direction = self._confluence = 0
            self._gates = gates
            self._multiplier = self._regime_multiplier
            for i in range(N_FACTORS):
                self._contribution[i] = NAN
            return
        raw /= ready
        multiplier = self._regime_multiplier
        if self._status[F_VPIN] == OK and self._values[F_VPIN] >= config.vpin_toxic:
            multiplier *= config.vpin_gate
            gates |= GATE_VPIN
        if self._status[F_SPREAD_RATIO] == OK and self._values[F_SPREAD_RATIO] >= config.spread_wide:
            multiplier *= config.spread_gate
            gates |= GATE_SPREAD
        if self._trend * raw < 0.0:
            multiplier *= config.counter_trend_gate
            gates |= GATE_COUNTER_TREND
        self._score = raw * multiplier
        for i in range(N_FACTORS):
            if not isnan(self._contribution[i]):
                self._contribution[i] *= multiplier / ready
        if self._score >= config.direction_threshold:
            direction = 1
        elif self._score <= -config.direction_threshold:
            direction = -1
        if direction:
            for i in range(N_FACTORS):
                z = self._z[i]
                if not isnan(z) and fabs(z) >= config.confluence_z and (
                    (config._weights[i] * z > 0.0) == (direction > 0)
                ):
                    agree += 1
        self._score_status = OK
        self._direction = direction
        self._confluence = agree
        self._gates = gates
        self._multiplier = multiplier

    cdef void _emit(self, long long boundary) except *:
        cdef Py_ssize_t i
        values = tuple([self._values[i] for i in range(N_FACTORS)])
        self.sampler(self.symbol, boundary, values, self._score, self._details[D_MID])

    # -- Python face ----------------------------------------------------------------------------

    def set_context(self, str name, value) -> None:
        """Set a candle-based context factor (None: warming up)."""
        cdef int index = CONTEXT_FACTORS[name]
        if value is None:
            self._set(index, NAN, WARMING_UP)
        else:
            self._set(index, value, OK)

    def set_regime_gates(self, double multiplier, int gates, int trend) -> None:
        """The regimes' part of the score's gate: multiplier and gate bits of the active
        regimes, and the trend's sign (-1, 0, 1) for the counter-trend gate."""
        self._regime_multiplier = multiplier
        self._regime_gates = gates
        self._trend = trend

    def read(self) -> tuple:
        """(values, statuses, z, contributions, details) as lists in catalog order (None for
        a value that is not ok), then (score or None, score status, direction, confluence, gate
        bits, multiplier, book in sync)."""
        cdef Py_ssize_t i
        values = [None if isnan(self._values[i]) else self._values[i] for i in range(N_FACTORS)]
        statuses = [self._status[i] for i in range(N_FACTORS)]
        zs = [None if isnan(self._z[i]) else self._z[i] for i in range(N_FACTORS)]
        parts = [
            None if isnan(self._contribution[i]) else self._contribution[i]
            for i in range(N_FACTORS)
        ]
        details = [None if isnan(self._details[i]) else self._details[i] for i in range(N_DETAILS)]
        return (
            values,
            statuses,
            zs,
            parts,
            details,
            None if isnan(self._score) else self._score,
            self._score_status,
            self._direction,
            self._confluence,
            self._gates,
            self._multiplier,
            self._in_sync,
        )

    @property
    def score(self):
        """The score, or None while warming up."""
        return None if isnan(self._score) else self._score

    @property
    def direction(self) -> int:
        """1 long, -1 short, 0 flat."""
        return self._direction

    @property
    def confluence(self) -> int:
        return self._confluence


cdef inline int _bin_of(double signed_imbalance) noexcept:
    """Stoikov's imbalance bin of a top-1 imbalance in [-1, 1] (ratio I in [0, 1])."""
    cdef int b = <int>floor((signed_imbalance + 1.0) / 2.0 * STOIKOV_BINS)
    return 0 if b < 0 else (STOIKOV_BINS - 1 if b >= STOIKOV_BINS else b)
