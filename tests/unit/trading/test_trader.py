"""The trading core over a synthetic market: engine -> signals -> strategy -> risk -> paper
broker -> back. Invariants after every run: the machine, the portfolio and the venue agree on
every position; every open order has an owner; halts and the kill switch wind trading down."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from scalper.engine import Engine
from scalper.events import Instrument
from scalper.settings import (
    EngineSettings,
    RegimeSettings,
    RiskSettings,
    SignalSettings,
    StrategySettings,
    TradingSettings,
)
from scalper.signals import SignalEngine
from scalper.trading.machine import MachineState
from scalper.trading.paper import PaperBroker
from scalper.trading.risk import TradingState
from scalper.trading.store import TradingStore
from scalper.trading.strategy import MarketView, ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket, generate_frames

S = 1_000_000_000
MARKET = MarketConfig(symbols=8, seconds=90, seed=3)
SIGNALS = SignalSettings(
    regimes=RegimeSettings(
        timeframe="15s",
        trend_confirm_timeframe="1m",
        min_history=10,
        volatility_window=5,
        min_dwell="45s",
    )
)
STRATEGY = StrategySettings(
    allowed_volatility=("warming_up", "low", "normal", "high"),
    allowed_volume=("warming_up", "quiet", "normal", "active", "surge"),
)


@pytest.fixture(scope="module")
def frames() -> list[tuple[int, bytes]]:
    return list(generate_frames(MARKET))


@pytest.fixture(scope="module")
def instruments() -> dict[str, Instrument]:
    contracts = SyntheticMarket(MARKET).instruments.values()
    return {c.symbol: c.instrument for c in contracts}


def build(
    instruments: dict[str, Instrument],
    settings: TradingSettings | None = None,
    strategy: object | None = None,
    id_prefix: str = "",
) -> Trader:
    settings = settings or TradingSettings(enabled=True, strategy=STRATEGY)
    engine = Engine(EngineSettings())
    signals = SignalEngine(engine, SIGNALS)
    broker = PaperBroker(settings.paper, instruments)
    return Trader(
        engine,
        signals,
        strategy or ReferenceStrategy(settings.strategy),  # type: ignore[arg-type]
        broker,
        settings,
        instruments,
        settings.paper.starting_equity,
        id_prefix=id_prefix,
    )


def run(
    frames: list[tuple[int, bytes]],
    instruments: dict[str, Instrument],
    settings: TradingSettings | None = None,
    strategy: object | None = None,
    on_frame: Callable[[Trader, int], None] | None = None,
    trader: Trader | None = None,
) -> Trader:
    trader = trader or build(instruments, settings, strategy)
    engine = trader.engine
    applier = FrameApplier(engine)
    for n, (recv_ns, frame) in enumerate(frames):
        applier(frame, recv_ns)
        if on_frame is not None:
            on_frame(trader, n)
    trader.advance_to(trader.now_ns + 5 * S)  # what is in flight arrives
    return trader


def assert_consistent(trader: Trader) -> None:
    broker = trader.execution
    for symbol, entry in trader.symbols.items():
        machine = entry.machine
        assert machine.position == pytest.approx(broker.position(symbol)), symbol  # type: ignore[attr-defined]
        assert machine.position == pytest.approx(trader.portfolio.position(symbol)), symbol
        if machine.position:
            # a position is held with a live stop, or is being closed
            assert machine.stop_price is not None or machine.state is MachineState.POSITION_EXIT
    for client_id, order in trader.orders.items():
        owner = trader.symbols[order.request.symbol].machine
        assert owner.order_id == client_id, f"{client_id} open without an owner"
    entries = [o for o in trader.orders.values() if not o.request.reduce_only]
    assert len({o.request.symbol for o in entries}) == len(entries), "two entries on a symbol"
    venue_open = {o.client_id for o in broker.open_orders()}  # type: ignore[attr-defined]
    assert venue_open <= set(trader.orders), "an order at the venue that the core lost"


def test_the_reference_strategy_trades_on_paper_and_every_view_agrees(frames, instruments):
    trader = run(frames, instruments)
    trades = list(trader.portfolio.trades)
    assert len(trades) >= 3
    assert_consistent(trader)
    pnl = trader.portfolio.pnl()
    assert pnl.fees > 0
    assert pnl.net == pytest.approx(sum(t.net_pnl for t in trades) + pnl.unrealised, abs=1e-6)
    states = {record.state for record in trader.audit}
    assert {"signal_detected", "position_entry", "in_position", "position_exit"} <= states
    for trade in trades:  # fills of a round trip sum to its size on both sides
        fills = [f for f in trader.fills if f.symbol == trade.symbol]
        assert fills and trade.qty > 0


def test_two_runs_of_the_same_frames_decide_the_same(frames, instruments):
    def decisions(trader: Trader) -> list[bytes]:
        rows = [msgspec.structs.replace(r, wall_ns=None) for r in trader.audit]
        return [msgspec.json.encode(row) for row in rows] + [
            msgspec.json.encode(fill) for fill in trader.fills
        ]

    assert decisions(run(frames, instruments)) == decisions(run(frames, instruments))


class Flaky(ReferenceStrategy):
    """Raises for one symbol: that symbol halts, the others trade on."""

    def __init__(self, bad: str) -> None:
        super().__init__(STRATEGY)
        self.bad = bad

    def decide(self, view: MarketView):  # type: ignore[override]
        if view.symbol == self.bad:
            raise ZeroDivisionError("a bug in the strategy")
        return super().decide(view)


def test_a_strategy_error_halts_its_symbol_only(frames, instruments, caplog):
    bad = sorted(instruments)[0]
    trader = run(frames, instruments, strategy=Flaky(bad))
    assert trader.symbols[bad].machine.state is MachineState.HALTED
    assert trader.errors[bad] == 1
    assert "a bug in the strategy" in caplog.text and bad in caplog.text
    assert trader.risk.state is TradingState.ACTIVE
    assert any(t.symbol != bad for t in trader.portfolio.trades)
    assert_consistent(trader)


def test_the_kill_switch_cancels_entries_flattens_and_keeps_trading_off(frames, instruments):
    halted_at: list[int] = []

    def kill_once_positions_are_open(trader: Trader, n: int) -> None:
        if not halted_at and sum(1 for _ in trader.portfolio.open_symbols()) >= 2:
            trader.halt("test kill switch")
            halted_at.append(trader.now_ns)

    trader = run(frames, instruments, on_frame=kill_once_positions_are_open)
    assert halted_at, "no two positions were open at once"
    assert trader.risk.state is TradingState.HALTED
    assert trader.risk.state_reason == "manual: test kill switch"
    assert list(trader.portfolio.open_symbols()) == []
    assert trader.orders == {}
    assert all(e.machine.state is MachineState.HALTED for e in trader.symbols.values())
    late = [o for o in trader.finished if o.request.decided_ns >= halted_at[0]]
    assert late and all(o.request.reduce_only for o in late), "an entry after the halt"
    assert_consistent(trader)
    trader.resume()
    assert trader.risk.state is TradingState.ACTIVE
    assert all(e.machine.state is MachineState.SCANNING for e in trader.symbols.values())


def test_the_daily_loss_limit_reduces_then_halts(frames, instruments):
    # 0.02 % of 10,000 = 2 USDT reduces, 1.5 x that halts: fees alone get there
    risk = RiskSettings(daily_loss_limit=0.0002, halt_loss_factor=1.5)
    settings = TradingSettings(enabled=True, strategy=STRATEGY, risk=risk)
    seen: list[TradingState] = []

    def watch(trader: Trader, n: int) -> None:
        if not seen or seen[-1] is not trader.risk.state:
            seen.append(trader.risk.state)

    trader = run(frames, instruments, settings=settings, on_frame=watch)
    assert seen[:3] == [TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED]
    assert trader.risk.state_reason.startswith("daily loss")
    assert list(trader.portfolio.open_symbols()) == []  # flatten_on_halt
    assert_consistent(trader)


class Crash(Exception):
    pass


def test_a_restart_restores_positions_and_never_sends_an_unanswered_order_again(
    frames, instruments, tmp_path, caplog
):
    """The process dies with positions open and an order on its way (sent, not answered);
    the next start restores the account, the positions with their stops, and the venue's
    positions, and does not send that order again."""
    first = build(instruments)
    first.restore(TradingStore(tmp_path / "trading.sqlite"))

    def crash_with_an_order_in_flight(trader: Trader, n: int) -> None:
        if trader.orders and any(True for _ in trader.portfolio.open_symbols()):
            raise Crash

    with pytest.raises(Crash):
        run(frames, instruments, on_frame=crash_with_an_order_in_flight, trader=first)
    in_flight = set(first.orders)
    held = {s: e.qty for s, e in first.portfolio.exposures().items() if e.qty}
    before = first.portfolio.pnl()
    assert in_flight and held

    second = build(instruments, id_prefix="restart-")  # the runtime stamps each start
    second.restore(TradingStore(tmp_path / "trading.sqlite"))
    restored = {s: e.qty for s, e in second.portfolio.exposures().items() if e.qty}
    assert restored == pytest.approx(held)
    after = second.portfolio.pnl()
    assert (after.realised, after.fees, after.funding) == pytest.approx(
        (before.realised, before.fees, before.funding)
    )
    for symbol, qty in held.items():
        machine = second.symbols[symbol].machine
        assert machine.state is MachineState.IN_POSITION and machine.position == qty
        assert machine.stop_price == first.symbols[symbol].machine.stop_price
        assert second.execution.position(symbol) == qty  # type: ignore[attr-defined]
        avg = first.portfolio.avg_entry_price(symbol)
        assert second.portfolio.avg_entry_price(symbol) == pytest.approx(avg)
    assert second.orders == {}
    assert second.execution.open_orders() == []  # type: ignore[attr-defined]
    for client_id in in_flight:
        assert f"order {client_id} was sent before the restart" in caplog.text
    # and it trades on from there, consistent
    rest = frames[len(frames) // 2 :]
    run(rest, instruments, trader=second)
    assert not set(in_flight) & {o.client_id for o in second.finished}
    assert_consistent(second)
