"""Prometheus exposition, read from the engine at scrape time.

A custom collector rather than counters bumped on the hot path: the engine already counts
everything, so a scrape costs O(symbols) once per scrape and nothing per frame.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from scalper.api.health import ConnectionHealth, DataDirHealth, HealthReporter
from scalper.api.trading_metrics import TradingCollector
from scalper.engine import Engine
from scalper.feed_status import RecordingProcessStats
from scalper.signals import REGIMES, SignalEngine
from scalper.trading.trader import Trader

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCORE_BUCKETS = (-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
"""Upper edges of the score distribution's buckets (the last is +Inf)."""

_SYMBOL_COUNTERS = (
    ("frames", "Frames applied"),
    ("trades", "Trades received"),
    ("gaps", "Book update-id gaps"),
    ("resyncs_requested", "Book resyncs requested"),
    ("malformed", "Malformed frames"),
    ("large_trades", "Large trades"),
)


class EngineCollector(Collector):
    """Engine, per-symbol, per-connection and process figures."""

    def __init__(
        self, engine: Engine, health: HealthReporter, signals: SignalEngine | None = None
    ) -> None:
        self.engine = engine
        self.health = health
        self.signals = signals

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        yield CounterMetricFamily(
            "scalper_engine_frames", "Frames the engine applied", value=engine.frames
        )
        malformed = CounterMetricFamily(
            "scalper_decode_errors", "Malformed frames by kind", labels=["kind"]
        )
        for kind, count in sorted(engine.malformed.items()):
            malformed.add_metric([kind], count)
        yield malformed
        yield GaugeMetricFamily("scalper_symbols", "Tracked symbols", value=len(engine.symbols))
        yield from self._symbols()
        if self.signals is not None:
            yield from self._signals(self.signals)
        yield from self._health()

    def _symbols(self) -> Iterator[Metric]:
        engine = self.engine
        counters = {
            name: CounterMetricFamily(f"scalper_symbol_{name}", doc, labels=["symbol"])
            for name, doc in _SYMBOL_COUNTERS
        }
        in_sync = GaugeMetricFamily(
            "scalper_book_in_sync", "1 if the book is in sync", labels=["symbol"]
        )
        spread = GaugeMetricFamily(
            "scalper_spread_bps",
            "Spread in bps of the mid (books in sync only: an out-of-sync book's is stale)",
            labels=["symbol"],
        )
        for symbol in sorted(engine.symbols):
            state = engine.symbols[symbol]
            for name, family in counters.items():
                family.add_metric([symbol], getattr(state.counters, name))
            book = state.book
            in_sync.add_metric([symbol], 1.0 if book is not None and book.in_sync else 0.0)
            spread_bps = book.spread_bps() if book is not None and book.in_sync else None
            if spread_bps is not None:
                spread.add_metric([symbol], spread_bps)
        yield from counters.values()
        yield in_sync
        yield spread

    def _signals(self, signals: SignalEngine) -> Iterator[Metric]:
        """Regime counts, each symbol's score and the score's distribution across symbols."""
        regimes = GaugeMetricFamily(
            "scalper_signal_regime_symbols",
            "Symbols in each state of each regime (warming_up included)",
            labels=["regime", "state"],
        )
        scores = GaugeMetricFamily(
            "scalper_signal_score",
            "Signal score in [-1, 1] (ready symbols only)",
            labels=["symbol"],
        )
        counts: dict[tuple[str, str], int] = {}
        values: list[float] = []
        warming = 0
        for symbol in sorted(signals.trackers):
            summary = signals.summary(symbol)
            if summary is None:
                continue
            for regime in REGIMES:
                key = (regime, summary.regimes[regime])
                counts[key] = counts.get(key, 0) + 1
            if summary.score is None:
                warming += 1
            else:
                values.append(summary.score)
                scores.add_metric([symbol], summary.score)
        for (regime, state), count in sorted(counts.items()):
            regimes.add_metric([regime, state], count)
        buckets = [
            (f"{edge:g}", sum(1 for value in values if value <= edge)) for edge in SCORE_BUCKETS
        ]
        distribution = GaugeHistogramMetricFamily(
            "scalper_signal_score_distribution",
            "Symbols by signal score now (cumulative buckets)",
            buckets=[*buckets, ("+Inf", len(values))],
            gsum_value=sum(values),
        )
        yield regimes
        yield scores
        yield distribution
        yield GaugeMetricFamily(
            "scalper_signal_score_warming_up", "Symbols whose score is warming up", value=warming
        )

    def _health(self) -> Iterator[Metric]:
        report = self.health.report()
        yield GaugeMetricFamily(
            "scalper_up",
            "1 if the feed is serving",
            value=float(report.status in ("ok", "degraded")),
        )
        yield GaugeMetricFamily(
            "scalper_process_rss_bytes", "Resident memory", value=report.rss_bytes
        )
        yield GaugeMetricFamily(
            "scalper_uptime_seconds", "Seconds since start", value=report.uptime_s
        )
        up = GaugeMetricFamily(
            "scalper_connection_open", "1 if the connection is open", labels=["connection"]
        )
        reconnects = CounterMetricFamily(
            "scalper_connection_reconnects", "Reconnects", labels=["connection"]
        )
        frames = CounterMetricFamily(
            "scalper_connection_frames", "Frames received", labels=["connection"]
        )
        lag = GaugeMetricFamily(
            "scalper_connection_lag_seconds",
            "Receive minus event time of the newest frame",
            labels=["connection"],
        )
        for connection in report.connections:
            name = [connection.name]
            up.add_metric(name, 1.0 if connection.state == "open" else 0.0)
            reconnects.add_metric(name, connection.reconnects)
            frames.add_metric(name, connection.frames)
            if connection.lag_ms is not None:
                lag.add_metric(name, connection.lag_ms / 1000.0)
        yield from (up, reconnects, frames, lag)
        yield from _workers(report.connections)
        yield from self._recorder(report.data_dir)
        yield from _recording_process(report.data_dir.frames_process)

    def _recorder(self, data_dir: DataDirHealth) -> Iterator[Metric]:
        """What health reports of the data dir, once it records (nothing otherwise)."""
        stats = data_dir.recorder
        if stats is None:
            return
        yield CounterMetricFamily(
            "scalper_recorder_frames_recorded",
            "Frames written to segments",
            value=stats.frames_recorded,
        )
        yield CounterMetricFamily(
            "scalper_recorder_frames_dropped",
            "Frames dropped because the writer fell behind",
            value=stats.frames_dropped,
        )
        yield CounterMetricFamily(
            "scalper_recorder_write_errors", "Failed disk operations", value=stats.write_errors
        )
        yield GaugeMetricFamily(
            "scalper_recorder_queue_depth", "Chunks waiting for the writer", value=stats.queue_depth
        )
        yield GaugeMetricFamily(
            "scalper_data_dir_bytes", "Bytes the data dir holds", value=data_dir.bytes_used or 0
        )
        if data_dir.max_bytes is not None:
            yield GaugeMetricFamily(
                "scalper_data_dir_budget_bytes",
                "The data dir's disk budget",
                value=data_dir.max_bytes,
            )


