"""api.stream: StreamHub's replies, throttled state, candle fan-out and slow-client policy.

The hub needs a running loop (`connect()` starts its tick task), so each test runs its body in
`asyncio.run`; the tick is called directly (the task's period is an hour, it never fires) except
in the one test that checks the task itself, which waits for the message the task queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from scalper.api.stream import MAX_SYMBOLS_PER_CLIENT, StreamClient, StreamHub
from scalper.engine import Engine
from scalper.events import BUY, SELL, BookUpdate, Level, Trade, TradeBatch
from scalper.feed_status import FeedConnection, RecordingProcessStats, SymbolFeedStats

MS = 1_000_000
T0_MS = 1_700_000_100_000
"""A multiple of 5 minutes: candles of every timeframe start here."""
NEVER_S = 3600.0


def book(symbol: str, bids: Sequence[Level], asks: Sequence[Level], ts_ms: int) -> BookUpdate:
    return BookUpdate(symbol, 50, True, list(bids), list(asks), 1, 1, ts_ms * MS, ts_ms * MS + 1)


def trades(symbol: str, ts_ms: int, *fills: tuple[float, float, int]) -> TradeBatch:
    return TradeBatch(
        symbol,
        [
            Trade(symbol, price, size, side, ts_ms * MS, ts_ms * MS + 1)
            for price, size, side in fills
        ],
        ts_ms * MS,
        ts_ms * MS + 1,
    )


def engine_with(*symbols: str) -> Engine:
    """An engine whose symbols each hold a one-level book: bid 100 x 3, ask 101 x 2."""
    engine = Engine()
    for symbol in symbols:
        engine.on_event(book(symbol, [(100.0, 3.0)], [(101.0, 2.0)], T0_MS))
    return engine


def drain(client: StreamClient) -> list[dict[str, Any]]:
    """Every message queued for the client, decoded, oldest first."""
    messages = []
    while not client.queue.empty():
        messages.append(json.loads(client.queue.get_nowait()))
    return messages


def request(op: str, *symbols: str) -> bytes:
    return json.dumps({"op": op, "symbols": list(symbols)}).encode()


@dataclass
class FakeFeed:
    """A MarketFeed that only knows symbols (no connections)."""

    symbols: Sequence[str]
    symbol_stats: Mapping[str, SymbolFeedStats] = field(default_factory=dict)
    connections: Sequence[FeedConnection] = ()
    recording_process: RecordingProcessStats | None = None

    @classmethod
    def of(cls, symbols: Sequence[str]) -> FakeFeed:
        return cls(list(symbols), {symbol: SymbolFeedStats() for symbol in symbols})


# --------------------------------------------------------------------------- requests


def test_subscribe_reply_names_known_and_unknown_symbols_case_insensitively() -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT", "ETHUSDT"), FakeFeed.of(["SOLUSDT"]), NEVER_S)
        client = hub.connect()

        reply = json.loads(hub.handle_request(client, request("subscribe", "btcusdt", "nopeUSDT")))
        assert reply == {"type": "subscribed", "symbols": ["BTCUSDT"], "unknown": ["NOPEUSDT"]}

        # a symbol the feed carries is known before the engine saw a frame of it
        reply = json.loads(hub.handle_request(client, request("subscribe", "SolUsdt", "ETHUSDT")))
        assert reply == {
            "type": "subscribed",
            "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
            "unknown": [],
        }
        assert client.symbols == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
        hub.disconnect(client)

    asyncio.run(body())


def test_unsubscribe_reply_lists_what_is_left() -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT", "ETHUSDT"), None, NEVER_S)
        client = hub.connect()
        hub.handle_request(client, request("subscribe", "BTCUSDT", "ETHUSDT"))

        reply = json.loads(hub.handle_request(client, request("unsubscribe", "btcusdt", "XRPUSDT")))

        assert reply == {"type": "subscribed", "symbols": ["ETHUSDT"], "unknown": []}
        assert client.symbols == {"ETHUSDT"}
        hub.disconnect(client)

    asyncio.run(body())


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"op": "subscrib", "symbols": ["BTCUSDT"]}',
        b'{"op": "subscribe", "symbols": "BTCUSDT"}',
        b'{"op": "subscribe"}',
        b'{"op": "subscribe", "symbols": ["BTCUSDT"], "extra": 1}',
        "[]",
    ],
)
def test_a_bad_request_gets_an_error_and_changes_nothing(raw: bytes | str) -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT"), None, NEVER_S)
        client = hub.connect()
        hub.handle_request(client, request("subscribe", "BTCUSDT"))

        reply = json.loads(hub.handle_request(client, raw))

        assert reply["type"] == "error"
        assert reply["message"].startswith("bad request: ")
        assert set(reply) == {"type", "message"}
        assert client.symbols == {"BTCUSDT"}
        hub.disconnect(client)

    asyncio.run(body())


def test_reply_queues_the_answer_for_the_client() -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT"), None, NEVER_S)
        client = hub.connect()

        hub.reply(client, request("subscribe", "BTCUSDT"))
        hub.reply(client, b"{")

        first, second = drain(client)
        assert first == {"type": "subscribed", "symbols": ["BTCUSDT"], "unknown": []}
        assert second["type"] == "error"
        hub.disconnect(client)

    asyncio.run(body())


def test_at_most_max_symbols_per_client() -> None:
    async def body() -> None:
        names = [f"S{i:04d}USDT" for i in range(MAX_SYMBOLS_PER_CLIENT + 1)]
        hub = StreamHub(Engine(), FakeFeed.of(names), NEVER_S)
        client, other = hub.connect(), hub.connect()

        full = json.loads(hub.handle_request(client, request("subscribe", *names[:-1])))
        assert len(full["symbols"]) == MAX_SYMBOLS_PER_CLIENT

        refused = json.loads(hub.handle_request(client, request("subscribe", names[-1])))
        assert refused == {
            "type": "error",
            "message": f"at most {MAX_SYMBOLS_PER_CLIENT} symbols per connection",
        }
        assert len(client.symbols) == MAX_SYMBOLS_PER_CLIENT
        assert names[-1] not in client.symbols

        # asking again for symbols already held adds nothing: accepted
        again = json.loads(hub.handle_request(client, request("subscribe", names[0])))
        assert again["type"] == "subscribed"

        # all at once is refused as a whole
        too_many = json.loads(hub.handle_request(other, request("subscribe", *names)))
        assert too_many["type"] == "error"
        assert other.symbols == set()
        hub.disconnect(client)
        hub.disconnect(other)

    asyncio.run(body())


# --------------------------------------------------------------------------- state ticks


def test_state_is_queued_only_when_the_frame_counter_moved() -> None:
    async def body() -> None:
        engine = engine_with("BTCUSDT", "ETHUSDT")
        hub = StreamHub(engine, None, NEVER_S)
        client = hub.connect()
        hub.handle_request(client, request("subscribe", "BTCUSDT"))

        hub.tick()
        (state,) = drain(client)
        assert (state["type"], state["symbol"]) == ("state", "BTCUSDT")
        data = state["data"]
        assert data["best_bid"] == [100.0, 3.0]
        assert data["best_ask"] == [101.0, 2.0]
        assert data["mid"] == 100.5
        assert data["spread"] == 1.0
        assert data["spread_bps"] == pytest.approx(1.0 / 100.5 * 10_000)
        assert data["imbalance"]["values"]["top10"] == 3 / 5
        assert data["imbalance"]["label"] == "neutral"
        assert data["sync_state"] == "in_sync"
        assert data["counters"]["frames"] == 1
        assert "orderbook" not in data and "trades" not in data

        hub.tick()
        assert drain(client) == []  # nothing happened to BTCUSDT

        engine.on_event(book("ETHUSDT", [(10.0, 1.0)], [(11.0, 1.0)], T0_MS + 10))
        hub.tick()
        assert drain(client) == []  # ETHUSDT moved, but it is not subscribed

        engine.on_event(book("BTCUSDT", [(100.5, 1.0)], [(101.0, 2.0)], T0_MS + 20))
        engine.on_event(trades("BTCUSDT", T0_MS + 30, (101.0, 0.5, BUY)))
        hub.tick()
        (state,) = drain(client)  # two frames, one state: the newest
        assert state["data"]["best_bid"] == [100.5, 1.0]
        assert state["data"]["counters"]["frames"] == 3
        assert state["data"]["cumulative"]["buy_volume"] == 0.5
        hub.disconnect(client)

    asyncio.run(body())


def test_subscribing_again_sends_the_current_state_at_the_next_tick() -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT"), None, NEVER_S)
        client = hub.connect()
        hub.handle_request(client, request("subscribe", "BTCUSDT"))
        hub.tick()
        assert len(drain(client)) == 1

        hub.handle_request(client, request("subscribe", "BTCUSDT"))
        hub.tick()

        (state,) = drain(client)
        assert state["symbol"] == "BTCUSDT"
        hub.disconnect(client)

    asyncio.run(body())


def test_each_client_gets_the_state_of_its_own_symbols() -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT", "ETHUSDT"), None, NEVER_S)
        both, eth = hub.connect(), hub.connect()
        hub.handle_request(both, request("subscribe", "BTCUSDT", "ETHUSDT"))
        hub.handle_request(eth, request("subscribe", "ETHUSDT"))

        hub.tick()

        assert sorted(m["symbol"] for m in drain(both)) == ["BTCUSDT", "ETHUSDT"]
        assert [m["symbol"] for m in drain(eth)] == ["ETHUSDT"]
        hub.disconnect(both)
        hub.disconnect(eth)

    asyncio.run(body())


def test_the_tick_task_queues_state_by_itself_and_stops_with_the_last_client() -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT"), None, tick_s=0.01)
        before = asyncio.all_tasks()
        client = hub.connect()
        (task,) = asyncio.all_tasks() - before
        hub.handle_request(client, request("subscribe", "BTCUSDT"))

        message = await asyncio.wait_for(client.queue.get(), timeout=5.0)

        assert json.loads(message)["type"] == "state"
        hub.disconnect(client)
        await asyncio.wait([task], timeout=5.0)
        assert task.cancelled()

    asyncio.run(body())


# --------------------------------------------------------------------------- candles


def close_a_15s_candle(engine: Engine, symbol: str) -> None:
    """Two trades in the first 15 s, then one in the next interval, which closes it."""
    engine.on_event(trades(symbol, T0_MS + 1_000, (100.0, 1.0, BUY)))
    engine.on_event(trades(symbol, T0_MS + 2_000, (102.0, 2.0, SELL)))
    engine.on_event(trades(symbol, T0_MS + 16_000, (101.0, 1.0, BUY)))


def test_closed_candles_reach_only_subscribed_clients() -> None:
    async def body() -> None:
        engine = engine_with("BTCUSDT", "ETHUSDT")
        hub = StreamHub(engine, None, NEVER_S)
        btc, eth, nothing = hub.connect(), hub.connect(), hub.connect()
        hub.handle_request(btc, request("subscribe", "BTCUSDT"))
        hub.handle_request(eth, request("subscribe", "ETHUSDT"))

        close_a_15s_candle(engine, "BTCUSDT")

        (message,) = drain(btc)
        assert (message["type"], message["symbol"], message["timeframe"]) == (
            "candle",
            "BTCUSDT",
            "15s",
        )
        candle = message["candle"]
        assert candle["start_ns"] == T0_MS * MS
        assert (candle["open"], candle["high"], candle["low"], candle["close"]) == (
            100.0,
            102.0,
            100.0,
            102.0,
        )
        assert (candle["volume"], candle["buy_volume"], candle["sell_volume"]) == (3.0, 1.0, 2.0)
        assert candle["delta"] == -1.0
        assert candle["turnover"] == 100.0 * 1.0 + 102.0 * 2.0
        assert candle["vwap"] == pytest.approx(304.0 / 3.0)
        assert candle["trades"] == 2
        assert drain(eth) == []
        assert drain(nothing) == []
        for client in (btc, eth, nothing):
            hub.disconnect(client)

    asyncio.run(body())


# --------------------------------------------------------------------------- slow clients


def test_a_client_whose_queue_fills_on_a_tick_is_dropped() -> None:
    async def body() -> None:
        engine = engine_with("BTCUSDT")
        hub = StreamHub(engine, None, NEVER_S, queue_size=1)
        slow, fast = hub.connect(), hub.connect()
        hub.reply(slow, request("subscribe", "BTCUSDT"))  # its queue is now full
        hub.handle_request(fast, request("subscribe", "BTCUSDT"))

        hub.tick()

        assert slow.dropped.is_set()
        assert hub.clients == {fast}
        assert hub.dropped == 1
        assert [m["type"] for m in drain(slow)] == ["subscribed"]  # nothing after the drop
        assert [m["type"] for m in drain(fast)] == ["state"]

        engine.on_event(book("BTCUSDT", [(99.0, 1.0)], [(101.0, 2.0)], T0_MS + 5))
        hub.tick()
        assert hub.dropped == 1  # counted once
        assert slow.offer(b"late") is False
        assert drain(slow) == []
        hub.disconnect(slow)
        hub.disconnect(fast)

    asyncio.run(body())


def test_a_client_whose_queue_fills_on_candles_is_dropped() -> None:
    async def body() -> None:
        engine = engine_with("BTCUSDT")
        hub = StreamHub(engine, None, NEVER_S, queue_size=2)
        slow, reader = hub.connect(), hub.connect()
        hub.reply(slow, request("subscribe", "BTCUSDT"))
        hub.handle_request(reader, request("subscribe", "BTCUSDT"))

        close_a_15s_candle(engine, "BTCUSDT")  # slow: reply + candle, full
        assert not slow.dropped.is_set()
        assert [m["type"] for m in drain(reader)] == ["candle"]
        engine.on_event(trades("BTCUSDT", T0_MS + 31_000, (101.0, 1.0, BUY)))  # one more

        assert slow.dropped.is_set()
        assert hub.dropped == 1
        assert hub.clients == {reader}
        assert [m["type"] for m in drain(reader)] == ["candle"]
        hub.disconnect(slow)
        hub.disconnect(reader)

    asyncio.run(body())


def test_signals_follow_each_state_and_regime_changes_reach_subscribers() -> None:
    from scalper.signals import RegimeChanged, SignalEngine

    async def body() -> None:
        engine = Engine()
        signals = SignalEngine(engine)
        for symbol in ("AUSDT", "BUSDT"):
            engine.on_event(book(symbol, [(100.0, 3.0)], [(101.0, 2.0)], T0_MS))
        engine.on_event(trades("AUSDT", T0_MS + 250, (101.0, 1.0, BUY)))
        hub = StreamHub(engine, None, tick_s=NEVER_S, signals=signals)
        client = hub.connect()
        hub.reply(client, request("subscribe", "AUSDT"))
        drain(client)
        hub.tick()
        state, summary = drain(client)
        assert state["type"] == "state" and state["symbol"] == "AUSDT"
        assert summary["type"] == "signals" and summary["symbol"] == "AUSDT"
        assert summary["data"]["regimes"] == {
            "volatility": "warming_up",
            "trend": "warming_up",
            "volume": "warming_up",
        }
        assert summary["data"]["as_of_ns"] == (T0_MS + 200) * MS
        change = RegimeChanged("BUSDT", "trend", "range", "up", 5, {"efficiency_ratio": 0.8})
        hub.on_regime_change(change)
        assert drain(client) == []  # not subscribed to BUSDT
        hub.on_regime_change(msgspec.structs.replace(change, symbol="AUSDT"))
        (message,) = drain(client)
        assert message == {
            "type": "regime",
            "symbol": "AUSDT",
            "data": {**msgspec.to_builtins(change), "symbol": "AUSDT"},
        }
        stopped = hub.disconnect(client)
        if stopped is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await stopped

    asyncio.run(body())


# --------------------------------------------------------------------------- followed book


def follow(symbol: str | None, depth: int = 25) -> bytes:
    return json.dumps(
        {"op": "book", "symbols": [symbol] if symbol else [], "depth": depth}
    ).encode()


def test_a_followed_book_is_queued_when_it_changed_with_its_walls_and_new_trades() -> None:
    async def body() -> None:
        engine = engine_with("BTCUSDT", "ETHUSDT")
        hub = StreamHub(engine, None, NEVER_S)
        client = hub.connect()
        reply = json.loads(hub.handle_request(client, follow("btcusdt", 5)))
        assert reply == {"type": "book_followed", "symbol": "BTCUSDT", "depth": 5}

        hub.tick()
        (first,) = drain(client)
        assert first["type"] == "book" and first["symbol"] == "BTCUSDT"
        assert first["data"]["depth"] == 5
        assert first["data"]["bids"] == [[100.0, 3.0]] and first["data"]["asks"] == [[101.0, 2.0]]
        assert first["walls"] == {
            "bids": [{"price": 100.0, "size": 3.0, "relative_size": 1.0}],
            "asks": [{"price": 101.0, "size": 2.0, "relative_size": 1.0}],
        }

        hub.tick()  # nothing changed: nothing queued
        assert drain(client) == []

        # trades (only those after the follow) and a changed book, once each
        engine.on_event(trades("BTCUSDT", T0_MS + 10, (101.0, 0.5, BUY), (100.0, 0.2, SELL)))
        engine.on_event(
            BookUpdate("BTCUSDT", 50, False, [(100.0, 4.0)], [], 2, 2, (T0_MS + 11) * MS, 0)
        )
        engine.on_event(trades("ETHUSDT", T0_MS + 12, (101.0, 9.0, BUY)))
        hub.tick()
        book_message, trades_message = drain(client)
        assert book_message["data"]["bids"] == [[100.0, 4.0]]
        assert trades_message["type"] == "trades" and trades_message["symbol"] == "BTCUSDT"
        assert [(t["price"], t["size"], t["side"]) for t in trades_message["trades"]] == [
            (100.0, 0.2, "sell"),
            (101.0, 0.5, "buy"),
        ]
        hub.tick()
        assert drain(client) == []

        # none: following stops
        hub.handle_request(client, follow(None))
        engine.on_event(trades("BTCUSDT", T0_MS + 20, (101.0, 0.5, BUY)))
        hub.tick()
        assert drain(client) == []
        hub.disconnect(client)

    asyncio.run(body())


@pytest.mark.parametrize(
    "raw",
    [
        follow("NOPEUSDT"),
        follow("BTCUSDT", 0),
        follow("BTCUSDT", 201),
        json.dumps({"op": "book", "symbols": ["BTCUSDT", "ETHUSDT"]}).encode(),
    ],
)
def test_a_bad_book_request_is_refused(raw: bytes) -> None:
    async def body() -> None:
        hub = StreamHub(engine_with("BTCUSDT", "ETHUSDT"), None, NEVER_S)
        client = hub.connect()
        reply = json.loads(hub.handle_request(client, raw))
        assert reply["type"] == "error" and reply["message"].startswith("op book: ")
        assert client.book_symbol is None
        hub.disconnect(client)

    asyncio.run(body())
