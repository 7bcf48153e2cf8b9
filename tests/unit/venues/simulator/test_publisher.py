"""venues.simulator.publisher.Publisher: truth first, then faults, then fan-out.

Frames come from a small seeded SyntheticMarket. Most tests record what the publisher hands the
desk (`RecordingDesk`); one runs the real WebSocketDesk with fake ASGI clients to check that a
frame reaches the subscribers of its topic only. A client that applies what it was sent must
hold the published truth, except across a gap, which it must be able to see.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest

from scalper.book import ApplyResult, OrderBook
from scalper.events import BookUpdate, MalformedFrame
from scalper.settings import FaultSettings
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.simulator.faults import FAULT_KINDS, FaultDice, NoFaultDice
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket
from scalper.venues.simulator.published import PublishedMarket
from scalper.venues.simulator.publisher import Publisher
from scalper.venues.simulator.sessions import WebSocketDesk
from scalper.venues.simulator.source import synthetic_catalog

CONFIG = MarketConfig(symbols=2, seconds=2.0, seed=11)
SYM = "SYM000USDT"
OTHER = "SYM001USDT"
BOOK = f"orderbook.50.{SYM}"
TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [raw for _, raw in SyntheticMarket(CONFIG).frames()]


class RecordingDesk:
    """Stands in for the WebSocketDesk: keeps what the publisher fans out, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def fan_out(self, topic: str, frame: bytes) -> None:
        self.sent.append((topic, frame))

    def of(self, topic: str) -> list[bytes]:
        return [frame for t, frame in self.sent if t == topic]


def make_publisher(dice: FaultDice | NoFaultDice | None = None) -> tuple[Publisher, RecordingDesk]:
    desk = RecordingDesk()
    counts = dict.fromkeys(FAULT_KINDS, 0)
    # the recording desk stands in for a WebSocketDesk: the publisher only calls fan_out
    publisher = Publisher(PublishedMarket(), desk, dice or NoFaultDice(), counts)
    return publisher, desk


def topic_of(raw: bytes) -> str:
    return json.loads(raw)["topic"]


def u_of(raw: bytes) -> int:
    return json.loads(raw)["data"]["u"]


def is_delta(raw: bytes) -> bool:
    return topic_of(raw) == BOOK and json.loads(raw)["type"] == "delta"


def publish_all(publisher: Publisher, frames: list[bytes], faults: Mapping[int, str] = {}) -> None:
    """Publish every frame; `faults[k]` is injected to strike the k-th (1-based) delta of BOOK."""
    deltas = 0
    for raw in frames:
        if is_delta(raw):
            deltas += 1
            if deltas in faults:
                publisher.inject(SYM, faults[deltas])
        publisher.publish(raw)


def client_book(sent: list[bytes]) -> tuple[OrderBook, list[ApplyResult]]:
    """A book fed what a client of BOOK received (decoded as our client decodes it)."""
    book = OrderBook(SYM, 50)
    results = []
    for raw in sent:
        event = decode_frame(raw, 0)
        if isinstance(event, BookUpdate):
            results.append(book.apply(event))
    return book, results


def levels(book: OrderBook) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    return book.bids.top(book.depth), book.asks.top(book.depth)


def book_frames(frames: list[bytes]) -> list[bytes]:
    return [raw for raw in frames if topic_of(raw) == BOOK]


# --------------------------------------------------------------------------- no faults


def test_without_faults_every_frame_goes_out_unchanged_under_its_topic(frames) -> None:
    publisher, desk = make_publisher()

    publish_all(publisher, frames)

    assert desk.sent == [(topic_of(raw), raw) for raw in frames]
    assert publisher.frames_published == len(frames)
    assert publisher.source_errors == 0
    assert set(publisher.fault_counts.values()) == {0}


