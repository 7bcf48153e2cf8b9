"""Bybit frames straight into an engine, with no connection: replays, benchmarks, the offline
demo. Control replies (acks, pongs) in a recording are counted, not applied: they are a
session's business (session.py), never the engine's."""

from __future__ import annotations

from scalper.engine import Engine
from scalper.events import BookUpdate
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.feed import FrameRecorder
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.topics import topic_of_frame
from scalper.venues.bybit.wire import ControlMessage, Decoded, decode_frame

CODECS = (FRAME_CODEC, BOOK_CODEC)
"""The codecs of Bybit's recorded sources, for readers of a data dir (FRAME_CODEC records; a
segment names the one it was written with)."""


class FrameApplier:
    """`applier(raw, recv_ns)` decodes one Bybit frame and applies it to the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.control_messages = 0
        """Control replies seen (not applied)."""
        self._apply = engine.entry()

    def __call__(self, raw: bytes, recv_ns: int) -> None:
        self.apply_decoded(decode_frame(raw, recv_ns))

    def apply_decoded(self, decoded: Decoded) -> None:
        """Apply what `decode_frame` gave (a control reply is counted)."""
        if type(decoded) is ControlMessage:
            self.control_messages += 1
        else:
            self._apply(decoded)  # type: ignore[arg-type]

    def preroll_book(self, raw: bytes, recv_ns: int) -> None:
        """Apply a book frame to its book only (no candles, flow or counters): a replay that
        starts at some time first brings every book to its state then, from the last snapshot
        before it (Bybit sends one only on subscription and resync)."""
        event = decode_frame(raw, recv_ns)
        if type(event) is BookUpdate:
            self.engine.symbol(event.symbol).book_for(event.depth).apply(event)  # type: ignore[union-attr]


def record_frame(recorder: FrameRecorder, raw: bytes, recv_ns: int) -> Decoded:
    """Record one frame as the live feed does (with its venue time, topic and symbol); returns
    it decoded. For tools and tests that record frames without a connection."""
    event = decode_frame(raw, recv_ns)
    if type(event) is ControlMessage:
        recorder.record_frame(raw, recv_ns, 0, "", "")
    else:
        ts_ns = getattr(event, "ts_event_ns", 0)
        recorder.record_frame(raw, recv_ns, ts_ns, topic_of_frame(raw), event.symbol or "")  # type: ignore[union-attr]
    return event
