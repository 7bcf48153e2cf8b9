"""The exchange simulator over real loopback sockets: protocol shapes, truth, REST, faults.

Each test runs its own simulator on 127.0.0.1 port 0 inside `asyncio.run`, under a timeout.
Clients are plain `websockets` and `httpx`; books are rebuilt with scalper's wire decoder and
OrderBook and compared with the simulator's published truth at equal update ids (the stream
keeps moving, so "equal at the same `u`" is the comparison that means something).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from scalper.book import OrderBook
from scalper.events import BookUpdate, MalformedFrame
from scalper.replay import iter_frames
from scalper.settings import FaultSettings, SimulatorSettings
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.simulator.exchange import ExchangeSimulator
from scalper.venues.simulator.faults import FaultDice, parse_fault_spec
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

SYMBOL = "SYM001USDT"
BOOK = f"orderbook.50.{SYMBOL}"


def connect(url: str) -> Any:
    """A test client that buffers what it has not read yet (a paused reader would leave the
    server's close frame unread, so closing a busy connection would wait for `close_timeout`)."""
    return websockets.connect(url, max_queue=None, close_timeout=1)


def run(body: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), timeout)

    asyncio.run(bounded())


@asynccontextmanager
async def simulator(**settings: Any) -> AsyncIterator[ExchangeSimulator]:
    settings.setdefault("symbols", 5)
    async with ExchangeSimulator(SimulatorSettings(**settings)) as sim:
        yield sim


_skipped: dict[int, list[bytes]] = {}
"""Frames that arrived before a reply `request` waited for, by connection; read first."""


async def recv(ws: Any, timeout: float = 2.0) -> bytes:
    skipped = _skipped.get(id(ws))
    if skipped:
        return skipped.pop(0)
    message = await asyncio.wait_for(ws.recv(), timeout)
    return message.encode() if isinstance(message, str) else message


async def request(ws: Any, op: str, args: list[str], req_id: str) -> dict[str, Any]:
    """Send a request and return its reply; frames before it are kept for `recv`."""
    await ws.send(json.dumps({"op": op, "args": args, "req_id": req_id}))
    kept = []
    while True:
        message = await asyncio.wait_for(ws.recv(), 2.0)
        raw = message.encode() if isinstance(message, str) else message
        if raw.startswith(b'{"success"'):
            reply = json.loads(raw)
            if reply.get("req_id") == req_id:
                _skipped.setdefault(id(ws), []).extend(kept)
                return reply
        kept.append(raw)


async def next_book(ws: Any, topic: str = BOOK, timeout: float = 2.0) -> BookUpdate:
    """The next book frame of `topic`, decoded (other frames are skipped)."""
    while True:
        raw = await recv(ws, timeout)
        if raw.startswith(b'{"topic":"%s"' % topic.encode()):
            event = decode_frame(raw, 0)
            assert isinstance(event, BookUpdate), event
            return event


def truth_at(sim: ExchangeSimulator, symbol: str, update_id: int) -> tuple[list, list] | None:
    """The book a client must hold at `update_id`: the market model's own, or without a model
    in this process (a recording, a market in a child process) the simulator's published
    record; None while the truth is at another `u`."""
    if sim.has_model:
        return sim.true_book(symbol, update_id)
    if sim.published_update_id(symbol) == update_id:
        return sim.published_book(symbol)
    return None


async def follow_until_truth(ws: Any, sim: ExchangeSimulator, book: OrderBook) -> None:
    """Apply book frames until the truth is at the client's `u`, then compare books."""
    while (truth := truth_at(sim, book.symbol, book.update_id)) is None:
        book.apply(await next_book(ws, f"orderbook.50.{book.symbol}"))
        assert book.in_sync, book.out_of_sync_reason
    bids, asks = truth
    assert (book.bids.top(50), book.asks.top(50)) == (bids, asks)
    assert len(bids) == len(asks) == 50


async def subscribed_book(ws: Any, topic: str = BOOK) -> tuple[OrderBook, BookUpdate]:
    assert (await request(ws, "subscribe", [topic], "book"))["success"]
    snapshot = await next_book(ws, topic)
    assert snapshot.is_snapshot
    book = OrderBook(snapshot.symbol, 50)
    book.apply(snapshot)
    return book, snapshot


