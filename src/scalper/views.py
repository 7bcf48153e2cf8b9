"""Read-only views of engine state, as plain Structs for JSON, tables and the API.

Every figure is computed from the state as it is now (as of the engine's last event).
"""

from __future__ import annotations

import typing
from typing import NamedTuple

import msgspec

from scalper.book import OrderBook
from scalper.candles import Candle
from scalper.engine import Engine, SymbolCounters, SymbolState
from scalper.events import Level, TickerFields
from scalper.flow import FlowTotals
from scalper.metrics import Imbalance, Wall, imbalance, walls
from scalper.numbers import clean, decimals, digits_of, on_step

DEFAULT_LEVELS = 25


class BookView(msgspec.Struct):
    depth: int
    """Levels a side asked for (the lists may be shorter)."""
    venue_depth: int
    """Depth of the book kept (the venue's subscription, e.g. orderbook.50)."""
    state: str
    out_of_sync_reason: str | None
    update_id: int
    ts_event_ns: int
    best_bid: Level | None
    best_ask: Level | None
    mid: float | None
    spread: float | None
    spread_bps: float | None
    microprice: float | None
    bids: list[Level]
    asks: list[Level]
    trimmed_levels: int


class TopOfBook(NamedTuple):
    """The best levels and what is computed from them, rounded so JSON carries no float noise:
    the spread to the price grid's decimals, the mid one more, the microprice two more."""

    best_bid: Level | None = None
    best_ask: Level | None = None
    mid: float | None = None
    spread: float | None = None
    spread_bps: float | None = None
    microprice: float | None = None


def top_of_book(book: OrderBook | None, tick_size: str | None = None) -> TopOfBook:
    """`book`'s top figures; the price grid is `tick_size`'s (a venue's decimal string) or, not
    known, the best prices' own decimals."""
    if book is None:
        return TopOfBook()
    bid, ask = book.best_bid(), book.best_ask()
    if tick_size:
        digits = decimals(tick_size)
    else:
        digits = max((digits_of(level[0]) for level in (bid, ask) if level), default=0)
    return TopOfBook(
        bid,
        ask,
        on_step(book.mid(), digits + 1),
        on_step(book.spread(), digits),
        on_step(book.spread_bps(), 4),
        on_step(book.microprice(), digits + 2),
    )


def _with_derived(name: str, base: type[msgspec.Struct], derived: tuple[str, ...]) -> type:
    """A view Struct of `base`'s fields followed by its derived properties (floats), so JSON
    carries what a reader would otherwise compute; the fields are listed once, in `base`."""
    hints = typing.get_type_hints(base)
    fields = [(field, hints[field]) for field in base.__struct_fields__]
    return msgspec.defstruct(name, [*fields, *((field, float) for field in derived)])


FLOW_DERIVED = ("delta", "volume", "delta_quote", "volume_quote", "delta_usd", "volume_usd")
FlowView = _with_derived("FlowView", FlowTotals, FLOW_DERIVED)
"""FlowTotals' fields, then delta (buy minus sell volume) and volume in coin units, and both in
quote currency (buy minus sell notional; their sum) as `delta_quote`/`volume_quote` and again
under the names `delta_usd`/`volume_usd` (USDT perpetuals: the quote is USD)."""
CANDLE_DERIVED = ("delta", "vwap", "delta_quote", "delta_usd", "volume_usd")
CandleView = _with_derived("CandleView", Candle, CANDLE_DERIVED)
"""Candle's fields, then delta (coin units), vwap (turnover / volume; the close without volume),
delta_quote (buy minus sell notional, quote currency), and the flow in USD notional under clear
names: delta_usd (= delta_quote) and volume_usd (= turnover)."""


class ImbalanceView(msgspec.Struct):
    values: Imbalance
    label: str


class WallsView(msgspec.Struct):
    bids: list[Wall]
    asks: list[Wall]


class SymbolView(msgspec.Struct):
    symbol: str
    last_event_ns: int
    counters: SymbolCounters
    book: BookView | None
    imbalance: ImbalanceView | None
    walls: WallsView | None
    cumulative: FlowView
    windows: dict[str, FlowView]
    unclassified_trades: int
    candles: dict[str, list[CandleView]]
    late_trades: dict[str, int]
    ticker: TickerFields


def book_view(
    book: OrderBook, levels: int = DEFAULT_LEVELS, tick_size: str | None = None
) -> BookView:
    top = top_of_book(book, tick_size)
    return BookView(
        depth=levels,
        venue_depth=book.depth,
        state=book.state.value,
        out_of_sync_reason=book.out_of_sync_reason,
        update_id=book.update_id,
        ts_event_ns=book.ts_event_ns,
        best_bid=top.best_bid,
        best_ask=top.best_ask,
        mid=top.mid,
        spread=top.spread,
        spread_bps=top.spread_bps,
        microprice=top.microprice,
        bids=book.bids.top(levels),
        asks=book.asks.top(levels),
        trimmed_levels=book.trimmed_levels,
    )


def _cleaned(values: tuple[object, ...]) -> list[object]:
    return [clean(v) if type(v) is float else v for v in values]


def flow_view(totals: FlowTotals) -> FlowView:  # type: ignore[valid-type]
    quote = totals.buy_notional - totals.sell_notional
    volume_quote = totals.buy_notional + totals.sell_notional
    derived = (totals.delta, totals.volume, quote, volume_quote, quote, volume_quote)
    return FlowView(*_cleaned((*msgspec.structs.astuple(totals), *derived)))


def candle_view(candle: Candle) -> CandleView:  # type: ignore[valid-type]
    quote = candle.delta_quote
    derived = (candle.delta, candle.vwap, quote, quote, candle.turnover)
    return CandleView(*_cleaned((*msgspec.structs.astuple(candle), *derived)))


def symbol_view(engine: Engine, state: SymbolState, levels: int = DEFAULT_LEVELS) -> SymbolView:
    """The full state of one symbol as of the engine's last event."""
    book = state.book
    windows = engine.config.flow_windows_ns
    return SymbolView(
        symbol=state.symbol,
        last_event_ns=state.last_event_ns,
        counters=state.counters.snapshot(),
        book=book_view(book, levels) if book is not None else None,
        imbalance=_imbalance_view(book) if book is not None else None,
        walls=WallsView(walls(book.bids), walls(book.asks)) if book is not None else None,
        cumulative=flow_view(state.flow.totals),
        windows={
            name: flow_view(state.flow.window(span, engine.clock_ns))
            for name, span in windows.items()
        },
        unclassified_trades=state.flow.unclassified_trades,
        candles={
            name: [candle_view(candle) for candle in series.closed]
            for name, series in state.candles.items()
        },
        late_trades={name: series.late_trades for name, series in state.candles.items()},
        ticker=state.ticker.fields,
    )


def _imbalance_view(book: OrderBook) -> ImbalanceView:
    values = imbalance(book)
    return ImbalanceView(values, values.label)


def engine_view(engine: Engine, levels: int = DEFAULT_LEVELS) -> dict[str, object]:
    """Every symbol's state (sorted by symbol) plus engine-wide counters."""
    return {
        "clock_ns": engine.clock_ns,
        "frames": engine.frames,
        "malformed": dict(sorted(engine.malformed.items())),
        "symbols": {
            name: symbol_view(engine, engine.symbols[name], levels)
            for name in sorted(engine.symbols)
        },
    }
