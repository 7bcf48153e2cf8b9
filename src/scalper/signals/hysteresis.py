"""A state machine over ordered states that does not flap: margins around the edges and a
minimum dwell time.

States s_0 < s_1 < ... hold the intervals between edges e_1 < e_2 < ...: the state "of" a value
is the one whose interval contains it. The current state is left only when the value is beyond
its interval by more than `margin` (so entering at e and leaving at e - margin differ), and not
before `min_dwell_ns` of event time since it was entered; then the state of the value is taken.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

WARMING_UP = "warming_up"


class Hysteresis:
    """One regime's state. `update(value, ts_ns)` returns (previous, new) when it changed."""

    def __init__(
        self, states: Sequence[str], edges: Sequence[float], margin: float, min_dwell_ns: int
    ) -> None:
        if len(states) != len(edges) + 1 or list(edges) != sorted(edges):
            raise ValueError("n states need n - 1 increasing edges")
        self.states = tuple(states)
        self.edges = tuple(edges)
        self.margin = margin
        self.min_dwell_ns = min_dwell_ns
        self.index: int | None = None
        self.since_ns: int | None = None

    @property
    def state(self) -> str:
        return WARMING_UP if self.index is None else self.states[self.index]

    def state_of(self, value: float) -> int:
        """Index of the state whose interval [e_i, e_i+1) holds `value`."""
        return bisect_right(self.edges, value)

    def holds(self, value: float) -> bool:
        """Whether the current state keeps `value` (its interval widened by the margin)."""
        if self.index is None:
            return False
        low = self.edges[self.index - 1] - self.margin if self.index > 0 else -math.inf
        high = self.edges[self.index] + self.margin if self.index < len(self.edges) else math.inf
        return low <= value < high

    def update(self, value: float, ts_ns: int) -> tuple[str, str] | None:
        if self.holds(value):
            return None
        if self.since_ns is not None and ts_ns - self.since_ns < self.min_dwell_ns:
            return None
        target = self.state_of(value)
        if target == self.index:
            return None
        previous = self.state
        self.index = target
        self.since_ns = ts_ns
        return previous, self.state