def test_subscribe_ack_pong_and_error_shapes() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url("linear")) as ws:
            ack = await request(ws, "subscribe", [BOOK, f"tickers.{SYMBOL}"], "s1")
            assert list(ack) == ["success", "ret_msg", "conn_id", "req_id", "op"]
            assert ack["success"] is True and ack["ret_msg"] == "" and ack["op"] == "subscribe"
            await ws.send('{"op":"ping"}')
            while not (raw := await recv(ws)).startswith(b'{"success"'):
                pass
            assert json.loads(raw) == {
                "success": True,
                "ret_msg": "pong",
                "conn_id": ack["conn_id"],
                "req_id": "",
                "op": "ping",
            }
            again = await request(ws, "subscribe", [BOOK], "s2")
            assert again["ret_msg"] == f"error:already subscribed,topic:{BOOK}"
            unknown = await request(ws, "subscribe", ["orderbook.50.NOPEUSDT"], "s3")
            assert unknown["ret_msg"] == "error:handler not found,topic:orderbook.50.NOPEUSDT"
            off = await request(ws, "unsubscribe", [BOOK], "u1")
            assert off["success"] is True and off["op"] == "unsubscribe"
            _skipped.pop(id(ws), None)  # frames from before the unsubscribe
            resubscribed = await request(ws, "subscribe", [BOOK], "s4")
            assert resubscribed["success"] is True
            assert (await next_book(ws)).is_snapshot  # a fresh snapshot: the resync path
        async with simulator() as sim, connect(sim.ws_url("spot")) as ws:
            ack = await request(ws, "subscribe", [f"publicTrade.{SYMBOL}"], "s1")
            assert ack["success"] is True and ack["ret_msg"] == "subscribe"
            eleven = [f"tickers.SYM00{i}USDT" for i in range(5)] * 3
            assert (await request(ws, "subscribe", eleven[:11], "s2"))["ret_msg"] == "args size >10"

    run(body)


def test_snapshot_then_consecutive_deltas_and_the_client_book_equals_the_truth() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            book, snapshot = await subscribed_book(ws)
            assert snapshot.update_id >= 1
            last = snapshot.update_id
            for _ in range(30):
                delta = await next_book(ws)
                assert not delta.is_snapshot and delta.update_id == last + 1
                last = delta.update_id
                book.apply(delta)
            await follow_until_truth(ws, sim, book)

    run(body)


def test_a_bad_topic_fails_its_whole_request_while_other_subscriptions_flow() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            book, _ = await subscribed_book(ws)
            bad = "orderbook.500.SYM002USDT"
            reply = await request(ws, "subscribe", ["orderbook.50.SYM002USDT", bad], "bad")
            assert reply["success"] is False
            assert reply["ret_msg"] == f"error:handler not found,topic:{bad}"
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                raw = await recv(ws)
                assert b"SYM002USDT" not in raw  # nothing of the failed request was subscribed
                event = decode_frame(raw, 0)
                if isinstance(event, BookUpdate):
                    book.apply(event)
            await follow_until_truth(ws, sim, book)
            good = await request(ws, "subscribe", ["orderbook.50.SYM002USDT"], "again")
            assert good["success"] is True

    run(body)


def test_instruments_info_pages_through_every_symbol() -> None:
    async def body() -> None:
        async with simulator(symbols=45) as sim, httpx.AsyncClient(base_url=sim.rest_url) as http:
            url = "/v5/market/instruments-info"
            seen: list[str] = []
            cursor = ""
            pages = 0
            while True:
                params = {"category": "linear", "limit": "20", "cursor": cursor}
                body = (await http.get(url, params=params)).json()
                assert body["retCode"] == 0 and body["retMsg"] == "OK"
                assert set(body) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
                seen += [row["symbol"] for row in body["result"]["list"]]
                pages += 1
                cursor = body["result"]["nextPageCursor"]
                if not cursor:
                    break
            assert pages == 3 and seen == sim.symbols
            whole = (await http.get(url, params={"category": "linear"})).json()["result"]
            assert len(whole["list"]) == 45 and whole["nextPageCursor"] == ""
            row = whole["list"][1]
            instrument = SyntheticMarket(MarketConfig(symbols=45)).instruments[row["symbol"]]
            assert row["priceFilter"]["tickSize"] == instrument.tick_size
            assert row["lotSizeFilter"]["qtyStep"] == instrument.qty_step
            spot = (await http.get(url, params={"category": "spot", "limit": "5"})).json()
            assert len(spot["result"]["list"]) == 45  # spot does not paginate
            bad = (await http.get(url, params={"category": "linear", "cursor": "x"})).json()
            assert bad["retCode"] == 10001

    run(body)


