"""The per-symbol summary table printed after a replay."""

from __future__ import annotations

from rich.table import Table

from scalper.engine import Engine
from scalper.metrics import imbalance


def _fmt(value: float | None, digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def summary_table(engine: Engine) -> Table:
    """Per symbol: frames, gaps, top of book, imbalance, delta and candles (sorted by symbol)."""
    timeframes = list(engine.config.timeframes)
    table = Table(title=f"{len(engine.symbols)} symbols, {engine.frames} frames")
    for header in (
        "symbol",
        "frames",
        "gaps",
        "resyncs",
        "sync",
        "bid",
        "ask",
        "spread bps",
        "imb10",
        "pressure",
        "delta (CVD)",
        *(f"candles {tf}" for tf in timeframes),
    ):
        table.add_column(
            header, justify="left" if header in ("symbol", "sync", "pressure") else "right"
        )
    for name in sorted(engine.symbols):
        state = engine.symbols[name]
        book = state.book
        bid = book.best_bid() if book else None
        ask = book.best_ask() if book else None
        imb = imbalance(book) if book else None
        table.add_row(
            name,
            str(state.counters.frames),
            str(state.counters.gaps),
            str(state.counters.resyncs_requested),
            book.state.value if book else "no book",
            _fmt(bid[0] if bid else None),
            _fmt(ask[0] if ask else None),
            _fmt(book.spread_bps() if book else None, 4),
            _fmt(imb.top10 if imb else None, 3),
            imb.label if imb else "-",
            _fmt(state.flow.totals.delta, 6),
            *(str(len(state.candles[tf].closed)) for tf in timeframes),
        )
    return table
