"""Publishing one frame: apply it to the published record, apply any fault due on it, fan out.

The record is updated with every frame the venue publishes, including those a fault keeps from
clients (a gap, a broken frame, a stall): the venue's book moved on, its clients just missed it.
A reset publishes the current book as a `u` = 1 snapshot and renumbers the symbol's later
deltas from 2 with a per-topic offset (`client_update_id` maps the model's `u` through it), so
the record and clients keep agreeing on `u`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Final

import msgspec

from scalper.venues.bybit.topics import parse_topic, topic_of_frame
from scalper.venues.simulator.faults import FaultDice, NoFaultDice
from scalper.venues.simulator.published import (
    BOOK_DECODER,
    HEAD_DECODER,
    TICKER_DECODER,
    TRADE_DECODER,
    BookFrame,
    PublishedMarket,
)
from scalper.venues.simulator.sessions import WebSocketDesk

_U_FIELD: Final = re.compile(rb'"u"\s*:\s*\d+')
_RESETS: Final = {"reset": "reset", "reset_delta": "reset"}
"""The restarts a book delta can be turned into, and the fault they count as."""


class Publisher:
    """Turns source frames into published frames: the record first, then faults, then fan-out."""

    def __init__(
        self,
        published: PublishedMarket,
        desk: WebSocketDesk,
        dice: FaultDice | NoFaultDice,
        fault_counts: dict[str, int],
    ) -> None:
        self.published = published
        self.desk = desk
        self.dice = dice
        self.fault_counts = fault_counts
        self.tap: Callable[[bytes], None] | None = None
        """Given every source frame first (the venue's own matching sees the truth, faults
        strike only what clients get)."""
        self.frames_published = 0
        self.source_errors = 0
        """Source frames the published record could not read (sent as they were)."""
        self._pending: dict[str, deque[str]] = {}
        self._offsets: dict[str, int] = {}

    def client_update_id(self, topic: str, update_id: int) -> int:
        """The `u` clients see for the source's `update_id` of `topic` (a reset renumbers)."""
        return update_id - self._offsets.get(topic, 0)

    def source_update_id(self, topic: str, update_id: int) -> int:
        """The source's `u` of what clients see as `update_id` of `topic`."""
        return update_id + self._offsets.get(topic, 0)

    def inject(self, symbol: str, kind: str) -> None:
        """Let fault `kind` strike the next book delta of `symbol`."""
        self._pending.setdefault(symbol, deque()).append(kind)

    def publish(self, raw: bytes) -> None:
        """Apply one frame to the record and send it (or what a fault makes of it)."""
        self.frames_published += 1
        if self.tap is not None:
            self.tap(raw)
        topic = _topic(raw)
        route = parse_topic(topic) if topic is not None else None
        if route is None:
            self.source_errors += 1
            return
        channel, depth, symbol = route
        try:
            if channel == "orderbook":
                self._publish_book(topic, symbol, depth, BOOK_DECODER.decode(raw), raw)  # type: ignore[arg-type]
                return
            if channel == "publicTrade":
                self.published.tape(symbol).apply(TRADE_DECODER.decode(raw).data)
            else:
                self.published.ticker(topic, symbol).apply(TICKER_DECODER.decode(raw))  # type: ignore[arg-type]
        except (msgspec.DecodeError, ValueError):
            self.source_errors += 1  # a recording may hold broken frames: sent as they were
        self.desk.fan_out(topic, raw)  # type: ignore[arg-type]

    def _publish_book(
        self, topic: str, symbol: str, depth: int, frame: BookFrame, raw: bytes
    ) -> None:
        book = self.published.book(topic, symbol, depth)
        fault = None
        if frame.type == "snapshot":
            self._offsets.pop(topic, None)  # a real snapshot restarts the numbering
            book.learn_text(raw)
        else:
            fault = self._next_book_fault(symbol)
        if fault in _RESETS:
            if book.has_snapshot:
                self.desk.fan_out(topic, book.restart(as_delta=fault == "reset_delta"))
                self._offsets[topic] = frame.data.u - 2
            else:
                fault = None  # no book to restart yet: nothing happened, nothing is counted
        update_id = self.client_update_id(topic, frame.data.u)
        offset = frame.data.u - update_id
        if offset:
            raw = _U_FIELD.sub(b'"u":%d' % update_id, raw, count=1)
        book.apply(frame, update_id)
        if fault is not None:
            self.fault_counts[_RESETS.get(fault, fault)] += 1
        if fault == "gap":
            return
        if fault == "malformed":
            raw = raw.replace(b'"data":', b'"data"=', 1) if b'"data":' in raw else b"\x00" + raw
        elif fault == "truncated":
            raw = raw[: len(raw) // 2]
        self.desk.fan_out(topic, raw)

    def _next_book_fault(self, symbol: str) -> str | None:
        pending = self._pending.get(symbol)
        if pending:
            kind = pending.popleft()
            if not pending:
                del self._pending[symbol]
            return kind
        return self.dice.book_frame_fault()


def _topic(raw: bytes) -> str | None:
    """The frame's topic: read off the bytes when it comes first, as Bybit writes it."""
    topic = topic_of_frame(raw)
    if topic:
        return topic
    try:
        return HEAD_DECODER.decode(raw).topic
    except msgspec.DecodeError:
        return None
