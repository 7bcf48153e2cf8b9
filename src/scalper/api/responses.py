"""What the API answers: plain Structs built from engine state (reusing `scalper.views`).

Every function here only reads; each figure is computed from the state as of the engine's last
event, except ages, which compare the last receive time with the wall clock `now_ns`.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from scalper.engine import Engine, SymbolCounters, SymbolState
from scalper.events import BUY, SELL, Level, TickerFields, Trade
from scalper.feed import LiveFeed
from scalper.metrics import imbalance
from scalper.views import CandleView, FlowView, ImbalanceView, candle_view, flow_view

ONE_MINUTE_NS: Final = 60_000_000_000
FIVE_MINUTES_NS: Final = 300_000_000_000

SortColumn = Literal[
    "symbol",
    "mid",
    "spread_bps",
    "imbalance",
    "delta_1m",
    "volume_5m",
    "last_update_age_ms",
    "sync_state",
]


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error the API returns: a message a user can act on (plus details for 422)."""

    message: str
    detail: list[dict[str, Any]] | None = None


class SymbolRow(msgspec.Struct):
    """One line of the symbol table."""

    symbol: str
    mid: float | None
    spread_bps: float | None
    imbalance: float | None
    """Top-10-level imbalance: bid / (bid + ask)."""
    delta_1m: float
    volume_5m: float
    last_update_age_ms: float | None
    """Wall-clock time since the last frame was received (the last venue event time without a
    live feed); None before the first frame."""
    sync_state: str


class SymbolsView(msgspec.Struct):
    count: int
    symbols: list[SymbolRow]


class BasicView(msgspec.Struct):
    """Top of book, spread, imbalance set, flow totals and the last update of one symbol."""

    symbol: str
    sync_state: str
    out_of_sync_reason: str | None
    best_bid: Level | None
    best_ask: Level | None
    mid: float | None
    spread: float | None
    spread_bps: float | None
    microprice: float | None
    imbalance: ImbalanceView | None
    cumulative: FlowView
    windows: dict[str, FlowView]
    last_event_ns: int
    last_update_age_ms: float | None
    counters: SymbolCounters
    ticker: TickerFields


class CandlesView(msgspec.Struct):
    symbol: str
    timeframe: str
    candles: list[CandleView]
    """Closed candles, oldest first."""
    forming: CandleView | None


class TradeView(msgspec.Struct):
    symbol: str
    price: float
    size: float
    side: str
    """Aggressor side as the venue gave it: buy, sell or unknown."""
    notional: float
    ts_event_ns: int
    recv_ns: int
    trade_id: str
    large: bool


class TradesView(msgspec.Struct):
    count: int
    trades: list[TradeView]
    """Newest first."""


def sync_state(state: SymbolState) -> str:
    return state.book.state.value if state.book is not None else "no_book"


def last_recv_ns(state: SymbolState, feed: LiveFeed | None) -> int:
    """When the symbol's last frame arrived (its last venue event time without a feed)."""
    if feed is not None:
        stats = feed.symbol_stats.get(state.symbol)
        if stats is not None and stats.last_recv_ns:
            return stats.last_recv_ns
    return state.last_event_ns


def age_ms(since_ns: int, now_ns: int) -> float | None:
    return max(0.0, (now_ns - since_ns) / 1e6) if since_ns else None


def symbol_row(engine: Engine, state: SymbolState, feed: LiveFeed | None, now_ns: int) -> SymbolRow:
    book = state.book
    clock = engine.clock_ns
    return SymbolRow(
        symbol=state.symbol,
        mid=book.mid() if book is not None else None,
        spread_bps=book.spread_bps() if book is not None else None,
        imbalance=imbalance(book).top10 if book is not None else None,
        delta_1m=state.flow.window(ONE_MINUTE_NS, clock).delta,
        volume_5m=state.flow.window(FIVE_MINUTES_NS, clock).volume,
        last_update_age_ms=age_ms(last_recv_ns(state, feed), now_ns),
        sync_state=sync_state(state),
    )


