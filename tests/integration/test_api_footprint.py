"""GET /api/symbol/{s}/footprint over an engine fed hand-made trades through its tap."""

from __future__ import annotations

import asyncio

import httpx

from scalper.api import create_app, serve_api
from scalper.engine import Engine, TradeTap
from scalper.events import BUY, SELL, Trade, TradeBatch
from scalper.footprint import Footprints
from scalper.settings import FootprintSettings

S = 1_000_000_000
T0 = 1_764_000_000 * S  # a minute boundary (1_764_000_000 = 29_400_000 * 60)


def test_the_route_serves_the_footprints_the_tap_counted() -> None:
    async def scenario() -> None:
        engine = Engine()
        footprints = Footprints(FootprintSettings(timeframe="1m"), {"BTCUSDT": "0.5"})
        engine.add_tap(TradeTap(footprints.on_trades))
        apply = engine.entry()
        trades = [
            (100.0, 2.0, BUY, T0),
            (100.4, 1.0, SELL, T0 + S),
            (101.0, 3.0, SELL, T0 + 61 * S),
        ]
        for i, (price, size, side, ts) in enumerate(trades):
            trade = Trade("BTCUSDT", price, size, side, ts, ts, trade_id=str(i))
            apply(TradeBatch("BTCUSDT", [trade], ts, ts))
        server = await serve_api(create_app(engine, footprints=footprints), port=0)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
                answer = await http.get("/api/symbol/btcusdt/footprint?tf=1m&limit=5")
                assert answer.status_code == 200, answer.text
                view = answer.json()
                assert (view["symbol"], view["timeframe"], view["level_size"]) == (
                    "BTCUSDT",
                    "1m",
                    0.5,
                )
                first, second = view["candles"]
                # 100.4 rounds to the 100.5 level; the first minute closed when 101.0 traded.
                assert first["levels"] == [
                    {"price": 100.0, "buy": 2.0, "sell": 0.0},
                    {"price": 100.5, "buy": 0.0, "sell": 1.0},
                ]
                assert (first["closed"], first["delta"], first["poc"]) == (True, 1.0, 100.0)
                assert (second["closed"], second["delta"], second["start_ns"]) == (
                    False,
                    -3.0,
                    T0 + 60 * S,
                )
                one = (await http.get("/api/symbol/BTCUSDT/footprint?limit=1")).json()
                assert [c["start_ns"] for c in one["candles"]] == [T0 + 60 * S]
                wrong = await http.get("/api/symbol/BTCUSDT/footprint?tf=5m")
                assert wrong.status_code == 422 and "1m only" in wrong.json()["message"]
                unknown = await http.get("/api/symbol/ETHUSDT/footprint")
                assert unknown.status_code == 404
            off = await serve_api(create_app(engine), port=0)
            try:
                async with httpx.AsyncClient(base_url=off.url, timeout=10.0) as http:
                    answer = await http.get("/api/symbol/BTCUSDT/footprint")
                    assert answer.status_code == 404  # no footprints: no route
            finally:
                await off.stop()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_the_volume_profile_counts_the_session_at_each_price_and_starts_again_at_midnight() -> None:
    day = 86_400 * S
    midnight = (T0 // day + 1) * day

    async def scenario() -> None:
        engine = Engine()
        footprints = Footprints(FootprintSettings(session_levels=3), {"BTCUSDT": "0.5"})
        engine.add_tap(TradeTap(footprints.on_trades))
        apply = engine.entry()
        trades = [
            (100.0, 2.0, BUY, T0),
            (100.0, 1.0, SELL, T0 + 30 * S),  # another candle of the footprint, the same session
            (100.5, 1.0, BUY, T0 + 61 * S),
            (99.0, 4.0, SELL, T0 + 62 * S),  # 99.0-100.0 spans 3 levels: 100.5 out
            (101.0, 3.0, BUY, T0 + 63 * S),  # the span moves up to it: 99.0 and 99.5 out
        ]
        for i, (price, size, side, ts) in enumerate(trades):
            trade = Trade("BTCUSDT", price, size, side, ts, ts, trade_id=str(i))
            apply(TradeBatch("BTCUSDT", [trade], ts, ts))
        server = await serve_api(create_app(engine, footprints=footprints), port=0)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
                answer = await http.get("/api/symbol/BTCUSDT/volume-profile?center=100.2&levels=3")
                assert answer.status_code == 200, answer.text
                view = answer.json()
                assert (view["since_ns"], view["buy"], view["sell"], view["evicted"]) == (
                    T0,
                    6.0,
                    5.0,
                    5.0,  # 100.5's 1.0, then 99.0's 4.0
                )
                assert view["levels"] == [  # 100.5 is in the span again, at zero: not listed
                    {"price": 100.0, "buy": 2.0, "sell": 1.0},
                    {"price": 101.0, "buy": 3.0, "sell": 0.0},
                ]
                near = (await http.get("/api/symbol/BTCUSDT/volume-profile?levels=1")).json()
                assert [level["price"] for level in near["levels"]] == [101.0]
                trade = Trade("BTCUSDT", 102.0, 1.0, SELL, midnight, midnight, trade_id="9")
                apply(TradeBatch("BTCUSDT", [trade], midnight, midnight))
                fresh = (await http.get("/api/symbol/BTCUSDT/volume-profile")).json()
                assert (fresh["since_ns"], fresh["buy"], fresh["sell"]) == (midnight, 0.0, 1.0)
                assert fresh["levels"] == [{"price": 102.0, "buy": 0.0, "sell": 1.0}]
                assert (await http.get("/api/symbol/ETHUSDT/volume-profile")).status_code == 404
        finally:
            await server.stop()

    asyncio.run(scenario())
