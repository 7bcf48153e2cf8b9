"""What the API answers: plain Structs built from engine state (reusing `scalper.views`).

Every function here only reads; each figure is computed from the state as of the engine's last
event, except ages, which compare the last receive time with the wall clock `now_ns`.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from scalper.book import OrderBook
from scalper.engine import Engine, SymbolCounters, SymbolState
from scalper.events import BUY, SELL, Instrument, Level, TickerFields, Trade
from scalper.feed_status import MarketFeed
from scalper.metrics import Imbalance, imbalance
from scalper.numbers import clean, on_step
from scalper.signals import SignalEngine
from scalper.views import (
    CandleView,
    FlowView,
    ImbalanceView,
    candle_view,
    flow_view,
    top_of_book,
)

ROW_COLUMNS: Final = (
    "symbol",
    "mid",
    "spread_bps",
    "imbalance",
    "score",
    "confluence",
    "direction",
    "volatility_regime",
    "trend_regime",
    "volume_regime",
    "last_update_age_ms",
    "sync_state",
)
"""Sortable columns of a symbol row; `delta_<window>` and `volume_<window>` sort by a flow
window's figure (one per configured window)."""
BASIC_LEVELS: Final = 25
"""Levels a side in `/basic`'s `orderbook`."""
BASIC_TRADES: Final = 20
"""Recent trades in `/basic`'s `trades`."""


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
    delta: dict[str, float]
    """Aggressor buy minus sell volume (coin units) over each configured flow window."""
    volume: dict[str, float]
    """Traded volume (coin units) over each configured flow window."""
    delta_quote: dict[str, float]
    """Aggressor buy minus sell notional (quote currency, e.g. USDT) over each window."""
    volume_quote: dict[str, float]
    """Traded notional (quote currency) over each window."""
    delta_usd: dict[str, float]
    """`delta_quote` under a clear name: buy minus sell notional in USD(T), per window."""
    volume_usd: dict[str, float]
    """`volume_quote` under a clear name: traded notional in USD(T), per window."""
    tick_size: str | None
    """The venue's price step (None when not known, e.g. in a replay)."""
    qty_step: str | None
    min_qty: str | None
    last_update_age_ms: float | None
    """Wall-clock time since the last frame was received (the last venue event time without a
    live feed); None before the first frame."""
    sync_state: str
    score: float | None = None
    """The signal score in [-1, 1] (None while warming up or with signals off)."""
    direction: str | None = None
    """long, short or flat (None with signals off)."""
    confluence: int | None = None
    volatility_regime: str | None = None
    trend_regime: str | None = None
    volume_regime: str | None = None


class SymbolsView(msgspec.Struct):
    count: int
    symbols: list[SymbolRow]


class TradeView(msgspec.Struct):
    symbol: str
    price: float
    size: float
    side: str
    """Aggressor side as the venue gave it: buy, sell or unknown."""
    notional: float
    """price * size in quote currency, to 10 significant digits (no float noise)."""
    ts_event_ns: int
    recv_ns: int
    trade_id: str
    large: bool


class TradesView(msgspec.Struct):
    count: int
    trades: list[TradeView]
    """Newest first."""


class OrderbookView(msgspec.Struct, rename={"last_update_at": "lastUpdateAt"}):
    """The book as the replaced system's runbooks read it (`.orderbook.bids | length`)."""

    bids: list[Level]
    """Best first, at most BASIC_LEVELS."""
    asks: list[Level]
    last_update_at: int
    """Epoch milliseconds (venue time) of the last book update applied; 0 before any."""


class TradesSummary(msgspec.Struct):
    """Recent trades and the flow they make (the replaced system's `.trades`)."""

    recent: list[TradeView]
    """Newest first, at most BASIC_TRADES."""
    cumulative: FlowView
    windows: dict[str, FlowView]


class BasicView(msgspec.Struct, omit_defaults=True):
    """Top of book, spread, imbalance set, flow totals and the last update of one symbol;
    `/basic` adds `orderbook` and `trades` (the WebSocket stream's state omits them)."""

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
    tick_size: str | None
    """The venue's price step; prices are rounded to its decimals (None when not known)."""
    qty_step: str | None
    min_qty: str | None
    orderbook: OrderbookView | None = None
    trades: TradesSummary | None = None


class CandlesView(msgspec.Struct):
    symbol: str
    timeframe: str
    candles: list[CandleView]
    """Closed candles, oldest first."""
    forming: CandleView | None


def sync_state(state: SymbolState) -> str:
    return state.book.state.value if state.book is not None else "no_book"


def last_recv_ns(state: SymbolState, feed: MarketFeed | None) -> int:
    """When the symbol's last frame arrived (its last venue event time without a feed)."""
    if feed is not None:
        stats = feed.symbol_stats.get(state.symbol)
        if stats is not None and stats.last_recv_ns:
            return stats.last_recv_ns
    return state.last_event_ns


def age_ms(since_ns: int, now_ns: int) -> float | None:
    return max(0.0, (now_ns - since_ns) / 1e6) if since_ns else None


def instrument_of(state: SymbolState, feed: MarketFeed | None) -> Instrument | None:
    return feed.instruments.get(state.symbol) if feed is not None else None


