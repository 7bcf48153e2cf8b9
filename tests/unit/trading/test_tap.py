"""The compiled tap (`trading/_tap.pyx`) settles quiet market events itself and hands the rest to
`Trader.on_event`. Over the same markets, a trader with the tap and one that sees every event in
`on_event` must end in the same state, record for record: every audit record, order, fill,
closed trade and equity point, the broker's clocks and books. And the tap must actually settle
a good share of the events (a tap that handed everything on would pass the equality for nothing)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from scalper.engine import Engine
from scalper.events import Instrument
from scalper.settings import (
    EngineSettings,
    PaperSettings,
    RegimeSettings,
    SignalSettings,
    StrategySettings,
    TradingSettings,
)
from scalper.signals import SignalEngine
from scalper.trading.paper import PaperBroker
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket, generate_frames

S = 1_000_000_000
FUNDING_AT_MS = 1_733_040_000_000
"""A funding time of the simulator's 8-hour schedule."""
SIGNALS = SignalSettings(
    regimes=RegimeSettings(
        timeframe="15s",
        trend_confirm_timeframe="1m",
        min_history=10,
        volatility_window=5,
        min_dwell="45s",
    )
)
WARMING_UP_ALLOWED = {
    "allowed_volatility": ("warming_up", "low", "normal", "high"),
    "allowed_volume": ("warming_up", "quiet", "normal", "active", "surge"),
}
CASES = {
    "limit entries": (MarketConfig(symbols=8, seconds=90, seed=3), {}, {}),
    "market entries, short cooldown": (
        MarketConfig(symbols=6, seconds=90, seed=5),
        {"entry": "market", "cooldown_s": 2.0, "time_stop_s": 10.0},
        {},
    ),
    "market entries, no cooldown (consumed liquidity while scanning)": (
        MarketConfig(symbols=6, seconds=60, seed=11),
        {"entry": "market", "cooldown_s": 0.0, "time_stop_s": 3.0},
        {},
    ),
    "limit entries, queue and latency": (
        MarketConfig(symbols=6, seconds=90, seed=7),
        {"entry_timeout_s": 1.0, "cooldown_s": 1.0},
        {"queue_model": "risk_averse", "entry_latency_ms": 40.0, "response_latency_ms": 15.0},
    ),
    "market entries held across a funding time": (
        # positions are open about 39 s in (its first entries come at 36-39 s)
        MarketConfig(symbols=6, seconds=60, seed=13, start_ms=FUNDING_AT_MS - 38_900),
        {"entry": "market", "cooldown_s": 1.0, "time_stop_s": 60.0},
        {},
    ),
}
FUNDING_CASES = {"market entries held across a funding time"}
"""The cases that must pay funding (the others end before the first funding time)."""


def _instruments(market: MarketConfig) -> dict[str, Instrument]:
    return {c.symbol: c.instrument for c in SyntheticMarket(market).instruments.values()}


def _run(
    market: MarketConfig,
    strategy: dict[str, Any],
    paper: dict[str, Any],
    compiled: bool,
    frames: list[tuple[int, bytes]],
) -> tuple[Trader, int]:
    settings = TradingSettings(
        enabled=True,
        strategy=StrategySettings(**WARMING_UP_ALLOWED, **strategy),
        paper=PaperSettings(**paper),
    )
    instruments = _instruments(market)
    engine = Engine(EngineSettings())
    trader = Trader(
        engine,
        SignalEngine(engine, SIGNALS),
        ReferenceStrategy(settings.strategy),
        PaperBroker(settings.paper, instruments),
        settings,
        instruments,
        settings.paper.starting_equity,
        compiled_tap=compiled,
    )
    handed_on = 0
    on_event = trader.on_event

    def counting(event: object) -> None:
        nonlocal handed_on
        handed_on += 1
        on_event(event)

    trader.on_event = counting  # type: ignore[method-assign]
    engine._taps.clear()  # the tap took the bound method when it was made: make it again
    engine.add_tap(trader._tap(compiled))
    applier = FrameApplier(engine)
    for recv_ns, frame in frames:
        applier(frame, recv_ns)
    trader.advance_to(trader.now_ns + 5 * S)
    return trader, handed_on


def _state(trader: Trader) -> dict[str, Any]:
    broker = trader.execution
    assert isinstance(broker, PaperBroker)
    return {
        "audit": [msgspec.structs.asdict(r) for r in trader.audit],
        "orders": sorted(repr(o) for o in [*trader.orders.values(), *trader.finished]),
        "fills": [repr(f) for f in trader.fills],
        "funding": [repr(p) for p in trader.funding],
        "funding terms": {
            symbol: (t.rate, t.mark_price, t.next_funding_ns, t.settled_ns)
            for symbol, t in broker._venue.funding_terms.items()
        },
        "trades": [repr(t) for t in trader.portfolio.trades],
        "equity": [repr(p) for p in trader.portfolio.equity_curve],
        "now": trader.now_ns,
        "broker clocks": (
            broker._clocks.clock_ns,
            broker._clocks.market_ns,
            broker._clocks.venue_ns,
        ),
        "broker books": {s: (b.symbol, b.depth) for s, b in broker._books.items()},
        "consumed levels": sorted(
            (symbol, is_bid, sorted(levels.items()))
            for (symbol, is_bid), levels in broker.fast_path_state()[4].items()
        ),
        "book times": {s: e.book_ns for s, e in trader.symbols.items()},
        "machines": trader.machine_states(),
        "machine times": {s: e.machine.now_ns for s, e in trader.symbols.items()},
        "risk": repr(trader.risk.state),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_the_tap_settles_quiet_events_exactly_as_on_event_would(case: str) -> None:
    market, strategy, paper = CASES[case]
    frames = list(generate_frames(market))
    plain, plain_calls = _run(market, strategy, paper, False, frames)
    tapped, tapped_calls = _run(market, strategy, paper, True, frames)
    assert plain_calls == len(frames)  # every frame here is one market event
    expected, got = _state(plain), _state(tapped)
    assert len(expected["fills"]) > 0, "the case trades, or it tests nothing"
    assert (len(expected["funding"]) > 0) == (case in FUNDING_CASES), "funding paid"
    for key in expected:
        assert got[key] == expected[key], key
    assert tapped_calls < 0.9 * plain_calls, (tapped_calls, plain_calls)
