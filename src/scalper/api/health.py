"""Feed and process health: per-connection state, lag, gaps, resyncs, reconnects, decode errors.

The feed is serving when at least one connection is open and some frame arrived within
`stale_after_s`; otherwise the health endpoint answers 503 so that a load balancer or a
supervisor can act.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

import msgspec
import psutil

from scalper.engine import Engine
from scalper.feed_status import FeedConnection, MarketFeed, RecordingProcessStats
from scalper.storage.budget import WARN_AT
from scalper.storage.recorder import Recorder, RecorderStats

SERVING: Final = frozenset({"ok", "degraded"})


class ConnectionHealth(msgspec.Struct):
    name: str
    url: str
    state: str
    topics: int
    symbols: int
    frames: int
    connects: int
    reconnects: int
    stale_timeouts: int
    last_error: str
    last_frame_age_ms: float | None
    lag_ms: float | None
    """Receive time minus venue event time of the newest frame among this connection's
    symbols' last frames (the worst current lag)."""
    max_lag_ms: float | None
    gaps: int
    resyncs_requested: int
    resyncs_sent: int
    decode_errors: int
    """Malformed frames attributed to this connection's symbols."""
    control_messages: int
    """Replies of the venue that are not market data (acks, pongs), consumed by its session."""
    pid: int | None = None
    """Scale-out worker (`--workers N`) only: its process, its stream position (newest batch
    stored and newest applied by the engine) and the receive-to-apply lag of its newest frame."""
    stream_seq: int | None = None
    applied_seq: int | None = None
    apply_lag_ms: float | None = None


class DataDirHealth(msgspec.Struct):
    path: str | None = None
    recording: bool = False
    bytes_used: int | None = None
    max_bytes: int | None = None
    usage_pct: float | None = None
    warning: str | None = None
    """Set when usage is at or above 80 % of the budget, or when frames were dropped."""
    files: int | None = None
    segments: int | None = None
    recorder: RecorderStats | None = None
    frames_process: RecordingProcessStats | None = None
    """Scale-out with the recorder consumer: the process that records the raw frames (the
    `recorder` figures above then count candles, metrics and trading rows only)."""


class HealthView(msgspec.Struct):
    status: str
    """ok, degraded (some connection down or stale), stale, down or no_feed."""
    reason: str | None
    uptime_s: float
    rss_bytes: int
    frames: int
    symbols: int
    books_in_sync: int
    last_frame_age_ms: float | None
    stale_after_s: float
    decode_errors: dict[str, int]
    """Malformed frames by kind, engine-wide."""
    decode_errors_total: int
    connections: list[ConnectionHealth]
    ws_clients: int
    ws_clients_dropped: int
    data_dir: DataDirHealth