def symbol_row(
    engine: Engine,
    state: SymbolState,
    feed: MarketFeed | None,
    now_ns: int,
    signals: SignalEngine | None = None,
) -> SymbolRow:
    book = state.book
    clock = engine.clock_ns
    windows = {
        name: flow_view(state.flow.window(span, clock))
        for name, span in engine.config.flow_windows_ns.items()
    }
    instrument = instrument_of(state, feed)
    top = top_of_book(book, instrument.tick_size if instrument else None)
    summary = signals.summary(state.symbol) if signals is not None else None
    return SymbolRow(
        symbol=state.symbol,
        mid=top.mid,
        spread_bps=top.spread_bps,
        imbalance=on_step(imbalance(book).top10, IMBALANCE_DECIMALS) if book is not None else None,
        delta={name: flow.delta for name, flow in windows.items()},
        volume={name: flow.volume for name, flow in windows.items()},
        delta_quote={name: flow.delta_quote for name, flow in windows.items()},
        volume_quote={name: flow.volume_quote for name, flow in windows.items()},
        delta_usd={name: flow.delta_quote for name, flow in windows.items()},
        volume_usd={name: flow.volume_quote for name, flow in windows.items()},
        tick_size=instrument.tick_size if instrument else None,
        qty_step=instrument.qty_step if instrument else None,
        min_qty=instrument.min_qty if instrument else None,
        last_update_age_ms=age_ms(last_recv_ns(state, feed), now_ns),
        sync_state=sync_state(state),
        score=summary.score if summary is not None else None,
        direction=summary.direction if summary is not None else None,
        confluence=summary.confluence if summary is not None else None,
        volatility_regime=summary.regimes["volatility"] if summary is not None else None,
        trend_regime=summary.regimes["trend"] if summary is not None else None,
        volume_regime=summary.regimes["volume"] if summary is not None else None,
    )


def sort_keys(flow_windows: tuple[str, ...]) -> list[str]:
    """Every accepted `sort` value: a column or a window's figure, '-' for descending."""
    columns = [
        *ROW_COLUMNS,
        *(f"{figure}_{window}" for figure in _FLOW_FIGURES for window in flow_windows),
    ]
    return [f"{sign}{column}" for column in columns for sign in ("", "-")]


_FLOW_FIGURES: Final = ("delta", "volume", "delta_quote", "volume_quote", "delta_usd", "volume_usd")


def _value(row: SymbolRow, column: str) -> object:
    figure, _, window = column.rpartition("_")
    if figure in _FLOW_FIGURES:
        return getattr(row, figure).get(window)
    return getattr(row, column)


def sort_rows(rows: list[SymbolRow], sort: str) -> list[SymbolRow]:
    """Sort by a column ('-' prefix: descending); missing values (None) always come last."""
    descending = sort.startswith("-")
    column = sort.lstrip("-")
    keyed = [(_value(row, column), row) for row in rows]
    present = [(value, row) for value, row in keyed if value is not None]
    missing = [row for value, row in keyed if value is None]
    present.sort(key=lambda pair: (pair[0], pair[1].symbol), reverse=descending)
    return [row for _, row in present] + missing


def basic_view(
    engine: Engine,
    state: SymbolState,
    feed: MarketFeed | None,
    now_ns: int,
    with_book_and_trades: bool = False,
) -> BasicView:
    """The symbol's basic view; `with_book_and_trades` adds `orderbook` and `trades`."""
    book = state.book
    values = imbalance(book) if book is not None else None
    windows = {
        name: flow_view(state.flow.window(span, engine.clock_ns))
        for name, span in engine.config.flow_windows_ns.items()
    }
    cumulative = flow_view(state.flow.totals)
    instrument = instrument_of(state, feed)
    top = top_of_book(book, instrument.tick_size if instrument else None)
    return BasicView(
        symbol=state.symbol,
        sync_state=sync_state(state),
        out_of_sync_reason=book.out_of_sync_reason if book is not None else None,
        best_bid=top.best_bid,
        best_ask=top.best_ask,
        mid=top.mid,
        spread=top.spread,
        spread_bps=top.spread_bps,
        microprice=top.microprice,
        imbalance=_imbalance_view(values) if values is not None else None,
        cumulative=cumulative,
        windows=windows,
        last_event_ns=state.last_event_ns,
        last_update_age_ms=age_ms(last_recv_ns(state, feed), now_ns),
        counters=state.counters.snapshot(),
        ticker=state.ticker.fields,
        tick_size=instrument.tick_size if instrument else None,
        qty_step=instrument.qty_step if instrument else None,
        min_qty=instrument.min_qty if instrument else None,
        orderbook=orderbook_view(book) if with_book_and_trades else None,
        trades=(
            TradesSummary(recent_trades(state, engine, BASIC_TRADES).trades, cumulative, windows)
            if with_book_and_trades
            else None
        ),
    )


IMBALANCE_DECIMALS: Final = 6
"""Imbalance ratios are served to this many decimals (the symbol row's too)."""


def _imbalance_view(values: Imbalance) -> ImbalanceView:
    """The imbalance set rounded to IMBALANCE_DECIMALS (0.4992 not 0.49936203393034356); the
    pressure label is the unrounded top10's."""
    rounded = Imbalance(*(round(v, IMBALANCE_DECIMALS) for v in msgspec.structs.astuple(values)))
    return ImbalanceView(rounded, values.label)


def orderbook_view(book: OrderBook | None) -> OrderbookView:
    if book is None:
        return OrderbookView([], [], 0)
    return OrderbookView(
        book.bids.top(BASIC_LEVELS), book.asks.top(BASIC_LEVELS), book.ts_event_ns // 1_000_000
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
    notional = clean(trade.price * trade.size)
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