def test_tickers_trades_and_klines_over_rest() -> None:
    async def body() -> None:
        async with simulator() as sim, httpx.AsyncClient(base_url=sim.rest_url) as http:
            while not sim.published_ticker(SYMBOL) or not sim.recent_trades(SYMBOL):
                await asyncio.sleep(0.05)
            sim.delay(3.0)  # hold the stream: the truth stands still while REST reads it
            rows = (await http.get("/v5/market/tickers", params={"category": "linear"})).json()
            assert [row["symbol"] for row in rows["result"]["list"]] == sim.symbols
            params = {"category": "linear", "symbol": SYMBOL}
            (ticker,) = (await http.get("/v5/market/tickers", params=params)).json()["result"][
                "list"
            ]
            assert float(ticker["turnover24h"]) > 0 and float(ticker["lastPrice"]) > 0
            trades = (await http.get("/v5/market/recent-trade", params=params)).json()["result"]
            newest = trades["list"][0]
            assert newest["execId"] == sim.recent_trades(SYMBOL)[-1]["i"]
            assert newest["side"] in ("Buy", "Sell")
            kline = {**params, "interval": "1"}
            candles = (await http.get("/v5/market/kline", params=kline)).json()["result"]["list"]
            assert candles and len(candles[0]) == 7 and float(candles[0][5]) > 0
            unknown = {"category": "linear", "symbol": "NOPEUSDT"}
            for path in ("tickers", "orderbook", "recent-trade", "kline"):
                reply = (await http.get(f"/v5/market/{path}", params=unknown)).json()
                assert reply["retCode"] == 10001 and reply["retMsg"], path

    run(body)


def test_rest_orderbook_equals_the_published_book() -> None:
    async def body() -> None:
        async with simulator() as sim, httpx.AsyncClient(base_url=sim.rest_url) as http:
            params = {"category": "linear", "symbol": SYMBOL, "limit": "50"}
            while not sim.published_update_id(SYMBOL):
                await asyncio.sleep(0.01)
            sim.delay(2.0)  # hold the stream: the truth stands still while REST reads it
            result = (await http.get("/v5/market/orderbook", params=params)).json()["result"]
            assert result["u"] == sim.published_update_id(SYMBOL)
            bids, asks = sim.published_book(SYMBOL)
            assert [(float(p), float(s)) for p, s in result["b"]] == bids
            assert [(float(p), float(s)) for p, s in result["a"]] == asks
            assert result["s"] == SYMBOL and result["cts"] <= result["ts"]
            default = await http.get("/v5/market/orderbook", params=params | {"limit": "25"})
            assert len(default.json()["result"]["b"]) == 25

    run(body)


def test_gap_and_reset_are_seen_by_the_client() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            await subscribed_book(ws)
            sim.inject_gap(SYMBOL)
            at = sim.published_update_id(SYMBOL)  # frames up to here may be on their way
            while (delta := await next_book(ws)).update_id <= at:
                pass
            assert delta.update_id == at + 2  # one delta skipped
            sim.inject_reset(SYMBOL)
            while not (reset := await next_book(ws)).is_snapshot:
                pass
            assert reset.update_id == 1
            book = OrderBook(SYMBOL, 50)
            book.apply(reset)
            for expected in (2, 3, 4):
                delta = await next_book(ws)
                assert delta.update_id == expected
                book.apply(delta)
            await follow_until_truth(ws, sim, book)
            assert sim.fault_counts["gap"] == 1 and sim.fault_counts["reset"] == 1

    run(body)


