"""Rows of the candles and metrics streams, read from engine state (no I/O)."""

from __future__ import annotations

import msgspec

from scalper.candles import Candle
from scalper.engine import Engine, SymbolState
from scalper.metrics import imbalance

CandleRow = tuple[
    int,
    str,
    str,
    int,
    float,
    float,
    float,
    float,
    float,
    float,
    int,
    float,
    float,
    float,
    float,
    float,
]
MetricsRow = tuple[object, ...]


def candle_row(recorded_ns: int, symbol: str, timeframe: str, candle: Candle) -> CandleRow:
    """One closed candle in CANDLE_SCHEMA's column order (its last columns are Candle's fields,
    in order)."""
    return (recorded_ns, symbol, timeframe, *msgspec.structs.astuple(candle))


def candle_from_row(row: dict[str, object]) -> Candle:
    """The Candle of a row read back (a dict of CANDLE_SCHEMA columns; a column a recording
    made before it existed reads 0)."""
    return Candle(*(_or_zero(row.get(name)) for name in Candle.__struct_fields__))


def _or_zero(value: object) -> object:
    return 0.0 if value is None else value


def metrics_rows(engine: Engine, ts_ns: int) -> list[MetricsRow]:
    """One `metrics_schema(engine.config.flow_windows)` row per symbol that has a book: the
    state as of the last event."""
    windows = tuple(engine.config.flow_windows_ns.values())
    now = engine.clock_ns
    rows: list[MetricsRow] = []
    for symbol in sorted(engine.symbols):
        state = engine.symbols[symbol]
        if state.book is not None:
            rows.append(_metrics_row(state, ts_ns, now, windows))
    return rows


def _metrics_row(
    state: SymbolState, ts_ns: int, now_ns: int, windows: tuple[int, ...]
) -> MetricsRow:
    book = state.book
    assert book is not None
    bid = book.best_bid()
    ask = book.best_ask()
    values = imbalance(book)
    flow = state.flow
    totals = [flow.window(span, now_ns) for span in windows]
    last_price = state.recent_trades[-1].price if state.recent_trades else None
    return (
        ts_ns,
        state.symbol,
        state.last_event_ns,
        book.state.value,
        bid[0] if bid else None,
        ask[0] if ask else None,
        book.mid(),
        book.spread_bps(),
        book.microprice(),
        values.book,
        values.top1,
        values.top5,
        values.top10,
        values.top25,
        values.bps10,
        values.bps25,
        values.bps50,
        *(window.delta for window in totals),
        *(window.volume for window in totals),
        flow.totals.delta,
        last_price,
        *(window.buy_notional - window.sell_notional for window in totals),
        *(window.buy_notional + window.sell_notional for window in totals),
        flow.totals.buy_notional - flow.totals.sell_notional,
    )
