"""The last known ticker of one symbol: `TickerState` (snapshots replace, deltas merge).

Compiled from `_tickers.pyx` (Cython): a ticker delta touches only the C arrays of its symbol's
state. This module is the import path everything else uses.
"""

from scalper._tickers import TickerState

__all__ = ["TickerState"]
