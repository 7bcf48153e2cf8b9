"""The HTTP/WebSocket API over real loopback sockets, on an engine fed by the simulator."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import websockets
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.support import api_stack, wait_until

from scalper.api import ApiServer
from scalper.engine import Engine
from scalper.settings import AlertSettings, EngineSettings, FootprintSettings
from scalper.signals import FACTOR_NAMES, SignalEngine
from scalper.venues.bybit.feed import LiveFeed
from scalper.venues.simulator.exchange import ExchangeSimulator

FAST_CANDLES = EngineSettings(timeframes=("2s", "1m", "5m"))


@dataclass
class Stack:
    simulator: ExchangeSimulator
    engine: Engine
    feed: LiveFeed
    app: FastAPI
    server: ApiServer
    http: httpx.AsyncClient
    signals: SignalEngine

    @property
    def symbols(self) -> list[str]:
        return self.simulator.symbols


def run_with_api(
    scenario: Callable[[Stack], Awaitable[None]],
    engine_config: EngineSettings | None = None,
    rate: float = 1.0,
    **app_options: float,
) -> None:
    """Simulator (5 symbols) -> live feed -> engine -> API, all on one loop; run `scenario`.
    `app_options`: stale_after_s, or ApiSettings fields."""

    async def main() -> None:
        async with (
            api_stack(engine_config, rate, **app_options) as live,
            httpx.AsyncClient(base_url=live.server.url, timeout=10.0) as http,
        ):
            await scenario(
                Stack(
                    live.simulator,
                    live.engine,
                    live.feed,
                    live.app,
                    live.server,
                    http,
                    live.signals,
                )
            )

    asyncio.run(main())


def test_every_endpoint_answers_from_the_engine() -> None:
    async def scenario(stack: Stack) -> None:
        http = stack.http
        symbol = stack.symbols[0]

        response = await http.get("/api/symbols")
        assert response.status_code == 200
        table = response.json()
        assert table["count"] == 5
        assert {row["symbol"] for row in table["symbols"]} == set(stack.symbols)
        row = table["symbols"][0]
        assert set(row) == {
            "symbol",
            "mid",
            "spread_bps",
            "imbalance",
            "delta",
            "volume",
            "delta_quote",
            "volume_quote",
            "delta_usd",
            "volume_usd",
            "tick_size",
            "qty_step",
            "min_qty",
            "last_update_age_ms",
            "sync_state",
            "score",
            "direction",
            "confluence",
            "volatility_regime",
            "trend_regime",
            "volume_regime",
        }
        instrument = stack.feed.instruments[row["symbol"]]  # as the simulator's REST gave it
        assert (row["tick_size"], row["qty_step"]) == (instrument.tick_size, instrument.qty_step)
        assert row["sync_state"] == "in_sync" and row["mid"] > 0 and 0 <= row["imbalance"] <= 1
        assert row["last_update_age_ms"] >= 0
        assert set(row["delta"]) == set(row["volume"]) == {"10s", "1m", "5m"}

        ranked = (await http.get("/api/symbols", params={"sort": "-volume_5m", "limit": 3})).json()
        volumes = [row["volume"]["5m"] for row in ranked["symbols"]]
        assert ranked["count"] == 3 and volumes == sorted(volumes, reverse=True)
        # Both flow units under clear names: coins (`delta`) and USD notional (`delta_usd`).
        assert row["delta_usd"] == row["delta_quote"] and row["volume_usd"] == row["volume_quote"]
        by_usd = (await http.get("/api/symbols", params={"sort": "-volume_usd_5m"})).json()
        notionals = [row["volume_usd"]["5m"] for row in by_usd["symbols"]]
        assert notionals == sorted(notionals, reverse=True)
        candles = (await http.get(f"/api/symbol/{symbol}/candles", params={"tf": "15s"})).json()
        forming = candles["forming"]
        assert forming["delta_usd"] == forming["delta_quote"]
        assert forming["volume_usd"] == forming["turnover"]

        basic = (await http.get(f"/api/symbol/{symbol}/basic")).json()
        assert basic["symbol"] == symbol
        assert basic["best_bid"][0] < basic["best_ask"][0]
        assert basic["imbalance"]["label"] in {"bid_pressure", "ask_pressure", "neutral"}
        assert set(basic["imbalance"]["values"]) >= {"top1", "top5", "top10", "book"}
        assert basic["cumulative"]["volume"] > 0 and basic["counters"]["frames"] > 0

        profile = (await http.get(f"/api/symbol/{symbol}/profile")).json()
        assert set(profile["candles"]) == {"15s", "1m", "5m"}
        assert profile["book"]["venue_depth"] == 50 and len(profile["book"]["bids"]) == 10
        assert profile["book"]["depth"] == 10
        assert "walls" in profile and "windows" in profile

        for tf in ("15s", "1m", "5m"):
            candles = (await http.get(f"/api/symbol/{symbol}/candles", params={"tf": tf})).json()
            assert candles["timeframe"] == tf and candles["forming"]["close"] > 0

        book = (await http.get(f"/api/symbol/{symbol}/book", params={"depth": 5})).json()
        assert len(book["bids"]) == 5 and len(book["asks"]) == 5 and book["state"] == "in_sync"
        assert (book["depth"], book["venue_depth"]) == (5, 50)
        await book_equals_the_market_model(stack, symbol)
        bid, ask = basic["best_bid"][0], basic["best_ask"][0]
        # the mid is served to half a tick (one more decimal than the tick): exact up to that
        assert basic["mid"] == pytest.approx((bid + ask) / 2, rel=1e-12)
        assert basic["spread"] == pytest.approx(ask - bid)
        spread_bps = (ask - bid) / ((bid + ask) / 2) * 10_000
        assert basic["spread_bps"] == pytest.approx(spread_bps, abs=5e-5)  # 4 decimals

        trades = (await http.get(f"/api/symbol/{symbol}/trades", params={"limit": 3})).json()
        assert 1 <= trades["count"] <= 3
        stamps = [trade["ts_event_ns"] for trade in trades["trades"]]
        assert stamps == sorted(stamps, reverse=True)
        assert {trade["symbol"] for trade in trades["trades"]} == {symbol}

        monitor = (await http.get("/api/monitor/trades", params={"limit": 50})).json()
        assert monitor["count"] == 50
        assert len({trade["symbol"] for trade in monitor["trades"]}) > 1
        assert all(isinstance(trade["large"], bool) for trade in monitor["trades"])

        health = await http.get("/api/monitor/health")
        assert health.status_code == 200, health.text
        report = health.json()
        assert report["status"] == "ok" and report["rss_bytes"] > 0 and report["uptime_s"] > 0
        assert report["connections"][0]["state"] == "open"
        assert report["connections"][0]["lag_ms"] is not None
        assert report["data_dir"]["recording"] is False and report["data_dir"]["bytes_used"] is None

        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
        assert families["scalper_engine_frames"].samples[0].value > 0
        assert len(families["scalper_symbol_frames"].samples) == 5
        assert families["scalper_up"].samples[0].value == 1.0

        assert (await http.get("/docs")).status_code == 200
        spec = (await http.get("/openapi.json")).json()
        assert "/api/symbol/{symbol}/candles" in spec["paths"]

    run_with_api(scenario)


async def book_equals_the_market_model(stack: Stack, symbol: str) -> None:
    """`/book` at some `u` equals the simulator's market model at that `u` (an independent
    truth: the model's own levels, not the engine's nor the simulator's record)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        book = (await stack.http.get(f"/api/symbol/{symbol}/book", params={"depth": 50})).json()
        truth = stack.simulator.true_book(symbol, book["update_id"])
        if truth is not None:
            bids, asks = truth
            assert [tuple(level) for level in book["bids"]] == bids
            assert [tuple(level) for level in book["asks"]] == asks
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the API's book and the market model were never at the same u")


