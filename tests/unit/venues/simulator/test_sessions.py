"""venues.simulator.sessions.WebSocketDesk: Bybit's control replies, snapshots on subscribe,
fan-out to subscribers only, and the slow-client policy, driven through `serve()` with fake ASGI
receive/send coroutines (no socket).

Replies are compared with the captured Bybit replies in tests/fixtures/bybit (all but
`conn_id`, which is the simulator's own).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from scalper.venues.simulator.market import Contract
from scalper.venues.simulator.sessions import WebSocketDesk
from scalper.venues.simulator.source import Catalog

TIMEOUT_S = 5.0
"""Bound on every wait for a condition: a failing test fails instead of hanging."""
LINEAR_CONN_ID = re.compile(r"[a-z0-9]{20}-[a-z0-9]{2}")
SPOT_CONN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BOOK_SNAPSHOT = (
    b'{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,'
    b'"data":{"s":"BTCUSDT","b":[["100.0","1"]],"a":[["101.0","2"]],"u":5,"seq":9}}'
)
TICKER_SNAPSHOT = b'{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT"}}'
SPOT_MAX_ARGS = 10
"""/docs/v5/ws/connect: "Spot can input up to 10 args for each subscription request"."""
SNAPSHOTS = {"orderbook.50.BTCUSDT": BOOK_SNAPSHOT, "tickers.BTCUSDT": TICKER_SNAPSHOT}


def make_desk(queue_limit: int = 100, seed: int = 1) -> WebSocketDesk:
    catalog = Catalog(
        {name: Contract(name, 1, -3) for name in ("BTCUSDT", "ETHUSDT")}, frozenset({50})
    )
    counts = {"reject": 0}
    return WebSocketDesk(catalog, SNAPSHOTS.get, counts, seed, queue_limit)


class FakeClient:
    """The ASGI side of one WebSocket: what the client sends, and what the desk sent it.

    `send` blocks on `gate` while the gate is closed: a client that stopped reading."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gate = asyncio.Event()
        self.gate.set()
        self.send_started = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.send_started.set()
            await self.gate.wait()
        await self.outgoing.put(message)

    def request(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def leave(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})

    async def next_message(self) -> dict[str, Any]:
        """The next ASGI message the desk sent."""
        return await asyncio.wait_for(self.outgoing.get(), TIMEOUT_S)

    async def next_text(self) -> Any:
        """The next WebSocket frame the desk sent, decoded."""
        message = await self.next_message()
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])


async def open_connection(
    desk: WebSocketDesk, category: str = "linear"
) -> tuple[FakeClient, asyncio.Task[None]]:
    client = FakeClient()
    task = asyncio.create_task(desk.serve(category, client.receive, client.send))
    client.incoming.put_nowait({"type": "websocket.connect"})
    assert await client.next_message() == {"type": "websocket.accept"}
    return client, task


async def close_connection(client: FakeClient, task: asyncio.Task[None]) -> None:
    client.gate.set()
    client.leave()
    await asyncio.wait_for(task, TIMEOUT_S)


def without_conn_id(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "conn_id"}


def run(body: Callable[[], Any]) -> None:
    asyncio.run(body())


# --------------------------------------------------------------------------- control replies


def test_linear_subscribe_ack_has_bybits_shape_and_the_book_snapshot_follows(bybit_fixture) -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk)

        client.request(
            {
                "op": "subscribe",
                "args": ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"],
                "req_id": "sub-1",
            }
        )

        ack = await client.next_text()
        assert without_conn_id(ack) == without_conn_id(
            json.loads(bybit_fixture("subscribe_ok_linear"))
        )
        assert LINEAR_CONN_ID.fullmatch(ack["conn_id"])
        assert await client.next_text() == json.loads(BOOK_SNAPSHOT)  # no snapshot for trades
        assert {topic: len(s) for topic, s in desk.subscribers.items()} == {
            "orderbook.50.BTCUSDT": 1,
            "publicTrade.BTCUSDT": 1,
        }
        await close_connection(client, task)
        assert desk.subscribers == {}
        assert desk.sessions == set()

    run(body)


