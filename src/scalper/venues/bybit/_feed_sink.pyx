# cython: language_level=3
"""The live feed's work per frame, compiled: a `FeedSink` takes every frame a connection
received (raw bytes, receive time, decoded event or None for a control reply), updates the
symbol's receive-side figures, hands the event to the engine at once and keeps the raw frames of
one read of the socket for the recorder, which gets them in one call at the read's end
(`batch_end`). The connection's compiled receiver calls `frame` in C; Python callers (the
scale-out feed, tests) call the sink itself."""

from scalper.events import MalformedFrame
from scalper.venues.bybit.topics import topic_of_frame

cdef object _MalformedFrame = MalformedFrame


cdef class FeedSink:
    """One feed's sink: `apply` is the engine's entry, `stats_by_symbol` the feed's figures
    (SymbolFeedStats by symbol), `recorder` a FrameRecorder or None."""

    def __init__(self, apply: object, dict stats_by_symbol, recorder: object = None) -> None:
        self.apply = apply
        self.stats_by_symbol = stats_by_symbol
        self.recorder = recorder
        self.raws = []
        self.stamps = []
        self.topics = []
        self.symbols = []
        self.batch_ns = 0

    def __call__(self, bytes raw, recv_ns: int, event: object) -> None:
        self.frame(raw, recv_ns, event)

    cdef int frame(self, bytes raw, object recv_ns, object event) except -1:
        ts_ns = getattr(event, "ts_event_ns", 0)  # 0: a control reply (event None)
        if self.recorder is not None:
            self.batch_ns = recv_ns
            self.raws.append(raw)
            self.stamps.append(ts_ns)
            if event is None:
                self.topics.append("")
                self.symbols.append("")
            else:
                self.topics.append(topic_of_frame(raw))
                self.symbols.append(event.symbol or "")
        if event is None:  # a control reply, consumed by the session
            return 0
        if type(event) is not _MalformedFrame:
            stats = self.stats_by_symbol.get(event.symbol)
            if stats is not None:
                lag = recv_ns - ts_ns
                stats.frames += 1
                stats.last_recv_ns = recv_ns
                stats.last_lag_ns = lag
                if lag > stats.max_lag_ns:
                    stats.max_lag_ns = lag
        self.apply(event)
        return 0

    cpdef batch_end(self):
        """The end of a read of the socket: its frames to the recorder, in one call."""
        if self.raws and self.recorder is not None:
            self.recorder.record_frames(
                self.raws, self.batch_ns, self.stamps, self.topics, self.symbols
            )
            self.raws.clear()
            self.stamps.clear()
            self.topics.clear()
            self.symbols.clear()
