"""The trader over the stepped local exchange. First, the same synthetic market twice:
`trading.execution = paper` (the in-process paper broker) and `exchange` (BybitExecution over
loopback against the local exchange's private API), with the same matching settings and zero
latency. The fills must be the same: orders, sides, prices, quantities, liquidity and fees.

How the two are made comparable. The simulator is stepped by hand (`paced=False`): each frame
is published to the venue, then — once every request is answered and every push has reached
the client (zero latency) — applied to the trader's engine; the venue's clock is the frames'
time. The paper broker then sees the same market in the same order with latency 0. What may
differ, and why:
- times: paper stamps a fill with the event time of the frame that caused it (its `ts`); the
  stepped venue's clock is the frame's receive time (`ts` + the synthetic market's receive
  latency, `MarketConfig.latency_us` = 0.2 to 1.2 ms) and it reports whole milliseconds, so a
  fill's time is paper's plus 0 to 2.2 ms (never earlier);
- fees: the venue writes numbers as decimal strings rounded to 10 places (Bybit's wire form),
  so a fee equals paper's to 1e-9 relative;
- exec ids: each side names its executions its own way.

Then the venue refusing every create: the refusals reach the trader as rejects and its risk
engine halts on the burst.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from tests.integration.support import wait_until

from scalper.cli import build_parser, load
from scalper.engine import Engine
from scalper.events import Instrument
from scalper.runtime import signals_for
from scalper.settings import FaultSettings, Settings, SimulatedAccountSettings, SimulatorSettings
from scalper.trading.execution import ExecutionClient
from scalper.trading.orders import Fill, OrderStatus
from scalper.trading.paper import PaperBroker
from scalper.trading.risk import TradingState
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.bybit.private.execution import BybitExecution
from scalper.venues.simulator.exchange import ExchangeSimulator

SYMBOLS = 4
MARKET_S = 90.0
"""Seconds of market time: enough for the demo's permissive strategy to trade."""
TIMEOUT = 60.0
MAX_SKEW_NS = 2_200_000
"""Receive latency (at most 1.2 ms) plus the venue's whole milliseconds (< 1 ms)."""


def _settings() -> Settings:
    """The demo's settings (permissive regimes), paper latency zero, nothing restored."""
    demo = load(build_parser().parse_args(["demo"])).settings
    trading = demo.trading
    paper = msgspec.structs.replace(
        trading.paper, entry_latency_ms=0.0, response_latency_ms=0.0, latency_jitter_ms=0.0
    )
    trading = msgspec.structs.replace(trading, paper=paper, restore=False)
    return msgspec.structs.replace(demo, trading=trading)


def _trader(
    settings: Settings, instruments: dict[str, Instrument], execution: ExecutionClient
) -> tuple[Trader, FrameApplier]:
    engine = Engine(settings.engine)
    signals = signals_for(engine, settings.signals)
    assert signals is not None
    trading = settings.trading
    trader = Trader(
        engine,
        signals,
        ReferenceStrategy(trading.strategy),
        execution,
        trading,
        instruments,
        trading.paper.starting_equity,
        id_prefix="cmp-",
    )
    return trader, FrameApplier(engine)


async def _exchange_run(
    settings: Settings,
    account: SimulatedAccountSettings,
    faults: FaultSettings | None = None,
    seconds: float = MARKET_S,
) -> tuple[Trader, list[tuple[int, bytes]], dict[str, Instrument]]:
    config = SimulatorSettings(
        symbols=SYMBOLS, seed=11, account=account, faults=faults or FaultSettings()
    )
    async with ExchangeSimulator(config, paced=False) as sim:
        instruments = {s: c.instrument for s, c in sim.catalog.instruments.items()}
        bybit = msgspec.structs.replace(
            settings.trading.bybit, rest_url=sim.rest_url, ws_url=sim.private_ws_url
        )
        keys = {"BYBIT_API_KEY": account.api_key, "BYBIT_API_SECRET": account.api_secret}
        exe = BybitExecution.from_settings(bybit, environ=keys)
        trader, apply = _trader(settings, instruments, exe)
        streams = sim.private_streams

        def quiet() -> bool:
            return exe.requests_in_flight == 0 and exe.pushes_received == streams.pushes

        frames: list[tuple[int, bytes]] = []
        try:
            await exe.start()
            await wait_until(lambda: not exe.blocked, TIMEOUT, "the stream up and reconciled")
            end_ns = 0
            while True:
                item = sim.step()
                assert item is not None
                due_ns, raw = item
                if not raw:
                    continue
                if not end_ns:
                    end_ns = due_ns + int(seconds * 1e9)
                if due_ns > end_ns:
                    break
                frames.append(item)
                await _settle(quiet)  # the venue's answers to this frame reach the client...
                apply(raw, due_ns)  # ...before the trader sees the frame, as paper's do
                await _settle(quiet)  # and its orders reach the venue before the next frame
        finally:
            await exe.close()
        return trader, frames, instruments


async def _settle(quiet: Callable[[], bool]) -> None:
    await asyncio.sleep(0)
    while not quiet():
        await asyncio.sleep(0.0005)


def _paper_run(
    settings: Settings, instruments: dict[str, Instrument], frames: list[tuple[int, bytes]]
) -> list[Fill]:
    broker = PaperBroker(settings.trading.paper, instruments)
    trader, apply = _trader(settings, instruments, broker)
    for due_ns, raw in frames:
        apply(raw, due_ns)
    return list(trader.fills)


def _key(fill: Fill) -> tuple[Any, ...]:
    return (fill.client_id, fill.symbol, fill.side, fill.price, fill.qty, fill.liquidity)


def test_paper_and_exchange_make_the_same_fills() -> None:
    settings = _settings()
    paper = settings.trading.paper
    account = SimulatedAccountSettings(
        maker_fee=paper.maker_fee,
        taker_fee=paper.taker_fee,
        market_slippage_bps=paper.market_slippage_bps,
        queue_model=paper.queue_model,
    )
    trader, frames, instruments = asyncio.run(_exchange_run(settings, account))
    exchange_fills = list(trader.fills)
    paper_fills = _paper_run(settings, instruments, frames)

    print(f"{len(frames)} frames, {len(paper_fills)} fills compared")
    assert len(paper_fills) >= 4, f"too few fills to compare ({len(frames)} frames)"
    assert [_key(f) for f in exchange_fills] == [_key(f) for f in paper_fills]
    for ours, theirs in zip(exchange_fills, paper_fills, strict=True):
        assert ours.fee == pytest.approx(theirs.fee, rel=1e-9, abs=1e-12)
        assert 0 <= ours.ts_ns - theirs.ts_ns < MAX_SKEW_NS


def test_venue_refusals_reach_the_trader_as_rejects_and_halt_it() -> None:
    """Every create refused (110007): the trader's orders end REJECTED with the venue's
    reason, nothing fills, and its risk engine halts trading on the reject burst."""
    settings = _settings()
    faults = FaultSettings(order_reject_per_request=1.0, order_reject_code=110007)
    trader, _, _ = asyncio.run(
        _exchange_run(settings, SimulatedAccountSettings(), faults, seconds=60.0)
    )
    rejected = [o for o in trader.finished if o.status is OrderStatus.REJECTED]
    assert rejected, "the strategy sent no order"
    assert all("retCode 110007" in o.reason for o in rejected)
    assert list(trader.fills) == []
    burst = settings.trading.risk.reject_burst
    assert len(rejected) == burst  # then halted: no entry is sent any more
    assert trader.risk.state is TradingState.HALTED
    assert f"{burst} rejects" in trader.risk.state_reason