def test_the_truth_is_what_a_client_of_every_frame_holds(frames) -> None:
    publisher, desk = make_publisher()

    publish_all(publisher, frames)

    for symbol in (SYM, OTHER):
        topic = f"orderbook.50.{symbol}"
        book, results = client_book(desk.of(topic))
        book_truth = publisher.published.books[topic]
        assert results[0] is ApplyResult.SNAPSHOT
        assert set(results[1:]) == {ApplyResult.APPLIED}
        assert book_truth.levels() == levels(book)
        assert book_truth.update_id == u_of(desk.of(topic)[-1])

    # tickers: a snapshot, then deltas merged key by key
    merged: dict[str, Any] = {}
    for raw in desk.of(f"tickers.{SYM}"):
        frame = json.loads(raw)
        merged = frame["data"] if frame["type"] == "snapshot" else {**merged, **frame["data"]}
    assert publisher.published.tickers[SYM].values == merged
    assert len(publisher.published.tapes[OTHER].trades) == sum(
        len(json.loads(raw)["data"]) for raw in desk.of(f"publicTrade.{OTHER}")
    )


# --------------------------------------------------------------------------- injected faults


def test_gap_keeps_the_delta_from_clients_and_the_next_u_jumps(frames) -> None:
    publisher, desk = make_publisher()

    publish_all(publisher, frames, {5: "gap"})

    source = book_frames(frames)
    missing = source[5]  # the snapshot, then deltas 1..4, then the 5th
    assert desk.of(BOOK) == [raw for raw in source if raw is not missing]
    sent_ids = [u_of(raw) for raw in desk.of(BOOK)]
    assert sent_ids[5] - sent_ids[4] == 2
    assert publisher.fault_counts["gap"] == 1
    # the truth applied it all the same; a client sees the gap
    assert publisher.published.books[BOOK].update_id == u_of(source[-1])
    _, results = client_book(desk.of(BOOK))
    assert results[5] is ApplyResult.GAP
    # the other symbol's book is untouched
    assert desk.of(f"orderbook.50.{OTHER}") == [
        raw for raw in frames if topic_of(raw) == f"orderbook.50.{OTHER}"
    ]


