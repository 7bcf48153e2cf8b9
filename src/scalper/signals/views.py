"""What the signals layer serves: plain Structs for the API, the stream and the evaluator.

No NaN ever leaves: a value that is not there is None with a status saying why ("warming_up":
too little history yet; "unavailable": its input is missing, e.g. the book is out of sync).
"""

from __future__ import annotations

import msgspec

from scalper.signals.regimes import RegimeChanged, RegimeState


class FactorView(msgspec.Struct):
    value: float | None
    status: str
    """ok, warming_up or unavailable."""
    kind: str
    """directional, gate or context (signals.catalog)."""
    weight: float
    z: float | None
    """The value against its own recent mean and deviation (weighted factors only)."""
    contribution: float | None
    """Its part of the score, gates included: the contributions add up to the score."""


class ScoreView(msgspec.Struct):
    value: float | None
    """In [-1, 1]; None while warming up."""
    status: str
    direction: str
    """long, short or flat."""
    confluence: int
    """Ready factors agreeing with the direction beyond their confluence threshold."""
    gates: list[str]
    """Active gates (each multiplies the score by its setting)."""
    multiplier: float
    version: str


class RegimeView(msgspec.Struct):
    state: str
    """A state of the regime, or warming_up."""
    since_ns: int | None
    inputs: dict[str, float]
    last_change: RegimeChanged | None


class SignalsView(msgspec.Struct):
    """`GET /api/symbol/{s}/signals`: why the score is what it is."""

    symbol: str
    as_of_ns: int
    """Event time the values hold at (the last closed tick: every event before it counted)."""
    cadence_ms: float
    book_in_sync: bool
    score: ScoreView
    factors: dict[str, FactorView]
    details: dict[str, float | None]
    regimes: dict[str, RegimeView]


class SignalSummary(msgspec.Struct):
    """The scanner's columns of one symbol (`/api/symbols`, the `/ws` stream)."""

    score: float | None
    direction: str
    confluence: int
    regimes: dict[str, str]
    as_of_ns: int


__all__ = [
    "FactorView",
    "RegimeChanged",
    "RegimeState",
    "RegimeView",
    "ScoreView",
    "SignalSummary",
    "SignalsView",
]