def raw_get(port: int, symbol: str) -> tuple[int, bytes]:
    """GET /api/symbol/{symbol}/basic with http.client (httpx refuses URLs this long)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", f"/api/symbol/{symbol}/basic")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_errors_are_json_and_symbols_are_case_insensitive() -> None:
    async def scenario(stack: Stack) -> None:
        http = stack.http
        symbol = stack.symbols[1]

        lower = await http.get(f"/api/symbol/{symbol.lower()}/basic")
        assert lower.status_code == 200 and lower.json()["symbol"] == symbol

        for path in ("/api/symbol/NOPEUSDT/basic", "/api/symbol/NOPEUSDT/book", "/api/nothing"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["message"]
        assert "NOPEUSDT" in (await http.get("/api/symbol/nopeusdt/trades")).json()["message"]

        bad = [
            (f"/api/symbol/{symbol}/candles", {"tf": "7m"}),
            (f"/api/symbol/{symbol}/candles", {"tf": "1M"}),  # a month, not a minute
            (f"/api/symbol/{symbol}/candles", {"limit": 0}),
            (f"/api/symbol/{symbol}/book", {"depth": "deep"}),
            ("/api/symbols", {"sort": "-price"}),
            ("/api/monitor/trades", {"limit": 10**9}),
        ]
        for path, params in bad:
            response = await http.get(path, params=params)
            assert response.status_code == 422, (path, params)
            body = response.json()
            assert body["message"].startswith("invalid request"), body
            assert "Traceback" not in response.text

        status, body = await asyncio.to_thread(raw_get, stack.server.port, "X" * 100_000)
        assert status == 422 and len(body) < 1_000, (status, len(body))  # not the input echoed
        assert b"100000 characters" in body

    run_with_api(scenario)


def test_an_unexpected_error_is_a_json_500_without_a_trace() -> None:
    async def scenario(stack: Stack) -> None:
        @stack.app.get("/api/boom")
        async def boom() -> None:
            raise RuntimeError("secret internals")

        response = await stack.http.get("/api/boom")
        assert response.status_code == 500
        assert response.json() == {"message": "internal error (logged on the server)"}
        assert "secret" not in response.text

    run_with_api(scenario)


def test_health_is_503_while_the_feed_is_stalled_and_recovers() -> None:
    async def scenario(stack: Stack) -> None:
        http = stack.http
        assert (await http.get("/api/monitor/health")).status_code == 200
        stack.simulator.stall(3.0)
        statuses: list[int] = []

        async def poll_until(code: int, timeout: float) -> dict:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                response = await http.get("/api/monitor/health")
                statuses.append(response.status_code)
                if response.status_code == code:
                    return response.json()
                await asyncio.sleep(0.1)
            raise AssertionError(f"health never answered {code}: {statuses}")

        stalled = await poll_until(503, 3.0)
        assert stalled["status"] == "stale" and "no frame" in stalled["reason"]
        scraped = (await http.get("/metrics")).text
        assert "scalper_up 0.0" in scraped
        recovered = await poll_until(200, 5.0)
        assert recovered["status"] == "ok"

    run_with_api(scenario, stale_after_s=1.0)


async def receive_json(ws: websockets.ClientConnection, timeout: float) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_websocket_streams_throttled_state_and_closed_candles() -> None:
    async def scenario(stack: Stack) -> None:
        url = stack.server.url.replace("http", "ws") + "/ws"
        wanted = [stack.symbols[0].lower(), stack.symbols[2], "NOPEUSDT"]
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"op": "subscribe", "symbols": wanted}))
            ack = await receive_json(ws, 2)
            assert ack == {
                "type": "subscribed",
                "symbols": sorted([stack.symbols[0], stack.symbols[2]]),
                "unknown": ["NOPEUSDT"],
            }
            states: dict[str, list[float]] = {}
            candle = None
            started = time.monotonic()
            while candle is None or len(states) < 2:
                assert time.monotonic() - started < 30, "no closed candle or states within 30 s"
                message = await receive_json(ws, 5)
                if message["type"] == "state":
                    assert message["data"]["symbol"] == message["symbol"]
                    states.setdefault(message["symbol"], []).append(time.monotonic())
                elif message["type"] == "candle":
                    candle = message
            assert set(states) == {stack.symbols[0], stack.symbols[2]}
            assert candle["symbol"] in states and candle["timeframe"] == "2s"
            assert candle["candle"]["close"] > 0
            # Throttled: one state per symbol per 250 ms tick at most, however late the client
            # reads them (the count over the whole wait, not the spacing of arrivals).
            elapsed = time.monotonic() - started
            for stamps in states.values():
                assert len(stamps) <= elapsed / 0.25 + 2

            await ws.send("not json")
            while (message := await receive_json(ws, 2))["type"] != "error":
                pass
            assert "bad request" in message["message"]
        await wait_until(lambda: not stack.app.state.hub.clients, 2, "the client to leave")

    run_with_api(scenario, engine_config=FAST_CANDLES)


def raw_websocket(port: int) -> socket.socket:
    """A WebSocket client (after the handshake) with a tiny receive buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def send_text(sock: socket.socket, text: str) -> None:
    """One masked text frame (client to server), payload under 126 bytes."""
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)