def test_malformed_and_truncated_frames_do_not_decode() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            await subscribed_book(ws)
            kinds = []
            for inject in (sim.inject_malformed, sim.inject_truncated):
                inject(SYMBOL)
                while True:
                    event = decode_frame(await recv(ws), 0)
                    if isinstance(event, MalformedFrame):
                        assert event.symbol == SYMBOL
                        kinds.append(event.kind)
                        break
            assert kinds == ["not_json", "truncated"]
            assert sim.fault_counts["malformed"] == sim.fault_counts["truncated"] == 1

    run(body)


def test_drop_connections_cuts_every_socket_without_a_close_frame() -> None:
    async def body() -> None:
        async with simulator() as sim:
            async with (
                connect(sim.ws_url()) as one,
                connect(sim.ws_url("spot")) as two,
            ):
                await subscribed_book(one)
                await subscribed_book(two)
                assert sim.drop_connections() == 2
                for ws in (one, two):
                    with pytest.raises(websockets.ConnectionClosedError) as closed:
                        while True:
                            await recv(ws)
                    assert closed.value.rcvd is None  # no close frame: an abrupt cut
            while sim.connections:
                await asyncio.sleep(0.01)
            async with connect(sim.ws_url()) as again:
                await subscribed_book(again)  # the venue is still up
            assert sim.fault_counts["drop"] == 1

    run(body)


def test_stall_sends_nothing_for_its_period_then_the_book_has_a_gap() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            await subscribed_book(ws)
            sim.stall(0.6)
            stalled_at = sim.published_update_id(SYMBOL)
            await ws.send('{"op":"ping"}')
            arrivals = []
            while len(arrivals) < 2 or arrivals[-1][0] - arrivals[0][0] < 0.8:
                raw = await recv(ws)
                assert not raw.startswith(b'{"success"'), raw  # the ping is never answered
                arrivals.append((time.monotonic(), decode_frame(raw, 0)))
            silences = [(b[0] - a[0], a[1], b[1]) for a, b in itertools.pairwise(arrivals)]
            silence, before, after = max(silences, key=lambda item: item[0])
            assert silence >= 0.5
            assert isinstance(before, BookUpdate) and isinstance(after, BookUpdate)
            assert before.update_id <= stalled_at + 1 < after.update_id - 1  # lost deltas
            sim.stall(5.0)
            async with connect(sim.ws_url()) as fresh:
                await subscribed_book(fresh)  # connections opened later are not stalled
            assert sim.fault_counts["stall"] == 2

    run(body)


