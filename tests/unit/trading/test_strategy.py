"""The reference strategy on hand-built views: when it enters, where its stop and target are,
and each of its exits. The figures are computed by hand in the comments."""

from __future__ import annotations

import msgspec
import pytest

from scalper.settings import StrategySettings
from scalper.trading.machine import MachineState
from scalper.trading.orders import BUY, SELL, OrderType, TimeInForce
from scalper.trading.strategy import CancelEntry, Enter, Exit, MarketView, ReferenceStrategy

S = 1_000_000_000
SCANNING = MarketView(
    ts_ns=100 * S,
    symbol="BTCUSDT",
    bid=99.9,
    ask=100.1,
    bid_qty=5.0,
    ask_qty=4.0,
    in_sync=True,
    tick_size=0.1,
    score=0.6,
    direction=BUY,
    confluence=4,
    regimes={"volatility": "normal", "trend": "up", "volume": "active"},
    atr_bps=20.0,
    state=MachineState.SCANNING,
    position=0.0,
    entry_price=None,
    entry_ns=0,
    stop_price=None,
    take_profit=None,
    order_age_ns=None,
)


def view(**changes: object) -> MarketView:
    return msgspec.structs.replace(SCANNING, **changes)


def test_a_long_entry_is_postonly_at_the_bid_with_an_atr_stop_and_a_two_r_target() -> None:
    decision = ReferenceStrategy().decide(SCANNING)
    assert isinstance(decision, Enter)
    assert decision.side == BUY
    assert decision.order_type is OrderType.LIMIT
    assert decision.time_in_force is TimeInForce.POST_ONLY
    assert decision.price == 99.9
    # 1.5 ATR of 20 bps at a mid of 100: 0.3 below the bid; the target 2 x 0.3 above it.
    assert decision.stop_price == pytest.approx(99.6)
    assert decision.take_profit == pytest.approx(100.5)
    assert "1.5 ATR" in decision.reason


def test_a_short_market_entry_starts_from_the_bid() -> None:
    strategy = ReferenceStrategy(StrategySettings(entry="market"))
    decision = strategy.decide(view(score=-0.7, direction=SELL))
    assert isinstance(decision, Enter)
    assert decision.side == SELL
    assert decision.order_type is OrderType.MARKET and decision.price is None
    assert decision.stop_price == pytest.approx(99.9 + 0.3)
    assert decision.take_profit == pytest.approx(99.9 - 0.6)


@pytest.mark.parametrize(
    "changes",
    [
        {"score": 0.49},  # below enter_score 0.5
        {"confluence": 2},  # below min_confluence 3
        {"score": None},  # warming up
        {"direction": 0},
        {"in_sync": False},
        {"bid": None},
        {"regimes": {"volatility": "low", "trend": "up", "volume": "active"}},
        {"regimes": {"volatility": "normal", "trend": "up", "volume": "quiet"}},
        {"regimes": {"volatility": "extreme", "trend": "up", "volume": "surge"}},
    ],
)
def test_no_entry_without_a_strong_agreeing_score_in_allowed_regimes(changes: dict) -> None:
    assert ReferenceStrategy().decide(view(**changes)) is None


@pytest.mark.parametrize(
    ("score", "confluence", "allowed"),
    [
        (0.6, 4, True),
        (-0.5, 3, True),  # at enter_score 0.5 and min_confluence 3, either side
        (0.49, 4, False),
        (-0.49, 4, False),
        (0.6, 2, False),
        (None, 7, False),  # warming up
    ],
)
def test_the_entry_gate_passes_only_what_decide_could_enter_on(
    score: float | None, confluence: int, allowed: bool
) -> None:
    strategy = ReferenceStrategy()
    assert strategy.entry_gate(score, confluence) is allowed
    if not allowed:
        assert strategy.decide(view(score=score, confluence=confluence)) is None


def test_without_atr_the_stop_falls_back_to_spreads_and_is_floored() -> None:
    strategy = ReferenceStrategy(StrategySettings(min_stop_bps=5.0))
    # spread 0.2 x 1.5 = 0.3 (30 bps of 100) is above the 5 bps floor (0.05)
    decision = strategy.decide(view(atr_bps=None))
    assert isinstance(decision, Enter)
    assert decision.stop_price == pytest.approx(99.6)
    assert "1.5 spreads" in decision.reason
    # a spread of one tick (0.1 x 1.5 = 0.15) under a 50 bps floor (0.5)
    floored = ReferenceStrategy(StrategySettings(min_stop_bps=50.0)).decide(
        view(atr_bps=None, bid=99.95, ask=100.05)
    )
    assert isinstance(floored, Enter)
    assert floored.stop_price == pytest.approx(99.95 - 0.5)
    assert "floor 50 bps" in floored.reason


def in_position(**changes: object) -> MarketView:
    base = {
        "state": MachineState.IN_POSITION,
        "position": 2.0,
        "entry_price": 100.0,
        "entry_ns": 90 * S,
        "stop_price": 99.5,
        "take_profit": 101.0,
        "score": 0.1,
    }
    return view(**{**base, **changes})


def test_exits_stop_target_time_and_reversal_in_that_order() -> None:
    strategy = ReferenceStrategy(StrategySettings(time_stop_s=60.0, exit_score=0.2))
    assert strategy.decide(in_position()) is None
    stop = strategy.decide(in_position(bid=99.5, ask=99.6))
    assert isinstance(stop, Exit) and stop.reason.startswith("stop 99.5 hit")
    target = strategy.decide(in_position(bid=101.0, ask=101.1))
    assert isinstance(target, Exit) and target.reason.startswith("take profit")
    late = strategy.decide(in_position(ts_ns=150 * S))
    assert isinstance(late, Exit) and late.reason == "time stop after 60s"
    reversal = strategy.decide(in_position(score=-0.2))
    assert isinstance(reversal, Exit) and reversal.reason.startswith("signal reversed")
    # a short's stop is above: the ask reaching it exits
    short = strategy.decide(in_position(position=-2.0, stop_price=100.1, take_profit=99.0))
    assert isinstance(short, Exit) and short.reason.startswith("stop 100.1 hit at 100.1")


def test_a_stop_waits_for_a_valid_book() -> None:
    assert ReferenceStrategy().decide(in_position(bid=99.0, in_sync=False)) is None


def test_an_entry_unfilled_for_its_timeout_is_cancelled() -> None:
    strategy = ReferenceStrategy(StrategySettings(entry_timeout_s=5.0))
    waiting = view(state=MachineState.POSITION_ENTRY, order_age_ns=4 * S)
    assert strategy.decide(waiting) is None
    cancel = strategy.decide(view(state=MachineState.POSITION_ENTRY, order_age_ns=5 * S))
    assert isinstance(cancel, CancelEntry)


@pytest.mark.parametrize(
    "state",
    [MachineState.IDLE, MachineState.COOLDOWN, MachineState.HALTED, MachineState.POSITION_EXIT],
)
def test_nothing_is_decided_outside_scanning_entry_and_position(state: MachineState) -> None:
    assert ReferenceStrategy().decide(view(state=state)) is None
