"""Micro-candles: `CandleSeries` (one symbol, one timeframe), its `CandleRing` of closed candles,
and `summarize` for a batch of trades.

Compiled from `_candles.pyx` (Cython): every book frame adds its OFI to each timeframe and every
trade message merges into each, so this is on the engine's per-frame path. This module is the
import path everything else uses.
"""

from scalper._candles import CandleRing, CandleSeries, TradeSummary, summarize
from scalper.aggregates import Candle

__all__ = ["Candle", "CandleRing", "CandleSeries", "TradeSummary", "summarize"]
