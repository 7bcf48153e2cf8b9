"""The per-symbol summary table printed when `run`, `demo` or `replay` ends.

Fits 100 columns by default (`wide=True` adds gaps, resyncs, the pressure label, the delta in
coin units and a candle count per timeframe); prices in positional notation, flows with K/M/B/T.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from scalper.engine import Engine
from scalper.metrics import imbalance
from scalper.numbers import compact, plain

_LEFT = frozenset({"symbol", "sync", "pressure"})


def summary_table(engine: Engine, wide: bool = False) -> Table:
    """Per symbol, sorted: frames, sync, top of book, spread, top-10 imbalance, cumulative delta
    in quote currency (coin units too when wide), closed candles."""
    timeframes = list(engine.config.timeframes)
    headers = ["symbol", "frames"]
    if wide:
        headers += ["gaps", "resyncs"]
    headers += ["sync", "bid", "ask", "bps", "imb10"]
    if wide:
        headers += ["pressure", "CVD qty"]
    headers += ["CVD"]
    headers += [f"candles {tf}" for tf in timeframes] if wide else ["candles"]
    table = Table(
        title=f"{len(engine.symbols)} symbols, {engine.frames:,} frames",
        caption=(
            "bps: spread in basis points of the mid; imb10: bid share of the top 10 levels (0.5 "
            "neutral); CVD: cumulative aggressor delta in quote currency since the start"
            + ("" if wide else f"; candles: closed {'/'.join(timeframes)}")
        ),
        box=box.SIMPLE_HEAD if not wide else box.HEAVY_HEAD,
    )
    for header in headers:
        table.add_column(header, justify="left" if header in _LEFT else "right")
    for name in sorted(engine.symbols):
        state = engine.symbols[name]
        book = state.book
        bid = book.best_bid() if book else None
        ask = book.best_ask() if book else None
        imb = imbalance(book) if book else None
        spread_bps = book.spread_bps() if book else None
        totals = state.flow.totals
        counters = state.counters
        closed = [len(state.candles[tf].closed) for tf in timeframes]
        row = [name, f"{counters.frames:,}"]
        if wide:
            row += [str(counters.gaps), str(counters.resyncs_requested)]
        row += [
            book.state.value if book else "no book",
            plain(bid[0] if bid else None),
            plain(ask[0] if ask else None),
            "-" if spread_bps is None else f"{spread_bps:.2f}",
            "-" if imb is None else f"{imb.top10:.3f}",
        ]
        if wide:
            row += [imb.label if imb else "-", compact(totals.delta)]
        row += [compact(totals.buy_notional - totals.sell_notional)]
        row += [str(n) for n in closed] if wide else ["/".join(map(str, closed))]
        table.add_row(*row)
    return table