def sort_rows(rows: list[SymbolRow], sort: str) -> list[SymbolRow]:
    """Sort by a column ('-' prefix: descending); missing values (None) always come last."""
    descending = sort.startswith("-")
    column = sort.lstrip("-")
    present = [row for row in rows if getattr(row, column) is not None]
    missing = [row for row in rows if getattr(row, column) is None]
    present.sort(key=lambda row: (getattr(row, column), row.symbol), reverse=descending)
    return present + missing


def basic_view(engine: Engine, state: SymbolState, feed: LiveFeed | None, now_ns: int) -> BasicView:
    book = state.book
    values = imbalance(book) if book is not None else None
    return BasicView(
        symbol=state.symbol,
        sync_state=sync_state(state),
        out_of_sync_reason=book.out_of_sync_reason if book is not None else None,
        best_bid=book.best_bid() if book is not None else None,
        best_ask=book.best_ask() if book is not None else None,
        mid=book.mid() if book is not None else None,
        spread=book.spread() if book is not None else None,
        spread_bps=book.spread_bps() if book is not None else None,
        microprice=book.microprice() if book is not None else None,
        imbalance=ImbalanceView(values, values.label) if values is not None else None,
        cumulative=flow_view(state.flow.totals),
        windows={
            name: flow_view(state.flow.window(span, engine.clock_ns))
            for name, span in engine.config.flow_windows_ns.items()
        },
        last_event_ns=state.last_event_ns,
        last_update_age_ms=age_ms(last_recv_ns(state, feed), now_ns),
        counters=state.counters.snapshot(),
        ticker=state.ticker.fields,
    )


def candles_view(state: SymbolState, timeframe: str, limit: int) -> CandlesView:
    series = state.candles[timeframe]
    closed = list(series.closed)[-limit:]
    forming = series.forming
    return CandlesView(
        symbol=state.symbol,
        timeframe=timeframe,
        candles=[candle_view(candle) for candle in closed],
        forming=candle_view(forming) if forming is not None else None,
    )


_SIDE_NAMES: Final = {BUY: "buy", SELL: "sell"}


def trade_view(trade: Trade, large_notional: float) -> TradeView:
    notional = trade.price * trade.size
    return TradeView(
        symbol=trade.symbol,
        price=trade.price,
        size=trade.size,
        side=_SIDE_NAMES.get(trade.side, "unknown"),
        notional=notional,
        ts_event_ns=trade.ts_event_ns,
        recv_ns=trade.recv_ns,
        trade_id=trade.trade_id,
        large=notional >= large_notional,
    )


def recent_trades(state: SymbolState, engine: Engine, limit: int) -> TradesView:
    threshold = engine.config.large_trade_notional
    trades = list(state.recent_trades)[-limit:]
    trades.reverse()
    return TradesView(len(trades), [trade_view(trade, threshold) for trade in trades])


def monitor_trades(engine: Engine, limit: int, large_only: bool) -> TradesView:
    """Newest trades across symbols: each symbol's tape plus the large-trade ring (which keeps
    large trades longer than the tapes do), without duplicates."""
    threshold = engine.config.large_trade_notional
    seen: set[tuple[str, str, int]] = set()
    merged: list[Trade] = []
    sources: list[Trade] = [large.trade for large in engine.large_trades]
    if not large_only:
        for state in engine.symbols.values():
            sources.extend(state.recent_trades)
    for trade in sources:
        key = (trade.symbol, trade.trade_id, trade.ts_event_ns)
        if key not in seen:
            seen.add(key)
            merged.append(trade)
    merged.sort(key=lambda trade: (trade.ts_event_ns, trade.symbol), reverse=True)
    views = [trade_view(trade, threshold) for trade in merged[:limit]]
    return TradesView(len(views), views)