@pytest.mark.parametrize(
    ("kind", "broken_kind"),
    [("malformed", "not_json"), ("truncated", "truncated")],
)
def test_broken_replacements_of_one_delta(frames, kind: str, broken_kind: str) -> None:
    publisher, desk = make_publisher()
    clean, _ = make_publisher()
    publish_all(clean, frames)

    publish_all(publisher, frames, {3: kind})

    source = book_frames(frames)
    original = source[3]
    expected = (
        original.replace(b'"data":', b'"data"=', 1)
        if kind == "malformed"
        else original[: len(original) // 2]
    )
    assert desk.of(BOOK) == [*source[:3], expected, *source[4:]]
    event = decode_frame(expected, 0)
    assert isinstance(event, MalformedFrame)
    assert event.kind == broken_kind
    assert publisher.fault_counts[kind] == 1
    assert publisher.published.books[BOOK].levels() == clean.published.books[BOOK].levels()


def test_reset_sends_a_u1_snapshot_of_the_truth_and_renumbers_later_deltas(frames) -> None:
    publisher, desk = make_publisher()

    publish_all(publisher, frames, {10: "reset"})

    source = book_frames(frames)
    sent = desk.of(BOOK)
    assert sent[:10] == source[:10]
    restart = json.loads(sent[10])
    assert (restart["topic"], restart["type"], restart["data"]["u"]) == (BOOK, "snapshot", 1)
    before, _ = client_book(source[:10])  # the book as published before the 10th delta
    restart_levels = (
        [(float(p), float(s)) for p, s in restart["data"]["b"]],
        [(float(p), float(s)) for p, s in restart["data"]["a"]],
    )
    assert restart_levels == levels(before)
    renumbered = [
        raw.replace(b'"u":%d' % u_of(raw), b'"u":%d' % (2 + i), 1)
        for i, raw in enumerate(source[10:])
    ]
    assert sent[11:] == renumbered
    assert publisher.fault_counts["reset"] == 1
    # a client stays in sync across the reset and ends on the truth
    book, results = client_book(sent)
    assert results[10] is ApplyResult.SNAPSHOT
    assert set(results[11:]) == {ApplyResult.APPLIED}
    assert levels(book) == publisher.published.books[BOOK].levels()
    assert book.update_id == publisher.published.books[BOOK].update_id == len(source) - 9


def test_a_second_reset_renumbers_from_two_again(frames) -> None:
    publisher, desk = make_publisher()

    publish_all(publisher, frames, {10: "reset", 20: "reset"})

    sent_ids = [u_of(raw) for raw in desk.of(BOOK)]
    # 10 frames, restart, 10 renumbered deltas (2..11), restart, deltas from 2 again
    assert sent_ids[10] == 1
    assert sent_ids[11:21] == list(range(2, 12))
    assert sent_ids[21] == 1
    assert sent_ids[22:] == list(range(2, 2 + len(sent_ids) - 22))
    _, results = client_book(desk.of(BOOK))
    assert ApplyResult.GAP not in results


def test_a_real_snapshot_after_a_reset_restarts_the_numbering(frames) -> None:
    publisher, desk = make_publisher()
    source = book_frames(frames)
    publish_all(publisher, source[:6], {5: "reset"})
    assert u_of(desk.of(BOOK)[-1]) == 2
    bids, asks = publisher.published.books[BOOK].text_levels(50)
    original_u = u_of(source[5])
    snapshot = json.dumps(
        {
            "topic": BOOK,
            "type": "snapshot",
            "ts": json.loads(source[5])["ts"],
            "data": {"s": SYM, "b": bids, "a": asks, "u": original_u, "seq": 1},
        },
        separators=(",", ":"),
    ).encode()

    publisher.publish(snapshot)
    publisher.publish(source[6])

    assert desk.of(BOOK)[-2:] == [snapshot, source[6]]  # both as they were
    _, results = client_book(desk.of(BOOK))
    assert results[-2:] == [ApplyResult.SNAPSHOT, ApplyResult.APPLIED]


def test_an_injected_fault_waits_for_a_delta_of_its_symbol(frames) -> None:
    publisher, desk = make_publisher()
    publisher.inject(SYM, "gap")  # before the snapshot: it strikes the first delta

    publish_all(publisher, frames)

    source = book_frames(frames)
    assert desk.of(BOOK) == [source[0], *source[2:]]
    assert desk.of(f"orderbook.50.{OTHER}") == [
        raw for raw in frames if topic_of(raw) == f"orderbook.50.{OTHER}"
    ]
    assert publisher.fault_counts["gap"] == 1


def test_seeded_dice_strike_the_same_deltas_every_time(frames) -> None:
    settings = FaultSettings(
        gap_per_frame=0.1, reset_per_frame=0.05, malformed_per_frame=0.05, truncated_per_frame=0.05
    )
    runs = []
    for _ in range(2):
        publisher, desk = make_publisher(FaultDice(settings, seed=9))
        publish_all(publisher, frames)
        runs.append((desk.sent, dict(publisher.fault_counts)))

    (sent, counts), (sent_again, counts_again) = runs
    assert sent == sent_again
    assert counts == counts_again
    assert counts["gap"] > 0
    book_topics = {topic for topic, _ in sent if topic.startswith("orderbook.")}
    book_total = sum(1 for raw in frames if topic_of(raw) in book_topics)
    sent_total = sum(1 for topic, _ in sent if topic in book_topics)
    assert sent_total == book_total - counts["gap"] + counts["reset"]
    other = make_publisher(FaultDice(settings, seed=10))
    publish_all(other[0], frames)
    assert other[1].sent != sent


# --------------------------------------------------------------------------- source errors


def test_unreadable_source_frames_are_counted() -> None:
    publisher, desk = make_publisher()
    broken_trade = b'{"topic":"publicTrade.SYM000USDT","type":"snapshot","data":"oops"}'

    publisher.publish(b"not json")
    publisher.publish(b'{"topic":"kline.1.SYM000USDT","data":[]}')
    publisher.publish(b'{"type":"snapshot"}')
    publisher.publish(broken_trade)

    assert publisher.frames_published == 4
    assert publisher.source_errors == 4
    assert desk.sent == [("publicTrade.SYM000USDT", broken_trade)]  # routable: sent as it was


# --------------------------------------------------------------------------- real desk


class FakeClient:
    """The ASGI side of one WebSocket connection to the desk."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: dict[str, Any]) -> None:
        await self.outgoing.put(message)

    def request(self, payload: dict[str, Any]) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(payload)})

    async def next_text(self) -> str:
        message = await asyncio.wait_for(self.outgoing.get(), TIMEOUT_S)
        assert message["type"] == "websocket.send", message
        return message["text"]

    async def frames_until_pong(self) -> list[bytes]:
        """Ask for a pong and return every frame received before it (replies queue behind
        frames already queued)."""
        self.request({"op": "ping", "req_id": "end"})
        received = []
        while True:
            text = await self.next_text()
            if json.loads(text).get("op") == "ping":
                return received
            received.append(text.encode())


async def connect(desk: WebSocketDesk, topics: list[str]) -> tuple[FakeClient, asyncio.Task[None]]:
    client = FakeClient()
    task = asyncio.create_task(desk.serve("linear", client.receive, client.send))
    client.incoming.put_nowait({"type": "websocket.connect"})
    assert (await client.outgoing.get())["type"] == "websocket.accept"
    if topics:
        client.request({"op": "subscribe", "args": topics, "req_id": "s"})
        assert json.loads(await client.next_text())["success"] is True
    return client, task


def test_frames_reach_the_subscribers_of_their_topic_only(frames) -> None:
    async def body() -> None:
        truth = PublishedMarket()
        desk = WebSocketDesk(
            synthetic_catalog(SyntheticMarket(CONFIG)), truth.snapshot, {"reject": 0}, 1, 10_000
        )
        publisher = Publisher(truth, desk, NoFaultDice(), dict.fromkeys(FAULT_KINDS, 0))
        wanted = [[BOOK, f"publicTrade.{SYM}"], [f"tickers.{OTHER}"], []]
        connections = [await connect(desk, topics) for topics in wanted]

        for raw in frames:
            publisher.publish(raw)

        for (client, _), topics in zip(connections, wanted, strict=True):
            received = await client.frames_until_pong()
            assert received == [raw for raw in frames if topic_of(raw) in topics], topics
        for client, task in connections:
            client.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
            await asyncio.wait_for(task, TIMEOUT_S)

    asyncio.run(body())


def test_a_late_subscriber_gets_the_truth_as_a_snapshot_then_the_deltas(frames) -> None:
    async def body() -> None:
        truth = PublishedMarket()
        desk = WebSocketDesk(
            synthetic_catalog(SyntheticMarket(CONFIG)), truth.snapshot, {"reject": 0}, 1, 10_000
        )
        publisher = Publisher(truth, desk, NoFaultDice(), dict.fromkeys(FAULT_KINDS, 0))
        half = len(frames) // 2
        for raw in frames[:half]:
            publisher.publish(raw)

        client, task = await connect(desk, [BOOK])
        for raw in frames[half:]:
            publisher.publish(raw)

        received = await client.frames_until_pong()
        later = [raw for raw in frames[half:] if topic_of(raw) == BOOK]
        assert received[1:] == later
        first = json.loads(received[0])
        assert first["type"] == "snapshot"
        assert first["data"]["u"] == u_of(later[0]) - 1
        book, results = client_book(received)
        assert results == [ApplyResult.SNAPSHOT] + [ApplyResult.APPLIED] * len(later)
        assert levels(book) == truth.books[BOOK].levels()
        client.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(task, TIMEOUT_S)

    asyncio.run(body())
