"""Edges of the HTTP/WebSocket API over real loopback sockets.

It proves that a WebSocket `unsubscribe` stops that symbol's messages at once while the other
symbols keep streaming; that a client too slow to read is dropped with close code 1008 as the
client itself sees it; that `/api/symbol/{s}/book` answers 404 "no book yet" for a symbol that
has trades but no book (an engine fed by hand); that the imbalance set and the walls served
for a hand-fed book are the figures worked out by hand (tests/unit/test_views.py), not only
keys in range; and that health answers 503 "down" once no connection is open (the simulator
stopped under a live feed).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
import websockets
from tests.integration.support import wait_until
from tests.integration.test_api import Stack, receive_json, run_with_api, shrink_server_buffers
from tests.unit.test_views import HAND_IMBALANCE, HAND_WALLS, engine_with_a_hand_worked_book

from scalper.api import create_app, serve_api
from scalper.api.stream import DROPPED_CLOSE_CODE
from scalper.engine import Engine
from scalper.events import BUY, SELL, Trade, TradeBatch


def ws_url(stack: Stack) -> str:
    return stack.server.url.replace("http", "ws") + "/ws"


def test_unsubscribe_stops_that_symbol_while_the_others_keep_streaming() -> None:
    async def scenario(stack: Stack) -> None:
        kept, dropped = stack.symbols[0], stack.symbols[3]
        async with websockets.connect(ws_url(stack), max_queue=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "symbols": [kept, dropped]}))
            seen: set[str] = set()
            started = time.monotonic()
            while seen != {kept, dropped}:
                assert time.monotonic() - started < 10, f"states of both within 10 s: {seen}"
                message = await receive_json(ws, 5)
                if message["type"] == "state":
                    seen.add(message["symbol"])

            await ws.send(json.dumps({"op": "unsubscribe", "symbols": [dropped.lower()]}))
            # The ack is queued behind whatever was queued before the request: read up to it.
            while (message := await receive_json(ws, 5))["type"] != "subscribed":
                pass
            assert message == {"type": "subscribed", "symbols": [kept], "unknown": []}

            # From the ack on, nothing about the dropped symbol; the kept one goes on (ten more
            # states: ten ticks at least, in which the dropped one changed too).
            kept_states, frames_then = 0, stack.engine.symbols[dropped].counters.frames
            while kept_states < 10:
                message = await receive_json(ws, 5)
                assert message.get("symbol") != dropped, message
                kept_states += message["type"] == "state" and message["symbol"] == kept
            assert stack.engine.symbols[dropped].counters.frames > frames_then

    run_with_api(scenario, ws_tick_s=0.05)


def small_buffer_socket(port: int) -> socket.socket:
    """A connected loopback socket with a 4 KiB receive buffer, for the client side."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


def test_a_dropped_slow_client_receives_close_code_1008() -> None:
    """A websockets client that stops reading (its library queue holds 4 messages, then TCP
    back-pressure) is dropped when its server-side queue fills; once it reads again it gets
    the updates that were already on their way, then the close frame: code 1008."""

    async def scenario(stack: Stack) -> None:
        hub = stack.app.state.hub
        sock = await asyncio.to_thread(small_buffer_socket, stack.server.port)
        async with websockets.connect(ws_url(stack), sock=sock, max_queue=4) as slow:
            shrink_server_buffers(stack.server, sock)
            await slow.send(json.dumps({"op": "subscribe", "symbols": stack.symbols}))
            await wait_until(lambda: hub.dropped == 1, 15, "the slow client to be dropped")
            assert not hub.clients
            received = 0
            with pytest.raises(websockets.ConnectionClosedError):
                while True:
                    await asyncio.wait_for(slow.recv(), 10)
                    received += 1
            assert received > 4  # it did read what was buffered before the close frame
            assert slow.close_code == DROPPED_CLOSE_CODE == 1008
            assert slow.close_reason == "too slow: queue full"
        health = (await stack.http.get("/api/monitor/health")).json()
        assert health["ws_clients_dropped"] == 1 and health["ws_clients"] == 0

    run_with_api(scenario, ws_tick_s=0.02, ws_queue_size=32)


