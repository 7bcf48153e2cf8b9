"""Where a resting limit order stands in its price level's queue, estimated from L2 data.

An L2 feed shows the size at a price, not the orders in it, so the size ahead of us (`front`)
is an estimate. The models are hftbacktest's (hftbacktest/src/backtest/models/queue.rs, after
Rigtorp's "Estimating order queue position"), as ../shared/TRADING.md ("Fill model") gives them:

- on arrival `front` = the displayed size at our price;
- a trade at our price by the opposite aggressor: `front -= qty`, and the traded quantity is
  remembered, because the venue's next depth change at that price will show the same decrease;
- a depth change from `prev` to `new`: the decrease not explained by trades,
  `chg = prev - new - traded`, happened ahead of us or behind us. The probabilistic model splits
  it by `p`, the probability that it was behind us; the risk-averse model assumes it was always
  behind us (cancels come from the tail), so only trades move us forward;
- the order fills by the excess once `front < 0`.

The functions are pure; `QueuePosition` keeps one order's numbers between events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import msgspec

ProbabilityFn = Callable[[float, float], float]
"""p(front, back): the share of a level's decrease that happened behind our order."""


def power_probability(front: float, back: float, n: float = 3.0) -> float:
    """hftbacktest's `PowerProbQueueFunc`: p = b^n / (b^n + f^n).

    n = 3 is the default: hftbacktest's maintainer moved his example from 2 to 3 in 2025 "to
    reflect a more challenging fill in the queue" (TRADING.md). p = 0 at the head of the queue
    (nothing behind), 1 at the tail (nothing ahead). A queue with nothing on either side gives 1:
    no decrease can have been ahead of us.
    """
    f = max(front, 0.0) ** n
    b = max(back, 0.0) ** n
    if f + b == 0.0:
        return 1.0
    return b / (b + f)


def probabilistic_depth_change(
    front: float, prev: float, new: float, traded: float, probability: ProbabilityFn
) -> float:
    """The size ahead after the level went from `prev` to `new` (hftbacktest `ProbQueueModel`).

    `traded` is what trades at the price took since the last depth change (already counted in
    `front`). A level that grew leaves us where we were (newcomers join behind us), capped by
    `new`; otherwise `front - (1-p)·chg + min(back - p·chg, 0)`, capped by `new`, with
    `back = prev - front` and `p = probability(front, back)`: the part of the decrease put
    behind us beyond what stood behind us came from ahead of us after all.
    """
    chg = prev - new - traded
    if chg < 0.0:
        return min(front, new)
    back = prev - front
    p = probability(front, back)
    return min(front - (1.0 - p) * chg + min(back - p * chg, 0.0), new)


def risk_averse_depth_change(front: float, new: float) -> float:
    """hftbacktest `RiskAdverseQueueModel`: a decrease is never ahead of us; only a level that
    shrank below our estimate moves us (we cannot have more ahead than the level holds)."""
    return min(front, new)


class QueueModel(Protocol):
    """How a depth change at our price moves our queue position."""

    def depth_change(self, front: float, prev: float, new: float, traded: float) -> float: ...


class ProbQueueModel:
    """The probabilistic model with a probability function (power 3 unless told otherwise)."""

    def __init__(self, probability: ProbabilityFn = power_probability) -> None:
        self._probability = probability

    def depth_change(self, front: float, prev: float, new: float, traded: float) -> float:
        return probabilistic_depth_change(front, prev, new, traded, self._probability)


class RiskAverseQueueModel:
    """Only trades move us forward: the pessimistic bound to report beside the default."""

    def depth_change(self, front: float, prev: float, new: float, traded: float) -> float:
        return risk_averse_depth_change(front, new)


def queue_model(name: Literal["power3", "risk_averse"]) -> QueueModel:
    """The model `PaperSettings.queue_model` names."""
    if name == "risk_averse":
        return RiskAverseQueueModel()
    return ProbQueueModel(power_probability)


class QueuePosition:
    """One resting order's place in its level: the size ahead (`front`), the trade volume seen
    at the price since the last depth change (`traded`), and the level's last known size
    (`level`, the `prev` of the next depth change)."""

    __slots__ = ("front", "level", "traded")

    def __init__(self, front: float, level: float) -> None:
        self.front = front
        self.level = level
        self.traded = 0.0

    def on_trade(self, qty: float) -> None:
        """A trade at our price by the opposite aggressor took `qty` from the head of the queue."""
        self.front -= qty
        self.traded += qty

    def on_depth(self, new: float, model: QueueModel) -> None:
        """The level's displayed size changed to `new`."""
        self.front = model.depth_change(self.front, self.level, new, self.traded)
        self.traded = 0.0
        self.level = new

    def take_excess(self, at_most: float) -> float:
        """What a trade fills of us: the part of it beyond the queue ahead (`-front` once
        negative), at most `at_most` (the trade's size not yet given to our other orders, and
        our remaining quantity). We are then at the head of the queue (`front = 0`).

        Fills happen on trades only, as in hftbacktest's exchange models: a depth change can
        leave `front` below zero (cancels), which makes the next trade at the price fill us,
        never the cancels themselves."""
        if self.front >= 0.0 or at_most <= 0.0:
            return 0.0
        qty = min(-self.front, at_most)
        self.front = 0.0
        return qty


class QueueEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """Where a resting paper order stands, as the queue model estimates it."""

    ahead: float
    """Size ahead of the order at its price (base quantity; 0 at the head of the queue)."""
    ahead_lots: float | None
    """`ahead` in the symbol's quantity steps (None: the step is unknown)."""
    level: float
    """The level's displayed size when last seen."""
    fraction: float
    """`ahead` / `level`, capped to 0..1: 0 at the head of the queue, 1 at its tail."""


def queue_estimate(position: QueuePosition, qty_step: float | None) -> QueueEstimate:
    """The estimate a `QueuePosition` gives (a negative `front`, not yet traded, reads as 0)."""
    ahead = max(position.front, 0.0)
    level = max(position.level, 0.0)
    return QueueEstimate(
        ahead=ahead,
        ahead_lots=round(ahead / qty_step, 6) if qty_step else None,
        level=level,
        fraction=min(ahead / level, 1.0) if level > 0.0 else 0.0,
    )