def test_delay_holds_frames_then_delivers_them_all_late() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            book, _ = await subscribed_book(ws)
            sim.delay(0.5)
            started = time.monotonic()
            late = []
            while len(late) < 20:
                delta = await next_book(ws)
                book.apply(delta)  # consecutive ids: nothing lost
                assert book.in_sync
                late.append((time.time_ns() // 1_000_000) - delta.ts_event_ns // 1_000_000)
            assert time.monotonic() - started >= 0.45
            assert max(late) >= 300  # delivered long after their timestamps
            await follow_until_truth(ws, sim, book)

    run(body)


def test_rejected_subscriptions_fail_with_an_error_ack() -> None:
    async def body() -> None:
        async with simulator() as sim, connect(sim.ws_url()) as ws:
            sim.reject_subscriptions(["SYM002USDT"])
            reply = await request(ws, "subscribe", ["tickers.SYM002USDT"], "r1")
            assert reply["success"] is False and "SYM002USDT" in reply["ret_msg"]
            await subscribed_book(ws)
            sim.reject_subscriptions([])
            assert (await request(ws, "subscribe", ["tickers.SYM002USDT"], "r2"))["success"]
            assert sim.fault_counts["reject"] == 1

    run(body)


def _small_receive_buffer_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def test_a_client_that_never_reads_is_dropped_without_slowing_the_others() -> None:
    async def body() -> None:
        async with simulator(symbols=20, rate=4, send_queue_frames=50) as sim:
            topics = [f"{kind}{s}" for s in sim.symbols for kind in ("orderbook.50.", "tickers.")]
            sock = _small_receive_buffer_socket(sim.port)
            async with (
                websockets.connect(
                    sim.ws_url(), sock=sock, max_queue=1, close_timeout=0.5
                ) as stuck,
                connect(sim.ws_url()) as reader,
            ):
                await stuck.send(json.dumps({"op": "subscribe", "args": topics}))
                book, snapshot = await subscribed_book(reader)
                last = snapshot.update_id
                while not sim.slow_clients_dropped:
                    delta = await next_book(reader)
                    assert delta.update_id == last + 1
                    last = delta.update_id
                    book.apply(delta)
                    latency_ms = time.time_ns() / 1e6 - delta.ts_event_ns / 1e6
                    # A sender blocked by the stuck client would hold every frame until the
                    # test's timeout; 1 s leaves room for a busy CI machine (287 ms seen).
                    assert latency_ms < 1000, latency_ms
                assert sim.connections == 1
                await follow_until_truth(reader, sim, book)

    run(body, timeout=15)


def test_stop_closes_clients_and_leaves_no_task_behind() -> None:
    async def body() -> None:
        sim = ExchangeSimulator(SimulatorSettings(symbols=5))
        await sim.start()
        assert sim.port > 0
        async with connect(sim.ws_url()) as ws:
            await subscribed_book(ws)
            started = time.monotonic()
            await sim.stop()
            assert time.monotonic() - started < 2
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        await sim.stop()  # twice is harmless
        outer = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not outer and "bounded" not in repr(t)]
        assert not left

    run(body)


def test_a_recording_replays_with_its_own_timestamps(tmp_path: Path) -> None:
    config = MarketConfig(symbols=3, seconds=1.5, start_ms=1_700_000_000_000, seed=9)
    market = SyntheticMarket(config)
    path = tmp_path / "frames.jsonl"
    path.write_bytes(b"".join(b"%d %s\n" % (recv_ns, raw) for recv_ns, raw in market.frames()))
    symbol = market.symbols[1]

    async def body() -> None:
        settings = SimulatorSettings(replay_speed=10.0)
        async with (
            ExchangeSimulator(settings, replay=iter_frames(path)) as sim,
            connect(sim.ws_url()) as ws,
        ):
            book, first = await subscribed_book(ws, f"orderbook.50.{symbol}")
            assert first.ts_event_ns // 1_000_000 < config.start_ms + 2_000  # recorded time
            while not sim.source_done:
                await asyncio.sleep(0.02)
            await follow_until_truth(ws, sim, book)
            assert sim.published_book(symbol) == market.true_book(symbol)
            assert sim.symbols == market.symbols

    run(body)


def test_random_faults_are_seeded_and_strike() -> None:
    config = parse_fault_spec("gap_per_frame=0.05,truncated_per_frame=0.05,drop_per_s=0.1")
    assert config == FaultSettings(gap_per_frame=0.05, truncated_per_frame=0.05, drop_per_s=0.1)
    dice = [FaultDice(config, 3), FaultDice(config, 3)]
    rolls = [[one.book_frame_fault() for _ in range(200)] for one in dice]
    assert rolls[0] == rolls[1] and "gap" in rolls[0] and "truncated" in rolls[0]

    async def body() -> None:
        faults = FaultSettings(gap_per_frame=0.2)
        async with simulator(faults=faults) as sim, connect(sim.ws_url()) as ws:
            _, snapshot = await subscribed_book(ws)
            last = snapshot.update_id
            jumps = 0
            for _ in range(25):
                delta = await next_book(ws)
                jumps += delta.update_id > last + 1
                last = delta.update_id
            assert jumps >= 1 and sim.fault_counts["gap"] >= jumps

    run(body)


def test_the_market_can_run_in_a_child_process() -> None:
    async def body() -> None:
        async with (
            simulator(market_process=True, rate=2) as sim,
            connect(sim.ws_url()) as ws,
        ):
            book, _ = await subscribed_book(ws)
            first = await next_book(ws, timeout=5)
            second = await next_book(ws)
            assert second.update_id == first.update_id + 1
            assert (second.ts_event_ns - first.ts_event_ns) // 1_000_000 <= 12  # 20 ms / rate 2
            book.apply(first)
            book.apply(second)
            await follow_until_truth(ws, sim, book)

    run(body)
