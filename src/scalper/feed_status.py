"""What a market-data feed tells the rest of the system about itself, whatever the venue.

The API's health report, the Prometheus exposition and the WebSocket stream read a feed only
through `MarketFeed`: the venue adapter that implements it (e.g. `venues.bybit.feed.LiveFeed`)
stays below them, and nothing above the venues imports a venue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from scalper.events import Instrument


class ConnectionStats(msgspec.Struct):
    """What happened to one connection of a feed."""

    name: str
    url: str
    topics: int
    """Streams (topics, channels) this connection carries."""
    state: str = "starting"
    """starting, connecting, subscribing, open, backoff or stopped."""
    connects: int = 0
    reconnects: int = 0
    frames: int = 0
    stale_timeouts: int = 0
    last_error: str = ""
    last_frame_ns: int = 0
    resyncs_sent: int = 0
    control_messages: int = 0
    """Replies of the venue that are not market data (acks, pongs), consumed by the session."""
    pid: int = 0
    """The process behind it, when it is a scale-out worker (`--workers N`); 0 otherwise."""
    stream_seq: int = 0
    """Scale-out: stream sequence of the newest batch of this worker the stream stored."""
    applied_seq: int = 0
    """Scale-out: stream sequence of the newest batch of this worker the engine applied."""
    apply_lag_ns: int = 0
    """Scale-out: engine apply time minus worker receive time, newest frame applied."""


class RecordingProcessStats(msgspec.Struct):
    """The process recording a scale-out run's raw frames (the recorder consumer, `--workers N`
    with `scaleout.recorder_consumer`), as its newest report and its supervisor see it."""

    pid: int | None
    """None while it is being restarted."""
    restarts: int
    recorded_seq: int
    """Stream sequence of the newest message on disk."""
    stream_seq: int
    """The stream's newest sequence at its last report."""
    pending: int
    """Messages in the stream not yet delivered to it: its lag."""
    frames: int
    """Frames the current process recorded."""
    frames_dropped: int
    write_errors: int
    last_error: str


class SymbolFeedStats(msgspec.Struct):
    """Receive-side figures of one symbol."""

    frames: int = 0
    last_recv_ns: int = 0
    last_lag_ns: int = 0
    """Local receive time minus the venue's event time of the last frame."""
    max_lag_ns: int = 0
    resyncs_sent: int = 0
    frames_per_s: float = 0.0
    """Frames received per second over the last rate window (updated by the feed's timer)."""
    rate_window_frames: int = 0
    rate_window_start_ns: int = 0


class FeedConnection(Protocol):
    """One connection of a feed: its name, the symbols it carries and its figures."""

    @property
    def name(self) -> str: ...

    @property
    def symbols(self) -> Sequence[str]: ...

    @property
    def stats(self) -> ConnectionStats: ...


class MarketFeed(Protocol):
    """A running market-data feed, as health, metrics and the API see it."""

    @property
    def symbols(self) -> Sequence[str]: ...

    @property
    def symbol_stats(self) -> Mapping[str, SymbolFeedStats]: ...

    @property
    def connections(self) -> Sequence[FeedConnection]: ...

    @property
    def recording_process(self) -> RecordingProcessStats | None:
        """The process recording the frames when it is not this one (None otherwise)."""
        ...

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        """Tick size, quantity step and minimum quantity per symbol, as the venue gave them."""
        ...
