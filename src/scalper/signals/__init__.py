"""Signals: order-flow factors, regimes and an explainable score per symbol, in event time.

Pure: driven only by the engine's events (observed in C) and notifications (closed candles),
bounded in memory, the same values live, in replay and in backtests. `SignalEngine` attaches to
an `Engine`; `catalog.FACTORS` lists what it computes and where each formula comes from.
"""

from scalper.signals.catalog import FACTOR_NAMES, FACTORS
from scalper.signals.regimes import REGIMES, RegimeChanged
from scalper.signals.signal_engine import SignalEngine
from scalper.signals.views import SignalSummary, SignalsView

__all__ = [
    "FACTORS",
    "FACTOR_NAMES",
    "REGIMES",
    "RegimeChanged",
    "SignalEngine",
    "SignalSummary",
    "SignalsView",
]