def test_spot_replies_have_bybits_spot_shape(bybit_fixture) -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk, "spot")

        client.request({"op": "subscribe", "args": ["publicTrade.ETHUSDT"], "req_id": "10001"})
        client.request({"op": "ping"})

        ack, pong = await client.next_text(), await client.next_text()
        assert without_conn_id(ack) == without_conn_id(
            json.loads(bybit_fixture("subscribe_ok_spot"))
        )
        assert SPOT_CONN_ID.fullmatch(ack["conn_id"])
        assert without_conn_id(pong) == without_conn_id(json.loads(bybit_fixture("pong_spot")))
        assert "req_id" not in pong  # spot echoes a req_id only when one was sent
        await close_connection(client, task)

    run(body)


def test_linear_ping_gets_bybits_pong(bybit_fixture) -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk)

        client.request({"op": "ping"})
        client.request({"op": "ping", "req_id": "p-7"})

        pong = await client.next_text()
        assert without_conn_id(pong) == without_conn_id(json.loads(bybit_fixture("pong_linear")))
        assert (await client.next_text())["req_id"] == "p-7"
        await close_connection(client, task)

    run(body)


def test_unsubscribe_acks_and_stops_the_topic() -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk)
        client.request({"op": "subscribe", "args": ["publicTrade.BTCUSDT"], "req_id": "1"})
        await client.next_text()

        client.request({"op": "unsubscribe", "args": ["publicTrade.BTCUSDT"], "req_id": "2"})
        ack = await client.next_text()
        desk.fan_out("publicTrade.BTCUSDT", b'{"topic":"publicTrade.BTCUSDT","data":[]}')
        client.request({"op": "ping", "req_id": "3"})

        assert (ack["op"], ack["success"], ack["ret_msg"], ack["req_id"]) == (
            "unsubscribe",
            True,
            "",
            "2",
        )
        assert (await client.next_text())["op"] == "ping"  # the trade frame never came
        assert desk.subscribers == {}
        await close_connection(client, task)

    run(body)


ERROR_CASES: list[tuple[str, Any, str]] = [
    ("linear", "not json", "error:request is not valid JSON"),
    ("linear", {"op": "auth", "req_id": "1"}, "error:unsupported op 'auth'"),
    ("linear", {"op": "subscribe", "args": []}, "error:args must be a non-empty list of topics"),
    ("linear", {"op": "subscribe", "args": [1]}, "error:args must be a non-empty list of topics"),
    (
        "linear",
        {"op": "subscribe", "args": ["publicTrade.BTCUSDT", "publicTrade.BTCUSDT"]},
        "error:already subscribed,topic:publicTrade.BTCUSDT",
    ),
    (
        "linear",
        {"op": "subscribe", "args": ["publicTrade.BTCUSDT", "publicTrade.XYZUSDT"]},
        "error:handler not found,topic:publicTrade.XYZUSDT",
    ),
    (
        "linear",
        {"op": "subscribe", "args": ["orderbook.200.BTCUSDT"]},  # a depth it does not serve
        "error:handler not found,topic:orderbook.200.BTCUSDT",
    ),
    (
        "linear",
        {"op": "subscribe", "args": ["kline.1.BTCUSDT"]},
        "error:handler not found,topic:kline.1.BTCUSDT",
    ),
    (
        "spot",
        {"op": "subscribe", "args": ["publicTrade.XYZUSDT"]},
        "Invalid symbol :[publicTrade.XYZUSDT]",
    ),
    (
        "spot",
        {"op": "subscribe", "args": [f"publicTrade.S{i}" for i in range(SPOT_MAX_ARGS + 1)]},
        "args size >10",
    ),
    (
        "linear",  # /docs/v5/ws/connect: a connection's topics total at most 21,000 characters
        {"op": "subscribe", "args": ["publicTrade." + "A" * 21_000]},
        "error:topics of one connection exceed 21000 characters",
    ),
    (
        "linear",
        {"op": "unsubscribe", "args": ["publicTrade.BTCUSDT"]},
        "error:not subscribed,topic:publicTrade.BTCUSDT",
    ),
]