def _recording_process(process: RecordingProcessStats | None) -> Iterator[Metric]:
    """The recorder consumer (`--workers N`), when it records the frames."""
    if process is None:
        return
    yield GaugeMetricFamily(
        "scalper_recorder_consumer_recorded_seq",
        "Newest stream sequence the recorder consumer has on disk",
        value=process.recorded_seq,
    )
    yield GaugeMetricFamily(
        "scalper_recorder_consumer_pending",
        "Stream messages not yet delivered to the recorder consumer",
        value=process.pending,
    )
    yield CounterMetricFamily(
        "scalper_recorder_consumer_restarts",
        "Times the supervisor restarted the recorder consumer",
        value=process.restarts,
    )


def _workers(connections: list[ConnectionHealth]) -> Iterator[Metric]:
    """Scale-out workers (`--workers N`): stream position and receive-to-apply lag."""
    workers = [c for c in connections if c.pid is not None]
    if not workers:
        return
    stored = GaugeMetricFamily(
        "scalper_worker_stream_seq", "Newest stream sequence stored", labels=["worker"]
    )
    applied = GaugeMetricFamily(
        "scalper_worker_applied_seq", "Newest stream sequence applied", labels=["worker"]
    )
    apply_lag = GaugeMetricFamily(
        "scalper_worker_apply_lag_seconds",
        "Engine apply minus worker receive time of the newest frame",
        labels=["worker"],
    )
    for worker in workers:
        name = [worker.name]
        stored.add_metric(name, worker.stream_seq or 0)
        applied.add_metric(name, worker.applied_seq or 0)
        apply_lag.add_metric(name, (worker.apply_lag_ms or 0.0) / 1000.0)
    yield from (stored, applied, apply_lag)


def exposition(
    engine: Engine,
    health: HealthReporter,
    signals: SignalEngine | None = None,
    trader: Trader | None = None,
) -> bytes:
    """The text exposition format of one scrape (a fresh registry: nothing kept between)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine, health, signals))
    if trader is not None:
        registry.register(TradingCollector(trader))
    return generate_latest(registry)
