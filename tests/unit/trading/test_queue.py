"""trading.queue: hftbacktest's queue-position models (TRADING.md "Fill model"), numbers by hand."""

from __future__ import annotations

import pytest

from scalper.trading.queue import (
    ProbQueueModel,
    QueuePosition,
    RiskAverseQueueModel,
    power_probability,
    probabilistic_depth_change,
    queue_model,
    risk_averse_depth_change,
)


def test_power3_probability_is_the_share_of_cubes_behind_us() -> None:
    # front 4, back 6: p = 6^3 / (6^3 + 4^3) = 216 / 280
    assert power_probability(4.0, 6.0) == pytest.approx(216 / 280)
    assert power_probability(1.0, 2.0) == pytest.approx(8 / 9)


def test_power_probability_at_the_head_and_tail_of_the_queue() -> None:
    assert power_probability(5.0, 0.0) == 0.0  # nothing behind: a decrease was ahead of us
    assert power_probability(0.0, 5.0) == 1.0  # nothing ahead: it was behind us
    assert power_probability(0.0, 0.0) == 1.0


def test_power_probability_with_another_exponent() -> None:
    # n = 2: 6^2 / (6^2 + 4^2) = 36 / 52
    assert power_probability(4.0, 6.0, n=2.0) == pytest.approx(36 / 52)


def test_probabilistic_decrease_split_ahead_and_behind() -> None:
    # front 4, back 6 (prev 10), the level drops to 7: chg = 3, p = 216/280, 1 - p = 8/35.
    # front = 4 - (8/35)*3 + min(6 - (27/35)*3, 0) = 4 - 24/35 + 0 = 116/35
    prob = power_probability
    assert probabilistic_depth_change(4.0, 10.0, 7.0, 0.0, prob) == pytest.approx(116 / 35)


def test_probabilistic_decrease_beyond_the_back_comes_from_the_front() -> None:
    # front 2, back 1 (prev 3), the level is emptied: chg = 3, p = 1/9.
    # front = 2 - (8/9)*3 + min(1 - 3/9, 0) = 2 - 8/3 = -2/3; capped by new = 0: -2/3
    result = probabilistic_depth_change(2.0, 3.0, 0.0, 0.0, power_probability)
    assert result == pytest.approx(-2 / 3)
    # front 1, back 3 (prev 4), emptied: p = 27/28.
    # front = 1 - (1/28)*4 + min(3 - (27/28)*4, 0) = 1 - 1/7 + (3 - 27/7) = 0
    assert probabilistic_depth_change(1.0, 4.0, 0.0, 0.0, power_probability) == pytest.approx(0)


def test_probabilistic_growth_leaves_us_in_place() -> None:
    # newcomers join behind us: 5 ahead stays 5
    assert probabilistic_depth_change(5.0, 10.0, 12.0, 0.0, power_probability) == 5.0


def test_traded_volume_is_not_counted_twice() -> None:
    # front 5 of 10; a trade of 3 at the price: front 2; the book then shows 7: the whole
    # decrease was the trade (chg = 10 - 7 - 3 = 0), front stays 2
    assert probabilistic_depth_change(2.0, 10.0, 7.0, 3.0, power_probability) == 2.0
    # the book shows 5 instead: 2 cancelled. back = 10 - 2 = 8, p = 512/520 = 64/65:
    # front = 2 - (1/65)*2 + min(8 - (64/65)*2, 0) = 128/65
    result = probabilistic_depth_change(2.0, 10.0, 5.0, 3.0, power_probability)
    assert result == pytest.approx(128 / 65)


def test_probabilistic_front_never_exceeds_the_level() -> None:
    # 10 at the level, trades of 9 took us from 10 to 1 ahead; the book then shows 0.5:
    # chg = 10 - 0.5 - 9 = 0.5, back = 9, p = 729/730; estimate 1 - 0.5/730, capped by 0.5
    assert probabilistic_depth_change(1.0, 10.0, 0.5, 9.0, power_probability) == 0.5


def test_risk_averse_cancels_never_move_us() -> None:
    assert risk_averse_depth_change(4.0, 7.0) == 4.0
    assert risk_averse_depth_change(5.0, 3.0) == 3.0  # cannot have more ahead than the level


def test_models_by_setting_name() -> None:
    power3 = queue_model("power3")
    averse = queue_model("risk_averse")
    assert isinstance(power3, ProbQueueModel)
    assert isinstance(averse, RiskAverseQueueModel)
    assert power3.depth_change(4.0, 10.0, 7.0, 0.0) == pytest.approx(116 / 35)
    assert averse.depth_change(4.0, 10.0, 7.0, 0.0) == 4.0


def test_queue_position_trades_then_depth() -> None:
    queue = QueuePosition(front=5.0, level=10.0)
    queue.on_trade(3.0)
    assert (queue.front, queue.traded) == (2.0, 3.0)
    queue.on_depth(5.0, queue_model("power3"))
    assert queue.front == pytest.approx(128 / 65)
    assert (queue.traded, queue.level) == (0.0, 5.0)


def test_queue_position_fills_by_the_excess_only() -> None:
    queue = QueuePosition(front=2.0, level=2.0)
    queue.on_trade(1.5)
    assert queue.take_excess(10.0) == 0.0  # 0.5 still ahead
    queue.on_trade(4.0)  # front -3.5
    assert queue.take_excess(10.0) == pytest.approx(3.5)
    assert queue.front == 0.0  # at the head of the queue now


def test_queue_position_excess_capped() -> None:
    queue = QueuePosition(front=1.0, level=1.0)
    queue.on_trade(5.0)  # front -4
    assert queue.take_excess(1.5) == 1.5
    assert queue.take_excess(1.5) == 0.0  # the excess went with the fill
