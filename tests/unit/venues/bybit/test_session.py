"""venues.bybit.session.BybitSession: one connection's protocol on bytes, no socket.

What the session wants sent waits in its outbox; these tests decode it with json.loads and
answer requests the way Bybit does, by their req_id (or with the captured failure reply in
tests/fixtures/bybit/subscribe_fail_linear.json, whose req_id is "sub-2").
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from scalper.events import BookUpdate, MalformedFrame, TradeBatch
from scalper.feed_status import ConnectionStats
from scalper.venues.bybit.session import BybitSession
from scalper.venues.bybit.subscriptions import SubscriptionBook, TopicState
from scalper.venues.bybit.topics import topics_for

URL = "wss://stream.bybit.com/v5/public/linear"
MS = 1_000_000


class Wakeups:
    """Counts the session's `on_outgoing` calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def topics(*symbols: str) -> list[str]:
    return [topic for symbol in symbols for topic in topics_for(symbol)]


def session_for(topic_list: list[str]) -> tuple[BybitSession, Wakeups]:
    session = BybitSession("linear-0", URL, topic_list, "linear")
    wakeups = Wakeups()
    session.on_outgoing = wakeups
    return session, wakeups


def drain(session: BybitSession) -> list[dict[str, Any]]:
    """Everything in the outbox, decoded, oldest first; the outbox is left empty."""
    sent = [json.loads(payload) for payload in session.outbox]
    session.outbox.clear()
    return sent


def ack(request: dict[str, Any], *, success: bool = True, ret_msg: str = "") -> bytes:
    """Bybit's linear reply to one request (the shape of subscribe_ok_linear.json)."""
    return json.dumps(
        {
            "success": success,
            "ret_msg": ret_msg,
            "conn_id": "cejreassvfrsfvb9v1a0-2m",
            "req_id": request["req_id"],
            "op": request["op"],
        }
    ).encode()


def prefixed_ids(prefix: str) -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers)}"


# --------------------------------------------------------------------------- connecting

FIVE = topics("AUSDT", "BUSDT", "CUSDT", "DUSDT", "EUSDT")  # 15 topics


def test_connected_subscribes_every_topic_in_requests_of_at_most_ten() -> None:
    session, wakeups = session_for(FIVE)
    session.connected()

    sent = drain(session)
    assert [request["op"] for request in sent] == ["subscribe", "subscribe"]
    assert [len(request["args"]) for request in sent] == [10, 5]
    assert [t for request in sent for t in request["args"]] == FIVE
    assert len({request["req_id"] for request in sent}) == 2
    assert wakeups.calls == 1
    assert session.subscriptions.pending == set(FIVE)


def test_twenty_five_topics_go_out_as_ten_ten_five() -> None:
    many = [f"publicTrade.S{i:02d}USDT" for i in range(25)]
    session, _ = session_for(many)
    session.connected()

    sent = drain(session)
    assert [len(request["args"]) for request in sent] == [10, 10, 5]
    assert [t for request in sent for t in request["args"]] == many


def test_reconnect_resubscribes_every_topic_and_voids_the_old_outbox() -> None:
    session, wakeups = session_for(FIVE)
    session.connected()
    first, _ = drain(session)
    session.receive(ack(first), 0)  # the first ten are live, the last five still pending
    assert session.subscriptions.subscribed == set(first["args"])
    session.ping()  # meant for the old socket: never sent

    session.connected()

    sent = drain(session)
    assert [request["op"] for request in sent] == ["subscribe", "subscribe"]
    assert sorted(t for request in sent for t in request["args"]) == sorted(FIVE)
    assert all(len(request["args"]) <= 10 for request in sent)
    assert session.subscriptions.pending == set(FIVE)
    assert wakeups.calls == 3  # connect, ping, reconnect


def test_ack_of_a_request_sent_before_the_reconnect_changes_nothing() -> None:
    session, _ = session_for(FIVE)
    session.connected()
    old_first, _ = drain(session)
    session.connected()
    drain(session)

    assert session.receive(ack(old_first), 0) is None

    assert session.subscriptions.subscribed == set()
    assert session.subscriptions.pending == set(FIVE)
    assert session.subscriptions.unknown_acks == 1
    assert session.stats.control_messages == 1
    assert not session.outbox


def test_reconnect_after_every_topic_failed_asks_for_them_all_again() -> None:
    session, _ = session_for(["publicTrade.NOPEUSDT"])
    session.connected()
    (request,) = drain(session)
    session.receive(ack(request, success=False, ret_msg="error:handler not found"), 0)
    assert set(session.subscriptions.failed) == {"publicTrade.NOPEUSDT"}

    session.connected()

    (again,) = drain(session)
    assert (again["op"], again["args"]) == ("subscribe", ["publicTrade.NOPEUSDT"])


# --------------------------------------------------------------------------- receiving


def test_market_frames_become_events(bybit_fixture) -> None:
    session, _ = session_for(topics("BTCUSDT"))

    book = session.receive(bybit_fixture("orderbook_snapshot_linear"), 42)
    trades = session.receive(bybit_fixture("trade_linear"), 43)

    assert book == BookUpdate(
        symbol="BTCUSDT",
        depth=50,
        is_snapshot=True,
        bids=[(16493.5, 0.006), (16493.0, 0.1)],
        asks=[(16611.0, 0.029), (16612.0, 0.213)],
        update_id=18521288,
        seq=7961638724,
        ts_event_ns=1672304484976 * MS,  # cts, the matching engine's time
        recv_ns=42,
    )
    assert isinstance(trades, TradeBatch)
    assert [(t.price, t.size, t.trade_id) for t in trades.trades] == [
        (16578.5, 0.001, "20f43950-d8dd-5b31-9112-a178eb6023af")
    ]
    assert session.stats.control_messages == 0


