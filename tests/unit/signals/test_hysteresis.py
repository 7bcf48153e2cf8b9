"""The regimes' state machine: margins around the edges and a minimum dwell."""

from __future__ import annotations

from scalper.signals.hysteresis import WARMING_UP, Hysteresis


def machine(dwell: int = 0) -> Hysteresis:
    return Hysteresis(("low", "normal", "high"), (0.25, 0.75), margin=0.05, min_dwell_ns=dwell)


def test_first_value_leaves_warming_up() -> None:
    m = machine()
    assert m.state == WARMING_UP
    assert m.update(0.5, 10) == (WARMING_UP, "normal")
    assert m.since_ns == 10


def test_entering_and_leaving_happen_at_different_values() -> None:
    m = machine()
    m.update(0.5, 0)
    assert m.update(0.78, 1) is None  # within the margin above 0.75: still normal
    assert m.update(0.81, 2) == ("normal", "high")
    assert m.update(0.72, 3) is None  # high is kept down to 0.70
    assert m.update(0.69, 4) == ("high", "normal")


def test_a_jump_goes_straight_to_the_state_of_the_value() -> None:
    m = machine()
    m.update(0.9, 0)
    assert m.update(0.1, 1) == ("high", "low")


def test_no_change_before_the_minimum_dwell() -> None:
    m = machine(dwell=100)
    m.update(0.5, 0)
    assert m.update(0.9, 50) is None
    assert m.update(0.9, 100) == ("normal", "high")
    assert m.update(0.1, 150) is None
    assert m.update(0.1, 200) == ("high", "low")