def shrink_server_buffers(server: ApiServer, client: socket.socket) -> None:
    """Make the server side of `client`'s connection buffer 4 KiB instead of megabytes (kernel
    send buffer and asyncio write buffer), so a client that never reads fills its queue in well
    under a second rather than after ~4 MB of loopback buffering."""
    for connection in server._server.server_state.connections:  # type: ignore[attr-defined]
        transport = connection.transport
        if transport.get_extra_info("peername") == client.getsockname():
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            transport.set_write_buffer_limits(high=4096)
            return
    raise AssertionError("the server has no such connection")


def test_a_websocket_client_that_never_reads_is_dropped() -> None:
    async def scenario(stack: Stack) -> None:
        hub = stack.app.state.hub
        url = stack.server.url.replace("http", "ws") + "/ws"
        frames_before = stack.engine.frames
        stuck = await asyncio.to_thread(raw_websocket, stack.server.port)
        try:
            shrink_server_buffers(stack.server, stuck)
            send_text(stuck, json.dumps({"op": "subscribe", "symbols": stack.symbols}))
            # max_queue=None: keep reading to the close frame behind unread updates
            async with websockets.connect(url, max_queue=None) as healthy:
                await healthy.send(json.dumps({"op": "subscribe", "symbols": stack.symbols}))
                await wait_until(lambda: hub.dropped >= 1, 10, "the stuck client to be dropped")
                assert len(hub.clients) == 1
                while (await receive_json(healthy, 2))["type"] != "state":
                    pass  # the reading client keeps getting updates
            health = (await stack.http.get("/api/monitor/health")).json()
            assert health["ws_clients_dropped"] == 1
            assert stack.engine.frames > frames_before
        finally:
            stuck.close()

    run_with_api(scenario, ws_tick_s=0.02, ws_queue_size=32)