def test_control_replies_are_consumed_and_counted(bybit_fixture) -> None:
    session, wakeups = session_for(topics("BTCUSDT"))
    session.connected()
    (request,) = drain(session)
    wakeups.calls = 0

    assert session.receive(bybit_fixture("pong_linear"), 1) is None
    assert session.receive(ack(request), 2) is None

    assert session.stats.control_messages == 2
    assert session.subscriptions.subscribed == set(topics("BTCUSDT"))
    assert not session.outbox
    assert wakeups.calls == 0  # nothing to send: nobody woken


def test_a_broken_frame_goes_on_to_the_engine() -> None:
    session, _ = session_for(topics("BTCUSDT"))

    event = session.receive(b'{"topic":"orderbook.50.BTCUSDT","type":"snap', 5)

    assert isinstance(event, MalformedFrame)
    assert session.stats.control_messages == 0


def test_rejected_topic_from_the_real_reply_retries_the_rest_of_its_request(
    bybit_fixture, caplog
) -> None:
    filler = [f"publicTrade.S{i}USDT" for i in range(10)]
    bad = "orderbook.500.BTCUSDT"  # depth 500 is retired: "handler not found"
    session, wakeups = session_for([*filler, bad, "publicTrade.BTCUSDT", "tickers.BTCUSDT"])
    session.subscriptions = SubscriptionBook("linear", next_req_id=prefixed_ids("sub-"))
    session.connected()
    sent = drain(session)
    assert [(r["req_id"], len(r["args"])) for r in sent] == [("sub-1", 10), ("sub-2", 3)]
    wakeups.calls = 0

    with caplog.at_level(logging.WARNING, logger="scalper.venues.bybit.session"):
        assert session.receive(bybit_fixture("subscribe_fail_linear"), 9) is None

    (retry,) = drain(session)
    assert retry == {
        "op": "subscribe",
        "args": ["publicTrade.BTCUSDT", "tickers.BTCUSDT"],
        "req_id": "sub-3",
    }
    assert session.subscriptions.failed == {
        bad: "error:handler not found,topic:orderbook.500.BTCUSDT"
    }
    assert session.stats.control_messages == 1
    assert wakeups.calls == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"linear-0: subscription {bad} rejected: "
        "error:handler not found,topic:orderbook.500.BTCUSDT"
    ]


def test_rejection_naming_a_symbol_retries_the_other_symbols_topics() -> None:
    session, _ = session_for(topics("AUSDT", "BADUSDT", "CUSDT"))
    session.connected()
    (request,) = drain(session)

    session.receive(ack(request, success=False, ret_msg="Invalid symbol :[BADUSDT]"), 0)

    (retry,) = drain(session)
    assert retry["op"] == "subscribe"
    assert retry["args"] == topics("AUSDT", "CUSDT")
    assert set(session.subscriptions.failed) == set(topics("BADUSDT"))
    session.receive(ack(retry), 0)
    assert session.subscriptions.subscribed == set(topics("AUSDT", "CUSDT"))


# --------------------------------------------------------------------------- resync and ping


def test_resync_unsubscribes_then_subscribes_that_topic_only() -> None:
    session, wakeups = session_for(FIVE)
    session.connected()
    for request in drain(session):
        session.receive(ack(request), 0)
    wakeups.calls = 0
    topic = "orderbook.50.CUSDT"

    assert session.request_resync(topic) is True

    unsubscribe, subscribe = drain(session)
    assert (unsubscribe["op"], unsubscribe["args"]) == ("unsubscribe", [topic])
    assert (subscribe["op"], subscribe["args"]) == ("subscribe", [topic])
    assert unsubscribe["req_id"] != subscribe["req_id"]
    assert session.stats.resyncs_sent == 1
    assert wakeups.calls == 1
    assert session.subscriptions.state(topic) is TopicState.PENDING
    assert session.subscriptions.subscribed == set(FIVE) - {topic}
    # Bybit answers both in order: the topic is live again
    session.receive(ack(unsubscribe), 0)
    session.receive(ack(subscribe), 0)
    assert session.subscriptions.state(topic) is TopicState.SUBSCRIBED


def test_resync_of_an_unknown_topic_sends_nothing() -> None:
    session, wakeups = session_for(FIVE)
    session.connected()
    drain(session)
    wakeups.calls = 0

    assert session.request_resync("orderbook.50.ZZZUSDT") is False

    assert not session.outbox
    assert session.stats.resyncs_sent == 0
    assert wakeups.calls == 0


def test_ping_queues_a_ping_and_wakes_the_sender() -> None:
    session, wakeups = session_for(FIVE)

    session.ping()
    session.ping()

    first, second = drain(session)
    assert first["op"] == second["op"] == "ping"
    assert set(first) == {"op", "req_id"}
    assert first["req_id"] != second["req_id"]
    assert wakeups.calls == 2


def test_the_default_wakeup_does_nothing() -> None:
    session = BybitSession("linear-0", URL, FIVE, "linear")

    session.ping()  # no connection drives it: the payload just waits

    assert len(session.outbox) == 1
    assert session.stats == ConnectionStats("linear-0", URL, 15)
