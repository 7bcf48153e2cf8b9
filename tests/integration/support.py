"""Shared pieces of the loopback tests: waiting on a condition, and the simulator -> live feed ->
engine -> API stack that the API and dashboard tests both run."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from scalper.api import ApiServer, create_app, serve_api
from scalper.book import SyncState
from scalper.engine import Engine, TradeTap
from scalper.footprint import Footprints
from scalper.settings import (
    AlertSettings,
    ApiSettings,
    ConnectionSettings,
    EngineSettings,
    FeedSettings,
    FootprintSettings,
    ScoreSettings,
    SignalSettings,
    SimulatorSettings,
    StrategySettings,
    TradingSettings,
)
from scalper.signals import SignalEngine
from scalper.trading.paper import PaperBroker
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.feed import LiveFeed
from scalper.venues.bybit.public_rest import fetch_universe
from scalper.venues.simulator.exchange import ExchangeSimulator, serve_simulator


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 50 ms; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class ApiStack:
    simulator: ExchangeSimulator
    engine: Engine
    feed: LiveFeed
    app: FastAPI
    server: ApiServer
    signals: SignalEngine
    trader: Trader | None = None
    token: str | None = None
    """The trading API's write token (with a trader)."""

    @property
    def symbols(self) -> list[str]:
        return self.simulator.symbols


def books_ready(engine: Engine, symbols: list[str]) -> bool:
    """Every symbol has a book in sync and has seen trades."""
    return all(
        (state := engine.symbols.get(s)) is not None
        and state.book is not None
        and state.book.state is SyncState.IN_SYNC
        and state.counters.trades > 0
        for s in symbols
    )


QUICK_SIGNALS = SignalSettings(score=ScoreSettings(zscore_warmup="1s", min_ready_share=0.2))
"""Scores within seconds of the first event (a factor needs 1 s of history, a fifth of the
weight suffices), so that loopback tests see them."""

DEMO_TRADING = TradingSettings(
    enabled=True,
    strategy=StrategySettings(
        allowed_volatility=("warming_up", "low", "normal", "high"),
        allowed_volume=("warming_up", "quiet", "normal", "active", "surge"),
    ),
)
"""Paper trading as `make demo` runs it: regimes still warming up do not block entries."""


@asynccontextmanager
async def api_stack(
    engine_config: EngineSettings | None = None,
    rate: float = 1.0,
    ready_timeout: float = 10.0,
    stale_after_s: float = 10.0,
    trading: TradingSettings | None = None,
    alerts: AlertSettings | None = None,
    footprint: FootprintSettings | None = None,
    symbols: int = 5,
    **api_options: float,
) -> AsyncIterator[ApiStack]:
    """Simulator (5 symbols) -> live feed -> engine and signals -> API on port 0, ready when
    every book is in sync with trades; everything stopped on exit. `trading`: a paper trader
    (10,000 USDT) with the reference strategy, served under /api/trading with a fresh write
    token. `alerts`: alert rules on /ws and /api/alerts; `footprint`: footprint candles kept
    (both off when None). `api_options`: ApiSettings fields."""
    simulator = await serve_simulator(SimulatorSettings(symbols=symbols, seed=11, rate=rate))
    engine = Engine(engine_config)
    signals = SignalEngine(engine, QUICK_SIGNALS)
    async with httpx.AsyncClient(base_url=simulator.rest_url) as client:
        instruments = await fetch_universe(client, symbols=simulator.symbols)
    by_symbol = {instrument.symbol: instrument for instrument in instruments}
    trader = token = None
    if trading is not None:  # before the feed: the trader taps the engine's input
        trader = Trader(
            engine,
            signals,
            ReferenceStrategy(trading.strategy),
            PaperBroker(trading.paper, by_symbol),
            trading,
            by_symbol,
            10_000.0,
            wall_clock=time.time_ns,
        )
        token = secrets.token_urlsafe(32)
    footprints = None
    if footprint is not None:  # a tap too: before the feed
        footprints = Footprints(footprint, {s: i.tick_size for s, i in by_symbol.items()})
        engine.add_tap(TradeTap(footprints.on_trades))
    feed = LiveFeed(
        engine,
        simulator.symbols,
        simulator.ws_url("linear"),
        settings=FeedSettings(candle_grace_s=0.3, candle_timer_s=0.1, seed=5),
        connection=ConnectionSettings(stale_after_s=20.0, backoff_initial_s=0.05),
        instruments=by_symbol,
    )
    app = create_app(
        engine,
        feed,
        ApiSettings(**api_options),  # type: ignore[arg-type]
        stale_after_s=stale_after_s,
        started_ns=time.time_ns(),
        signals=signals,
        trader=trader,
        write_token=token,
        alerts=alerts,
        footprints=footprints,
    )
    server = await serve_api(app, port=0)
    await feed.start()
    try:
        await wait_until(
            lambda: books_ready(engine, simulator.symbols),
            ready_timeout,
            "books in sync with trades",
        )
        yield ApiStack(simulator, engine, feed, app, server, signals, trader, token)
    finally:
        await server.stop()
        await feed.stop()
        await simulator.stop()