@pytest.mark.parametrize(("category", "payload", "message"), ERROR_CASES)
def test_a_bad_request_gets_an_error_reply_and_subscribes_nothing(
    category: str, payload: Any, message: str
) -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk, category)
        client.request(payload)

        reply = await client.next_text()

        assert reply["success"] is False
        assert reply["ret_msg"] == message
        assert reply["op"] == (payload.get("op", "") if isinstance(payload, dict) else "")
        assert desk.subscribers == {}
        await close_connection(client, task)

    run(body)


def test_subscribing_a_live_topic_again_is_refused() -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk)
        client.request({"op": "subscribe", "args": ["publicTrade.BTCUSDT"], "req_id": "1"})
        await client.next_text()

        client.request(
            {
                "op": "subscribe",
                "args": ["publicTrade.ETHUSDT", "publicTrade.BTCUSDT"],
                "req_id": "2",
            }
        )

        reply = await client.next_text()
        assert reply["ret_msg"] == "error:already subscribed,topic:publicTrade.BTCUSDT"
        assert reply["req_id"] == "2"
        assert set(desk.subscribers) == {"publicTrade.BTCUSDT"}  # ETHUSDT went with the request
        await close_connection(client, task)

    run(body)


def test_rejected_symbols_are_refused_and_counted() -> None:
    async def body() -> None:
        desk = make_desk()
        desk.rejected_symbols = frozenset({"ETHUSDT"})
        client, task = await open_connection(desk)

        client.request({"op": "subscribe", "args": ["tickers.BTCUSDT", "tickers.ETHUSDT"]})

        reply = await client.next_text()
        assert reply["ret_msg"] == "error:subscription rejected,topic:tickers.ETHUSDT"
        assert desk._fault_counts["reject"] == 1
        assert desk.subscribers == {}
        await close_connection(client, task)

    run(body)


def test_a_request_sent_as_bytes_is_read_as_text() -> None:
    async def body() -> None:
        desk = make_desk()
        client, task = await open_connection(desk)

        client.incoming.put_nowait({"type": "websocket.receive", "bytes": b'{"op":"ping"}'})
        client.incoming.put_nowait({"type": "websocket.receive", "bytes": b"\xff\xfe"})

        assert (await client.next_text())["ret_msg"] == "pong"
        assert (await client.next_text())["ret_msg"] == "error:request is not valid JSON"
        await close_connection(client, task)

    run(body)


def test_a_scope_that_does_not_connect_is_not_accepted() -> None:
    async def body() -> None:
        desk = make_desk()
        client = FakeClient()
        client.leave()

        await asyncio.wait_for(desk.serve("linear", client.receive, client.send), TIMEOUT_S)

        assert client.outgoing.empty()
        assert desk.sessions == set()

    run(body)


def test_connection_ids_follow_the_seed() -> None:
    async def ids(seed: int) -> list[str]:
        desk = make_desk(seed=seed)
        found = []
        for category in ("linear", "spot"):
            client, task = await open_connection(desk, category)
            client.request({"op": "ping"})
            found.append((await client.next_text())["conn_id"])
            await close_connection(client, task)
        return found

    async def body() -> None:
        first, again, other = await ids(3), await ids(3), await ids(4)
        assert first == again
        assert first != other
        assert LINEAR_CONN_ID.fullmatch(first[0]) and SPOT_CONN_ID.fullmatch(first[1])

    run(body)


# --------------------------------------------------------------------------- fan-out


