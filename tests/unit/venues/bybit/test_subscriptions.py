"""subscriptions: topics, sharding, request batches and the per-connection SubscriptionBook.

Acks are ControlMessages as wire.decode_frame makes them; the failure shapes are the ones quoted
in shared/BYBIT-V5.md (tests/fixtures/bybit/subscribe_fail_linear.json is one, decoded for real).
A small fake venue answers requests the way Bybit is reported to: one bad topic fails the whole
request.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.settings import PING_INTERVAL_S
from scalper.venues.bybit.subscriptions import (
    MAX_ARGS_CHARS,
    SubscriptionBook,
    TopicState,
    args_chars,
    batch,
    named_topics,
    ping_payload,
    shard,
)
from scalper.venues.bybit.topics import topics_for
from scalper.venues.bybit.wire import ControlMessage, decode_frame


def ids(prefix: str = "sub-") -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers)}"


def sent(payload: bytes) -> dict:
    return json.loads(payload)


def ack(req_id: str, *, success: bool = True, message: str = "", op: str = "subscribe"):
    return ControlMessage(op=op, success=success, message=message, recv_ns=0, req_id=req_id)


def symbols(n: int) -> list[str]:
    return [f"SYM{i}USDT" for i in range(n)]


# --- topics, shards, batches -------------------------------------------------------------


@given(st.lists(st.from_regex(r"[a-zA-Z0-9.]{1,30}", fullmatch=True), max_size=20))
def test_args_chars_is_the_serialized_array_length(topics: list[str]) -> None:
    assert args_chars(topics) == len(json.dumps(topics, separators=(",", ":")))


def test_shard_300_symbols_over_three_connections_in_order() -> None:
    universe = symbols(300)
    shards = shard(universe)
    assert [len(s) for s in shards] == [100, 100, 100]
    assert [s for part in shards for s in part] == universe


def test_shard_splits_on_the_character_limit() -> None:
    one = args_chars(topics_for("SYM0USDT")) - 1  # one symbol's share of the array
    shards = shard(symbols(10), max_topic_chars=1 + 3 * one)
    assert [len(s) for s in shards] == [3, 3, 3, 1]


@given(
    st.lists(st.from_regex(r"[A-Z0-9]{2,20}", fullmatch=True), unique=True, max_size=400),
    st.integers(1, 150),
    st.integers(200, MAX_ARGS_CHARS),
)
def test_shard_keeps_every_connection_within_both_limits(
    universe: list[str], max_symbols: int, max_chars: int
) -> None:
    shards = shard(universe, max_symbols=max_symbols, max_topic_chars=max_chars)
    assert [s for part in shards for s in part] == universe
    for part in shards:
        assert 1 <= len(part) <= max_symbols
        assert args_chars(t for s in part for t in topics_for(s)) <= max_chars


def test_shard_rejects_duplicates_and_impossible_limits() -> None:
    with pytest.raises(ValueError, match="duplicate symbols: BTCUSDT"):
        shard(["BTCUSDT", "ETHUSDT", "BTCUSDT"])
    with pytest.raises(ValueError, match="alone exceed 20 characters"):
        shard(["BTCUSDT"], max_topic_chars=20)
    with pytest.raises(ValueError, match="max_symbols"):
        shard(["BTCUSDT"], max_symbols=0)


@pytest.mark.parametrize("category", ["spot", "linear"])
def test_batch_at_most_ten_args_per_request(category: str) -> None:
    topics = [f"t{i}" for i in range(25)]
    parts = batch(topics, category)
    assert [len(p) for p in parts] == [10, 10, 5]
    assert [t for p in parts for t in p] == topics


def test_batch_rejects_unknown_category() -> None:
    with pytest.raises(ValueError, match="unknown category 'futures'"):
        batch(["t"], "futures")


def test_ping_payload_and_interval() -> None:
    assert sent(ping_payload("7")) == {"op": "ping", "req_id": "7"}
    assert PING_INTERVAL_S == 20.0


# --- failure messages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("error:handler not found,topic:orderbook.500.BTCUSDT", {"orderbook.500.BTCUSDT"}),
        ("error:already subscribed,topic:publicTrade.BTCUSDT", {"publicTrade.BTCUSDT"}),
        ("Invalid symbol :[XYZUSDT]", {"publicTrade.XYZUSDT", "tickers.XYZUSDT"}),
        ("error:params error", set()),
        ("", set()),
    ],
)
def test_named_topics(message: str, expected: set[str]) -> None:
    topics = [
        "orderbook.500.BTCUSDT",
        "publicTrade.BTCUSDT",
        "publicTrade.XYZUSDT",
        "tickers.XYZUSDT",
    ]
    assert named_topics(message, topics) == expected


# --- SubscriptionBook --------------------------------------------------------------------


def test_subscribe_builds_batched_requests_with_injected_req_ids() -> None:
    book = SubscriptionBook("spot", next_req_id=ids())
    topics = [t for s in symbols(4) for t in topics_for(s)]
    payloads = book.subscribe(topics)
    assert [sent(p) for p in payloads] == [
        {"op": "subscribe", "args": topics[:10], "req_id": "sub-1"},
        {"op": "subscribe", "args": topics[10:], "req_id": "sub-2"},
    ]
    assert book.pending == set(topics)
    assert book.subscribe(topics) == []  # pending topics are not asked for twice


def test_success_ack_marks_the_request_subscribed() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(topics_for("BTCUSDT"))
    outcome = book.on_ack(ack("sub-1"))
    assert outcome.known and set(outcome.subscribed) == set(topics_for("BTCUSDT"))
    assert book.subscribed == set(topics_for("BTCUSDT"))
    assert book.pending == set() and book.failed == {}


def test_named_bad_topic_fails_and_the_rest_is_retried(bybit_fixture) -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(["publicTrade.BTCUSDT"])
    book.subscribe(["orderbook.500.BTCUSDT", "tickers.BTCUSDT"])  # req_id sub-2
    reply = decode_frame(bybit_fixture("subscribe_fail_linear"), recv_ns=1)
    assert isinstance(reply, ControlMessage)

    outcome = book.on_ack(reply)

    message = "error:handler not found,topic:orderbook.500.BTCUSDT"
    assert outcome.failed == {"orderbook.500.BTCUSDT": message}
    assert [sent(p) for p in outcome.retry] == [
        {"op": "subscribe", "args": ["tickers.BTCUSDT"], "req_id": "sub-3"}
    ]
    assert book.failed == {"orderbook.500.BTCUSDT": message}
    assert book.state("orderbook.500.BTCUSDT") is TopicState.FAILED
    book.on_ack(ack("sub-3"))
    assert book.subscribed == {"tickers.BTCUSDT"}


def test_already_subscribed_counts_as_subscribed() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(["publicTrade.BTCUSDT", "tickers.BTCUSDT"])
    message = "error:already subscribed,topic:publicTrade.BTCUSDT"
    outcome = book.on_ack(ack("sub-1", success=False, message=message))
    assert outcome.subscribed == ("publicTrade.BTCUSDT",)
    assert outcome.failed == {}
    assert [sent(p)["args"] for p in outcome.retry] == [["tickers.BTCUSDT"]]
    assert book.subscribed == {"publicTrade.BTCUSDT"}


def test_spot_invalid_symbol_fails_every_topic_of_that_symbol() -> None:
    book = SubscriptionBook("spot", next_req_id=ids())
    book.subscribe(topics_for("BTCUSDT") + topics_for("XYZUSDT"))
    outcome = book.on_ack(ack("sub-1", success=False, message="Invalid symbol :[XYZUSDT]"))
    assert set(outcome.failed) == set(topics_for("XYZUSDT"))
    assert [sent(p)["args"] for p in outcome.retry] == [topics_for("BTCUSDT")]


def test_unnamed_failure_of_one_topic_marks_it_failed() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(["tickers.BTCUSDT"])
    outcome = book.on_ack(ack("sub-1", success=False, message="error:params error"))
    assert outcome.failed == {"tickers.BTCUSDT": "error:params error"}
    assert outcome.retry == ()


class FakeVenue:
    """Fails any request holding a bad topic with a message that names no topic."""

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad

    def answer(self, payload: bytes) -> ControlMessage:
        request = sent(payload)
        ok = not self.bad.intersection(request["args"])
        message = "" if ok else "error:params error"
        return ack(request["req_id"], success=ok, message=message, op=request["op"])


def run_until_quiet(book: SubscriptionBook, venue: FakeVenue, payloads: list[bytes]) -> int:
    """Send, ack, resend retries; return the number of rounds."""
    rounds = 0
    while payloads:
        rounds += 1
        payloads = [r for p in payloads for r in book.on_ack(venue.answer(p)).retry]
    return rounds


@pytest.mark.parametrize("bad_index", [0, 3, 9])
def test_unnamed_failure_bisects_until_the_bad_topic_is_alone(bad_index: int) -> None:
    topics = [f"tickers.SYM{i}USDT" for i in range(10)]
    book = SubscriptionBook("linear", next_req_id=ids())
    venue = FakeVenue({topics[bad_index]})

    rounds = run_until_quiet(book, venue, book.subscribe(topics))

    assert book.failed == {topics[bad_index]: "error:params error"}
    assert book.subscribed == set(topics) - {topics[bad_index]}
    assert rounds <= 1 + math.ceil(math.log2(len(topics)))


def test_unknown_req_id_is_ignored_and_counted_pongs_are_not() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(["tickers.BTCUSDT"])
    outcome = book.on_ack(ack("nobody"))
    assert not outcome.known and book.unknown_acks == 1
    assert book.pending == {"tickers.BTCUSDT"}
    pong = ControlMessage(op="ping", success=True, message="pong", recv_ns=0)
    assert not book.on_ack(pong).known
    assert book.unknown_acks == 1
    book.on_ack(ack("sub-1"))
    book.on_ack(ack("sub-1"))  # a duplicate ack is unknown by now
    assert book.unknown_acks == 2


def test_resync_unsubscribes_then_subscribes_the_topic() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(["orderbook.50.BTCUSDT"])
    book.on_ack(ack("sub-1"))

    payloads = book.resync_payloads("orderbook.50.BTCUSDT")

    assert [sent(p) for p in payloads] == [
        {"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"], "req_id": "sub-2"},
        {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"], "req_id": "sub-3"},
    ]
    assert book.pending == {"orderbook.50.BTCUSDT"}
    book.on_ack(ack("sub-2", op="unsubscribe"))
    assert book.pending == {"orderbook.50.BTCUSDT"}  # the subscribe is still on its way
    book.on_ack(ack("sub-3"))
    assert book.subscribed == {"orderbook.50.BTCUSDT"}


def test_unsubscribe_forgets_the_topic_once_acked() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(topics_for("BTCUSDT"))
    book.on_ack(ack("sub-1"))
    [payload] = book.unsubscribe(["tickers.BTCUSDT", "tickers.NOTOURS"])
    assert sent(payload)["args"] == ["tickers.BTCUSDT"]
    assert book.state("tickers.BTCUSDT") is TopicState.UNSUBSCRIBING
    outcome = book.on_ack(ack("sub-2", op="unsubscribe"))
    assert outcome.unsubscribed == ("tickers.BTCUSDT",)
    assert book.state("tickers.BTCUSDT") is None
    assert book.subscribed == {"orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"}


def test_all_topics_payloads_after_reconnect() -> None:
    book = SubscriptionBook("linear", next_req_id=ids())
    book.subscribe(["publicTrade.BTCUSDT", "orderbook.500.BTCUSDT", "tickers.BTCUSDT"])
    book.on_ack(ack("sub-1", success=False, message="topic:orderbook.500.BTCUSDT not found"))
    book.on_ack(ack("sub-2"))
    book.unsubscribe(["tickers.BTCUSDT"])  # sub-3, never acked: the connection dropped

    [payload] = book.all_topics_payloads()

    assert sent(payload) == {
        "op": "subscribe",
        "args": ["publicTrade.BTCUSDT", "orderbook.500.BTCUSDT"],
        "req_id": "sub-4",
    }
    assert book.pending == {"publicTrade.BTCUSDT", "orderbook.500.BTCUSDT"}
    assert book.failed == {} and book.subscribed == set()
    book.on_ack(ack("sub-3", op="unsubscribe"))  # from the old connection
    assert book.unknown_acks == 1


def test_book_refuses_topics_beyond_the_connection_limit() -> None:
    book = SubscriptionBook("linear", next_req_id=ids(), max_topic_chars=100)
    book.subscribe(topics_for("BTCUSDT"))
    with pytest.raises(ValueError, match=r"127 characters, over 100.*shard"):
        book.subscribe(topics_for("ETHUSDT"))


def test_book_ping_uses_the_injected_counter() -> None:
    book = SubscriptionBook("linear", next_req_id=ids("c1-"))
    assert sent(book.ping_payload()) == {"op": "ping", "req_id": "c1-1"}


def test_book_default_req_ids_are_distinct() -> None:
    book = SubscriptionBook("spot")
    first, second = book.subscribe(["tickers.A"]), book.subscribe(["tickers.B"])
    assert sent(first[0])["req_id"] != sent(second[0])["req_id"]