def _ms(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e6


class HealthReporter:
    """Builds the health view from the engine, the feed (`MarketFeed`) and the recorder."""

    def __init__(
        self,
        engine: Engine,
        feed: MarketFeed | None,
        started_ns: int,
        stale_after_s: float,
        recorder: Recorder | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.engine = engine
        self.clock = clock
        """Now, in ns: the wall clock, or a paced replay's clock."""
        self.recorder = recorder
        self.feed = feed
        self.started_ns = started_ns
        self.stale_after_s = stale_after_s
        self._process = psutil.Process()

    def feed_status(self) -> tuple[str, str | None]:
        """The report's status and reason alone (for alerts: no memory or book figures)."""
        now_ns = self.clock()
        connections = [self._connection(c, now_ns) for c in self._connections()]
        last_frame_ns = max((c.stats.last_frame_ns for c in self._connections()), default=0)
        return self._status(connections, (now_ns - last_frame_ns) / 1e6 if last_frame_ns else None)

    def report(self, ws_clients: int = 0, ws_clients_dropped: int = 0) -> HealthView:
        now_ns = self.clock()
        engine = self.engine
        connections = [self._connection(c, now_ns) for c in self._connections()]
        last_frame_ns = max((c.stats.last_frame_ns for c in self._connections()), default=0)
        last_frame_age_ms = (now_ns - last_frame_ns) / 1e6 if last_frame_ns else None
        status, reason = self._status(connections, last_frame_age_ms)
        books = [state.book for state in engine.symbols.values() if state.book is not None]
        return HealthView(
            status=status,
            reason=reason,
            uptime_s=max(0.0, (now_ns - self.started_ns) / 1e9),
            rss_bytes=self._process.memory_info().rss,
            frames=engine.frames,
            symbols=len(engine.symbols),
            books_in_sync=sum(book.in_sync for book in books),
            last_frame_age_ms=last_frame_age_ms,
            stale_after_s=self.stale_after_s,
            decode_errors=dict(sorted(engine.malformed.items())),
            decode_errors_total=sum(engine.malformed.values()),
            connections=connections,
            ws_clients=ws_clients,
            ws_clients_dropped=ws_clients_dropped,
            data_dir=self._data_dir(),
        )

    def _data_dir(self) -> DataDirHealth:
        recorder = self.recorder
        frames_process = self.feed.recording_process if self.feed is not None else None
        if recorder is None:
            return DataDirHealth(frames_process=frames_process)
        usage = recorder.usage
        stats = recorder.refresh_stats()
        share = usage.share
        warnings = []
        if usage.warning:
            warnings.append(
                f"disk usage at {100 * (share or 0):.0f}% of the budget "
                f"(warns from {100 * WARN_AT:.0f}%)"
            )
        if stats.frames_dropped:
            warnings.append(
                f"{stats.frames_dropped} frames dropped (the writer fell behind or could not write)"
            )
        if stats.write_errors:
            warnings.append(f"{stats.write_errors} write errors, last: {stats.last_error}")
        if frames_process is not None:
            if frames_process.pid is None:
                warnings.append("the recorder consumer is restarting")
            if frames_process.frames_dropped or frames_process.write_errors:
                warnings.append(
                    f"recorder consumer: {frames_process.frames_dropped} frames dropped, "
                    f"{frames_process.write_errors} write errors ({frames_process.last_error})"
                )
        return DataDirHealth(
            path=str(recorder.data_dir),
            recording=True,
            bytes_used=usage.bytes_used,
            max_bytes=usage.max_bytes,
            usage_pct=None if share is None else round(100 * share, 2),
            warning="; ".join(warnings) or None,
            files=usage.files,
            segments=usage.segments,
            recorder=stats,
            frames_process=frames_process,
        )

    def _connections(self) -> Sequence[FeedConnection]:
        return self.feed.connections if self.feed is not None else ()

    def _status(
        self, connections: list[ConnectionHealth], last_frame_age_ms: float | None
    ) -> tuple[str, str | None]:
        if self.feed is None:
            return "no_feed", "no live feed in this process"
        stale_ms = self.stale_after_s * 1000.0
        open_count = sum(c.state == "open" for c in connections)
        if open_count == 0:
            return "down", "no connection open"
        if last_frame_age_ms is None or last_frame_age_ms > stale_ms:
            return "stale", f"no frame for more than {self.stale_after_s:g} s"
        lagging = [
            c.name
            for c in connections
            if c.state != "open" or c.last_frame_age_ms is None or c.last_frame_age_ms > stale_ms
        ]
        if lagging:
            return "degraded", f"not open or stale: {', '.join(lagging)}"
        return "ok", None

    def _connection(self, connection: FeedConnection, now_ns: int) -> ConnectionHealth:
        stats = connection.stats
        symbols = connection.symbols
        feed_stats = self.feed.symbol_stats if self.feed is not None else {}
        states = [self.engine.symbols[s] for s in symbols if s in self.engine.symbols]
        received = [feed_stats[s] for s in symbols if s in feed_stats and feed_stats[s].frames]
        newest = max(received, key=lambda s: s.last_recv_ns, default=None)
        return ConnectionHealth(
            name=connection.name,
            url=stats.url,
            state=stats.state,
            topics=stats.topics,
            symbols=len(symbols),
            frames=stats.frames,
            connects=stats.connects,
            reconnects=stats.reconnects,
            stale_timeouts=stats.stale_timeouts,
            last_error=stats.last_error,
            last_frame_age_ms=(now_ns - stats.last_frame_ns) / 1e6 if stats.last_frame_ns else None,
            lag_ms=_ms(newest.last_lag_ns if newest is not None else None),
            max_lag_ms=_ms(max((s.max_lag_ns for s in received), default=None)),
            gaps=sum(state.counters.gaps for state in states),
            resyncs_requested=sum(state.counters.resyncs_requested for state in states),
            resyncs_sent=stats.resyncs_sent,
            decode_errors=sum(state.counters.malformed for state in states),
            control_messages=stats.control_messages,
            pid=stats.pid or None,
            stream_seq=stats.stream_seq if stats.pid else None,
            applied_seq=stats.applied_seq if stats.pid else None,
            apply_lag_ms=stats.apply_lag_ns / 1e6 if stats.pid else None,
        )
