"""The compiled live path: `FrameReceiver` (picows' listener) hands every frame, decoded by the
session, to the connection's sink, and a `FeedSink` updates the figures, applies the event and
records the frames of a read at its end, as the Python receiver and sink did."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from picows import WSMsgType
from picows.picows import _make_test_ws_frame
from scalper.venues.bybit._feed_sink import FeedSink
from scalper.venues.bybit._receiver import FrameReceiver

from scalper.events import BookUpdate, Event, MalformedFrame, TradeBatch
from scalper.feed_status import SymbolFeedStats
from scalper.venues.bybit.session import BybitSession


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def record_frames(
        self, raws: list[bytes], recv_ns: int, ts: list[int], topics: list[str], symbols: list[str]
    ) -> None:
        self.calls.append((list(raws), recv_ns, list(ts), list(topics), list(symbols)))


class _Connection:
    """What FrameReceiver reads of its BybitConnection."""

    def __init__(self, on_frame: Callable[..., None], on_batch_end: Callable[[], None]) -> None:
        self.session = BybitSession("linear-0", "ws://test", ["orderbook.50.BTCUSDT"], "linear")
        self.stats = self.session.stats
        self.on_frame = on_frame
        self.on_batch_end = on_batch_end


def _text(raw: bytes, fin: bool = True) -> Any:
    return _make_test_ws_frame(WSMsgType.TEXT, raw, fin, False)


def test_frames_reach_a_python_sink_with_the_sessions_events(
    bybit_fixture: Callable[[str], bytes],
) -> None:
    received: list[tuple[bytes, int, Event | None]] = []
    reads: list[int] = []
    link = _Connection(lambda *frame: received.append(frame), lambda: reads.append(1))
    receiver = FrameReceiver(link)
    book = bybit_fixture("orderbook_snapshot_linear")
    ack = bybit_fixture("subscribe_ok_linear")
    receiver.on_ws_frame(None, _text(book))
    receiver.on_ws_frame(None, _text(ack))
    receiver.on_ws_frame(None, _text(b"not json"))
    assert [type(event) for _, _, event in received] == [BookUpdate, type(None), MalformedFrame]
    assert [raw for raw, _, _ in received] == [book, ack, b"not json"]
    assert all(recv_ns > 1.7e18 for _, recv_ns, _ in received)  # the wall clock, in ns
    assert len(reads) == 3  # each test frame is the last of its read
    assert link.stats.frames == 3
    assert link.stats.last_frame_ns == received[-1][1]
    assert link.stats.control_messages == 1  # the ack went to the session


def test_a_fragmented_message_is_joined_before_it_is_decoded(
    bybit_fixture: Callable[[str], bytes],
) -> None:
    received: list[tuple[bytes, int, Event | None]] = []
    receiver = FrameReceiver(_Connection(lambda *frame: received.append(frame), lambda: None))
    raw = bybit_fixture("trade_linear")
    half = len(raw) // 2
    receiver.on_ws_frame(None, _text(raw[:half], fin=False))
    assert received == []
    continuation = _make_test_ws_frame(WSMsgType.CONTINUATION, raw[half:], True, False)
    receiver.on_ws_frame(None, continuation)
    assert [(frame, type(event)) for frame, _, event in received] == [(raw, TradeBatch)]


def test_a_feed_sink_counts_applies_and_records_each_read(
    bybit_fixture: Callable[[str], bytes],
) -> None:
    applied: list[Event] = []
    stats = {"BTCUSDT": SymbolFeedStats()}
    recorder = _Recorder()
    sink = FeedSink(applied.append, stats, recorder)
    receiver = FrameReceiver(_Connection(sink, sink.batch_end))
    book = json.loads(bybit_fixture("orderbook_snapshot_linear"))
    raw = json.dumps(book, separators=(",", ":")).encode()
    ack = bybit_fixture("subscribe_ok_linear")
    receiver.on_ws_frame(None, _text(raw))
    receiver.on_ws_frame(None, _text(ack))
    (event,) = applied  # the control reply is recorded, never applied
    assert type(event) is BookUpdate
    figures = stats["BTCUSDT"]
    assert figures.frames == 1
    assert figures.last_recv_ns == event.recv_ns
    assert figures.last_lag_ns == event.recv_ns - event.ts_event_ns == figures.max_lag_ns
    (first, second) = recorder.calls
    assert first == (
        [raw],
        event.recv_ns,
        [event.ts_event_ns],
        ["orderbook.50.BTCUSDT"],
        ["BTCUSDT"],
    )
    assert second[0] == [ack] and second[2:] == ([0], [""], [""])


def test_a_feed_sink_called_from_python_applies_malformed_frames_without_figures() -> None:
    applied: list[Event] = []
    stats = {"BTCUSDT": SymbolFeedStats()}
    sink = FeedSink(applied.append, stats)
    broken = MalformedFrame("not_json", "x", "x", 5, "BTCUSDT", 50)
    sink(b"x", 5, broken)
    sink.batch_end()  # no recorder: nothing to hand over
    assert applied == [broken]
    assert stats["BTCUSDT"].frames == 0