def run_schemathesis(base_url: str, symbols: list[str]) -> int:
    """Every operation with bounded generated examples; raises on the first failed check: no
    server error, a documented status code and content type, and the JSON body valid against
    the operation's documented schema. Symbol paths get a tracked symbol (in any case) half the
    time, else a generated string. Returns how many operations were exercised.

    The body is validated here with JSON Schema 2020-12 (jsonschema-rs), not with schemathesis'
    own response_schema_conformance: our OpenAPI 3.1 document describes (price, size) levels as
    `prefixItems` tuples (msgspec's schemas), which schemathesis 4 rewrites to draft-4 `items`
    lists and then rejects as an invalid schema object."""
    import jsonschema_rs
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    spec = httpx.get(f"{base_url}/openapi.json").json()

    def body_schema(path: str, method: str, status: int) -> dict | None:
        responses = spec["paths"][path][method.lower()]["responses"]
        content = responses.get(str(status), {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return None if schema is None else {**schema, "components": spec["components"]}

    symbols_schema = jsonschema_rs.Draft202012Validator(body_schema("/api/symbols", "get", 200))
    assert not symbols_schema.is_valid({"count": "many", "symbols": []})  # the check can fail
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(
            case=operation.as_strategy(),
            symbol=st.sampled_from([*symbols, *(s.lower() for s in symbols), None]),
        )
        def check(case: schemathesis.Case, symbol: str | None) -> None:
            if symbol is not None and case.path_parameters:
                case.path_parameters = {"symbol": symbol}
            response = case.call_and_validate(base_url=base_url, checks=checks)
            documented = body_schema(case.operation.path, case.method, response.status_code)
            if documented is not None:
                jsonschema_rs.Draft202012Validator(documented).validate(response.json())

        check()
        operations += 1
    return operations


def test_schemathesis_every_answer_conforms_to_the_openapi_document() -> None:
    async def scenario(stack: Stack) -> None:
        # No wall-clock bound: 30 s was exceeded (31.5 s) at load 8-9 on the 2-CPU machine; the
        # examples are bounded (max_examples) and pytest-timeout stops a hang.
        operations = await asyncio.to_thread(run_schemathesis, stack.server.url, stack.symbols)
        assert operations == 13  # 12 JSON routes (footprint, volume profile...) and /metrics

    run_with_api(scenario, alerts=AlertSettings(), footprint=FootprintSettings())  # type: ignore[arg-type]


RUNBOOK = [
    ("/api/symbol/{symbol}/profile", ".candles[] | length"),
    (
        "/api/symbol/{symbol}/basic",
        ".orderbook | {bids: .bids | length, asks: .asks | length}",
    ),
    ("/api/symbol/{symbol}/basic", ".orderbook.lastUpdateAt"),
    ("/api/symbol/{symbol}/basic", ".trades"),
    ("/api/monitor/trades", "."),
]
"""The replaced system's runbook queries (`curl :8090/... | jq '...'`), unchanged."""


def jq(url: str, expression: str) -> object:
    """`curl -s URL | jq -c EXPRESSION`, exactly as an operator types it; the values jq prints."""
    command = f"curl -sf '{url}' | jq -c '{expression}'"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_replaced_systems_runbook_queries_work() -> None:
    async def scenario(stack: Stack) -> None:
        symbol = stack.symbols[0]
        base = stack.server.url
        answers = [
            await asyncio.to_thread(jq, base + path.format(symbol=symbol), expression)
            for path, expression in RUNBOOK
        ]
        lengths, book, last_update, trades, monitor = answers
        assert len(lengths) == 3 and all(isinstance(n, int) for n in lengths)  # a timeframe each
        assert book == [{"bids": 25, "asks": 25}]
        now_ms = time.time_ns() // 1_000_000
        (stamp,) = last_update
        assert now_ms - 60_000 < stamp <= now_ms + 5_000  # epoch ms, like `date +%s%3N`
        state = stack.engine.symbols[symbol]
        assert stamp <= state.book.ts_event_ns // 1_000_000  # type: ignore[union-attr]
        (summary,) = trades
        assert 1 <= len(summary["recent"]) <= 20 and set(summary["windows"]) == {"10s", "1m", "5m"}
        assert {trade["symbol"] for trade in summary["recent"]} == {symbol}
        (everything,) = monitor
        assert everything["count"] > 0

    run_with_api(scenario)


WINDOWS = EngineSettings(flow_windows=("10s", "1m"))


def test_configured_flow_windows_are_served_end_to_end() -> None:
    """Windows other than the default: /api/symbols rows, sort keys, /basic and /ws follow them
    (a hard-coded 5 m window used to answer 500 here)."""

    async def scenario(stack: Stack) -> None:
        http = stack.http
        response = await http.get("/api/symbols", params={"sort": "-delta_10s"})
        assert response.status_code == 200, response.text
        rows = response.json()["symbols"]
        assert all(set(row["delta"]) == {"10s", "1m"} for row in rows)
        deltas = [row["delta"]["10s"] for row in rows]
        assert deltas == sorted(deltas, reverse=True)
        assert (await http.get("/api/symbols", params={"sort": "volume_5m"})).status_code == 422
        basic = (await http.get(f"/api/symbol/{stack.symbols[0]}/basic")).json()
        assert set(basic["windows"]) == {"10s", "1m"}
        windows = basic["windows"]
        assert 0 < windows["10s"]["volume"] <= windows["1m"]["volume"]
        assert windows["1m"]["volume"] <= basic["cumulative"]["volume"]

    run_with_api(scenario, engine_config=WINDOWS)


def test_signals_are_served_explained_sorted_streamed_and_exported() -> None:
    async def scenario(stack: Stack) -> None:
        http = stack.http
        symbols = stack.symbols

        def scored() -> bool:
            summaries = [stack.signals.summary(symbol) for symbol in symbols]
            return all(s is not None and s.score is not None for s in summaries)

        await wait_until(scored, 20, "every symbol scored")
        view = (await http.get(f"/api/symbol/{symbols[0].lower()}/signals")).json()
        assert view["symbol"] == symbols[0] and view["as_of_ns"] > 0 and view["cadence_ms"] == 100
        assert list(view["factors"]) == list(FACTOR_NAMES)
        for factor in view["factors"].values():
            assert factor["status"] in ("ok", "warming_up", "unavailable")
            assert (factor["value"] is None) == (factor["status"] != "ok")
        score = view["score"]
        assert -1 <= score["value"] <= 1 and score["version"] == stack.signals.version
        parts = [
            f["contribution"] for f in view["factors"].values() if f["contribution"] is not None
        ]
        assert sum(parts) == pytest.approx(score["value"])
        assert score["direction"] in ("long", "short", "flat")
        assert set(view["regimes"]) == {"volatility", "trend", "volume"}
        assert view["regimes"]["trend"]["state"] == "warming_up"  # 1m candles: minutes away
        missing = await http.get("/api/symbol/NOPEUSDT/signals")
        assert missing.status_code == 404 and "unknown symbol" in missing.json()["message"]

        ranked = (await http.get("/api/symbols", params={"sort": "-score"})).json()["symbols"]
        scores = [row["score"] for row in ranked]
        assert scores == sorted(scores, reverse=True)
        assert {row["volatility_regime"] for row in ranked} == {"warming_up"}

        metrics = (await http.get("/metrics")).text
        families = {f.name: f for f in text_string_to_metric_families(metrics)}
        regimes = families["scalper_signal_regime_symbols"].samples
        assert {(s.labels["regime"], s.labels["state"], s.value) for s in regimes} == {
            ("trend", "warming_up", 5.0),
            ("volatility", "warming_up", 5.0),
            ("volume", "warming_up", 5.0),
        }
        assert len(families["scalper_signal_score"].samples) == 5
        distribution = families["scalper_signal_score_distribution"].samples
        assert [s.value for s in distribution if s.name.endswith("_bucket")][-1] == 5.0

        url = stack.server.url.replace("http", "ws") + "/ws"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"op": "subscribe", "symbols": symbols[:2]}))
            kinds: dict[str, dict] = {}
            while "signals" not in kinds:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                kinds[message["type"]] = message
            data = kinds["signals"]["data"]
            assert kinds["signals"]["symbol"] in symbols[:2]
            assert set(data) == {"score", "direction", "confluence", "regimes", "as_of_ns"}

    run_with_api(scenario)
