"""Trade flow of one symbol: `TradeFlow` (aggressor volumes, cumulative delta, rolling windows)
and the `FlowTotals` it reports.

Compiled from `_flow.pyx` (Cython): every trade of every message passes through it. This module
is the import path everything else uses.
"""

from scalper._flow import TradeFlow
from scalper.aggregates import FlowTotals

__all__ = ["FlowTotals", "TradeFlow"]