def test_book_is_404_for_a_symbol_with_trades_but_no_book() -> None:
    async def scenario() -> None:
        engine = Engine()
        t0 = 1_764_000_000_000_000_000
        fills = [(100.0, 2.0, BUY), (100.5, 1.0, SELL), (101.0, 0.5, BUY)]
        for i, (price, size, side) in enumerate(fills):
            ts = t0 + i * 1_000_000
            trade = Trade("BTCUSDT", price, size, side, ts, ts + 5, trade_id=str(i))
            engine.on_event(TradeBatch("BTCUSDT", [trade], ts, ts + 5))
        server = await serve_api(create_app(engine), port=0)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
                for name in ("BTCUSDT", "btcusdt"):
                    book = await http.get(f"/api/symbol/{name}/book")
                    assert book.status_code == 404
                    assert book.json() == {"message": "no book yet for BTCUSDT"}
                unknown = await http.get("/api/symbol/ETHUSDT/book")
                assert unknown.status_code == 404 and "unknown symbol" in unknown.json()["message"]

                trades = await http.get("/api/symbol/BTCUSDT/trades")
                assert trades.status_code == 200
                served = [(t["price"], t["size"], t["side"]) for t in trades.json()["trades"]]
                names = {BUY: "buy", SELL: "sell"}
                assert served == [(p, s, names[side]) for p, s, side in reversed(fills)]
                basic = await http.get("/api/symbol/BTCUSDT/basic")
                assert basic.status_code == 200
                assert basic.json()["best_bid"] is None and basic.json()["mid"] is None
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_imbalance_and_walls_served_are_the_hand_worked_figures() -> None:
    async def scenario() -> None:
        server = await serve_api(create_app(engine_with_a_hand_worked_book()), port=0)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
                basic = (await http.get("/api/symbol/ethusdt/basic")).json()
                profile = (await http.get("/api/symbol/ETHUSDT/profile")).json()
                rows = (await http.get("/api/symbols")).json()["symbols"]
        finally:
            await server.stop()
        # /basic serves the set to 6 decimals (as the symbol row); /profile the exact figures
        rounded = {name: round(value, 6) for name, value in HAND_IMBALANCE.items()}
        assert basic["imbalance"] == {"values": rounded, "label": "bid_pressure"}
        assert profile["imbalance"] == {"values": HAND_IMBALANCE, "label": "bid_pressure"}
        walls = {
            side: [(w["price"], w["size"], w["relative_size"]) for w in profile["walls"][side]]
            for side in ("bids", "asks")
        }
        assert walls == HAND_WALLS
        (row,) = rows
        assert row["symbol"] == "ETHUSDT" and row["imbalance"] == round(19 / 28, 6)

    asyncio.run(scenario())


def test_health_is_503_down_when_no_connection_is_open() -> None:
    async def scenario(stack: Stack) -> None:
        http = stack.http
        first = await http.get("/api/monitor/health")
        assert first.status_code == 200 and first.json()["status"] == "ok"
        await stack.simulator.stop()
        statuses: list[tuple[int, str]] = []

        async def down() -> dict | None:
            response = await http.get("/api/monitor/health")
            statuses.append((response.status_code, response.json()["status"]))
            return response.json() if response.status_code == 503 else None

        deadline = time.monotonic() + 10
        while (report := await down()) is None:
            assert time.monotonic() < deadline, f"health never answered 503: {statuses}"
            await asyncio.sleep(0.1)
        assert report["status"] == "down" and report["reason"] == "no connection open"
        assert all(c["state"] != "open" for c in report["connections"])
        # It stays down while the venue is away: the connection retries, it does not open.
        await wait_until(
            lambda: sum(link.stats.reconnects for link in stack.feed.connections) >= 2,
            10,
            "reconnect attempts",
        )
        again = await http.get("/api/monitor/health")
        assert again.status_code == 503 and again.json()["status"] == "down"

    # stale_after_s well above the test's length: "down" is for no connection, not "stale".
    run_with_api(scenario, stale_after_s=60.0)
