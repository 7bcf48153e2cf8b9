"""Aggregates the engine serves: candles, flow totals, per-symbol counters (msgspec Structs).

Plain values, built by the compiled candle and flow state (`_candles.pyx`, `_flow.pyx`) when read,
and passed on to the API, the recorder and the summary.
"""

from __future__ import annotations

import msgspec


class Candle(msgspec.Struct, gc=False):
    """One closed (or forming) candle. `start_ns` is an epoch multiple of the interval."""

    start_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    turnover: float = 0.0
    trades: int = 0
    buy_volume: float = 0.0
    sell_volume: float = 0.0
    ofi: float = 0.0
    buy_turnover: float = 0.0
    """Notional (price * size, quote currency) of the buyer-initiated trades."""
    sell_turnover: float = 0.0
    """Notional of the seller-initiated trades."""

    @property
    def delta(self) -> float:
        return self.buy_volume - self.sell_volume

    @property
    def delta_quote(self) -> float:
        """buy_turnover - sell_turnover: the delta in quote currency (USD notional)."""
        return self.buy_turnover - self.sell_turnover

    @property
    def vwap(self) -> float:
        """turnover / volume; the close for a candle with no volume."""
        return self.turnover / self.volume if self.volume > 0.0 else self.close


class FlowTotals(msgspec.Struct, gc=False):
    """Aggregated flow over some span. delta = buy_volume - sell_volume."""

    buy_volume: float = 0.0
    sell_volume: float = 0.0
    buy_count: int = 0
    sell_count: int = 0
    buy_notional: float = 0.0
    sell_notional: float = 0.0

    @property
    def delta(self) -> float:
        return self.buy_volume - self.sell_volume

    @property
    def volume(self) -> float:
        return self.buy_volume + self.sell_volume


class SymbolCounters(msgspec.Struct, gc=False):
    """What happened to one symbol's stream; every out-of-sync event is counted by cause."""

    frames: int = 0
    book_frames: int = 0
    trade_frames: int = 0
    ticker_frames: int = 0
    trades: int = 0
    snapshots: int = 0
    resets: int = 0
    gaps: int = 0
    crossed: int = 0
    deltas_before_snapshot: int = 0
    ignored_deltas: int = 0
    malformed: int = 0
    resyncs_requested: int = 0
    large_trades: int = 0