def test_fan_out_reaches_the_subscribers_of_the_topic_only() -> None:
    async def body() -> None:
        desk = make_desk()
        trade, ticker = await open_connection(desk), await open_connection(desk)
        trade[0].request({"op": "subscribe", "args": ["publicTrade.BTCUSDT"]})
        ticker[0].request({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        await trade[0].next_text()
        await ticker[0].next_text()
        assert await ticker[0].next_text() == json.loads(TICKER_SNAPSHOT)

        frame = b'{"topic":"publicTrade.BTCUSDT","data":[{"p":"100.5"}]}'
        desk.fan_out("publicTrade.BTCUSDT", frame)
        desk.fan_out("publicTrade.ETHUSDT", b'{"topic":"publicTrade.ETHUSDT"}')  # nobody
        for client, _ in (trade, ticker):
            client.request({"op": "ping", "req_id": "end"})

        assert await trade[0].next_text() == json.loads(frame)
        assert (await trade[0].next_text())["req_id"] == "end"
        assert (await ticker[0].next_text())["req_id"] == "end"
        for client, task in (trade, ticker):
            await close_connection(client, task)

    run(body)


def test_a_slow_client_is_dropped_when_its_queue_is_full_and_the_others_keep_flowing() -> None:
    async def body() -> None:
        desk = make_desk(queue_limit=2)
        slow, slow_task = await open_connection(desk)
        fast, fast_task = await open_connection(desk)
        for client in (slow, fast):
            client.request({"op": "subscribe", "args": ["publicTrade.BTCUSDT"]})
            await client.next_text()
        slow.gate.clear()  # the slow client stops reading
        slow.send_started.clear()
        slow.request({"op": "ping", "req_id": "stuck"})
        await asyncio.wait_for(slow.send_started.wait(), TIMEOUT_S)  # its writer is stuck

        for i in range(3):  # the slow queue takes two; the third frame overflows it
            frame = b'{"topic":"publicTrade.BTCUSDT","n":%d}' % i
            desk.fan_out("publicTrade.BTCUSDT", frame)
            assert await fast.next_text() == json.loads(frame)  # the fast one reads on

        assert desk.slow_clients_dropped == 1
        assert len(desk.sessions) == 2  # dropped, but its connection ends only on its own
        slow.gate.set()
        assert (await slow.next_text())["req_id"] == "stuck"  # what was already being sent
        desk.fan_out("publicTrade.BTCUSDT", b'{"topic":"publicTrade.BTCUSDT","n":3}')
        assert desk.slow_clients_dropped == 1  # a dropped client is counted once
        await close_connection(slow, slow_task)
        await close_connection(fast, fast_task)

    run(body)


def test_a_snapshot_that_does_not_fit_drops_the_client() -> None:
    async def body() -> None:
        desk = make_desk(queue_limit=1)
        client, task = await open_connection(desk)
        client.gate.clear()
        client.request({"op": "ping", "req_id": "stuck"})
        await asyncio.wait_for(client.send_started.wait(), TIMEOUT_S)
        (session,) = desk.sessions

        # the ack fills the queue; the book snapshot behind it does not fit
        desk.answer(session, json.dumps({"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}))

        assert desk.slow_clients_dropped == 1
        assert session.closed
        client.gate.set()
        assert (await client.next_text())["req_id"] == "stuck"
        await close_connection(client, task)

    run(body)


def test_a_client_dropped_while_its_writer_is_sending_gets_the_close_frame() -> None:
    async def body() -> None:
        desk = make_desk(queue_limit=1)
        client, task = await open_connection(desk)
        client.gate.clear()
        client.request({"op": "ping", "req_id": "stuck"})
        await asyncio.wait_for(client.send_started.wait(), TIMEOUT_S)
        (session,) = desk.sessions
        session.drop()  # what a full queue does; no transport here, so no abort

        client.gate.set()

        assert (await client.next_text())["req_id"] == "stuck"
        try:  # the close follows at once when it comes at all: a short bound
            closing = await asyncio.wait_for(client.outgoing.get(), 1.0)
        finally:
            await close_connection(client, task)
        assert closing == {"type": "websocket.close", "code": 1011}

    run(body)


def test_drop_all_closes_every_connection() -> None:
    async def body() -> None:
        desk = make_desk()
        connections = [await open_connection(desk) for _ in range(3)]

        assert desk.drop_all() == 3

        for client, task in connections:
            assert await client.next_message() == {"type": "websocket.close", "code": 1011}
            await close_connection(client, task)
        assert desk.sessions == set()

    run(body)
