"""Footprint candles: per candle, the volume bought and sold by aggressors at each price level.

    footprints = Footprints(settings.footprint, {"BTCUSDT": "0.1"})   # tick sizes
    engine.add_tap(TradeTap(footprints.on_trades))                  # before a feed takes entry()
    footprints.view("BTCUSDT", limit=10)                            # FootprintsView

Levels are `ticks_per_level` ticks of the symbol (the trade price rounded to the nearest level;
without a known tick size, the first trade's last price digit is the tick); a trade whose
aggressor side is unknown counts in neither column. Candles start at multiples of
the timeframe (UTC epoch) and are cut by event time: a trade of a later candle starts it, and a
candle is closed once the engine's clock passed its end (`view(..., now_ns)`).

Each symbol also keeps its session volume profile (the ladder's volume at each price): buy and
sell volume per level since 00:00 UTC of the trades' event time (since its first trade when that
is later). `profile(symbol, center, levels)` serves the levels within `levels` levels of a price.

Bounded: a candle's levels, and the session's, are one C array of (buy, sell) doubles over
consecutive levels (16 bytes a level). A candle spans at most `max_levels` levels: a trade that
would widen it beyond them counts in the candle's totals and `overflow`. The session spans at
most `session_levels`: a trade beyond them moves the span to it, and the levels that fall out
on the far side move to `evicted`. `candles` candles per symbol (the oldest goes), symbols as
tracked: at most `(candles * max_levels + session_levels) * 16` bytes a symbol (208 KB by
default). Cost: compiled (`scalper._footprint`): per trade batch one C call, per trade two array
updates in C.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from scalper._footprint import Candle, Span, SymbolFootprints, TradeCounter
from scalper.settings import FootprintSettings


class FootprintLevel(msgspec.Struct, frozen=True):
    price: float
    buy: float
    """Volume of buy-aggressor trades at the level (lifting the ask)."""
    sell: float


class FootprintCandle(msgspec.Struct, frozen=True, kw_only=True):
    start_ns: int
    end_ns: int
    closed: bool
    buy: float
    sell: float
    delta: float
    """buy - sell."""
    poc: float | None
    """Point of control: the level with the most volume (the lowest price on a tie)."""
    trades: int
    overflow: float
    """Volume at levels beyond `footprint.max_levels` (in buy and sell, in no level)."""
    levels: list[FootprintLevel]
    """By price, lowest first."""


class FootprintsView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    timeframe: str
    level_size: float
    """The price span of a level: the venue's tick size times `ticks_per_level` (the tick
    inferred from the first trade's price digits when the venue gave none)."""
    candles: list[FootprintCandle]
    """Oldest first; the last may be forming (`closed` false)."""


class SessionProfileView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    since_ns: int | None
    """The session's first trade (event time): 00:00 UTC or later; None before any."""
    level_size: float | None
    """As in `FootprintsView` (None: no trade of the symbol seen)."""
    buy: float
    """The session's buy-aggressor volume (all levels, evicted ones included)."""
    sell: float
    evicted: float
    """Volume of levels dropped to stay within `footprint.session_levels` (far from the price)."""
    levels: list[FootprintLevel]
    """The levels asked for, by price, lowest first."""


class Footprints(TradeCounter):
    """The footprint candles of every symbol whose trades it is given (`on_trades`, `on_event`:
    compiled, in `TradeCounter`)."""

    def __init__(
        self, settings: FootprintSettings | None = None, tick_sizes: Mapping[str, str] = {}
    ) -> None:
        """`tick_sizes`: the venue's tick size string per symbol (for a symbol without one, the
        last digit of its first trade's price is the tick)."""
        settings = settings or FootprintSettings()
        super().__init__(settings.timeframe_ns, settings.max_levels, settings.session_levels)
        self.settings = settings
        self.tick_sizes = dict(tick_sizes)

    def _new_symbol(self, symbol: str, price: float) -> SymbolFootprints:
        tick = self.tick_sizes.get(symbol)
        if tick is None:  # the last digit of the first price (Bybit prints prices by tick)
            tick = str(Decimal(1).scaleb(Decimal(repr(price)).as_tuple().exponent))
        step = Decimal(tick) * self.settings.ticks_per_level
        decimals = max(-step.normalize().as_tuple().exponent, 0)  # type: ignore[operator]
        return SymbolFootprints(self.settings.candles, float(step), decimals)

    def view(self, symbol: str, limit: int, now_ns: int) -> FootprintsView | None:
        """The last `limit` candles of `symbol` (None: no trade seen); `now_ns`, the engine's
        event time, decides which are closed."""
        entry = self.symbols.get(symbol)
        if entry is None:
            return None
        kept = list(entry.candles)[-limit:]
        return FootprintsView(
            symbol=symbol,
            timeframe=self.settings.timeframe,
            level_size=entry.level_size,
            candles=[_candle_view(candle, entry, now_ns) for candle in kept],
        )

    def profile(self, symbol: str, center: float | None, levels: int) -> SessionProfileView:
        """The session profile of `symbol` within `levels` levels of the price `center` (empty
        before its first trade)."""
        entry = self.symbols.get(symbol)
        if entry is None or entry.session is None or center is None:
            size = entry.level_size if entry is not None else None
            empty = dict(buy=0.0, sell=0.0, evicted=0.0, levels=[])
            return SessionProfileView(symbol=symbol, since_ns=None, level_size=size, **empty)
        session, size = entry.session, entry.level_size
        middle = math.floor(center / size + 0.5)
        return SessionProfileView(
            symbol=symbol,
            since_ns=session.since_ns,
            level_size=size,
            buy=session.buy,
            sell=session.sell,
            evicted=session.evicted,
            levels=_levels(session, size, entry.decimals, middle - levels, middle + levels),
        )


def _levels(
    span: Span, size: float, decimals: int, low: int | None = None, high: int | None = None
) -> list[FootprintLevel]:
    """The levels of `span` with volume, lowest first (those from `low` to `high` when given)."""
    volumes, first = span.volumes, span.first
    start = 0 if low is None else max(0, low - first)
    stop = len(volumes) >> 1 if high is None else min(len(volumes) >> 1, high - first + 1)
    return [
        FootprintLevel(
            price=round((first + i) * size, decimals),
            buy=volumes[2 * i],
            sell=volumes[2 * i + 1],
        )
        for i in range(start, stop)
        if volumes[2 * i] or volumes[2 * i + 1]
    ]


def _candle_view(candle: Candle, entry: SymbolFootprints, now_ns: int) -> FootprintCandle:
    levels = _levels(candle, entry.level_size, entry.decimals)
    poc = max(levels, key=lambda level: (level.buy + level.sell, -level.price), default=None)
    return FootprintCandle(
        start_ns=candle.start_ns,
        end_ns=candle.end_ns,
        closed=now_ns >= candle.end_ns,
        buy=candle.buy,
        sell=candle.sell,
        delta=candle.buy - candle.sell,
        poc=poc.price if poc is not None else None,
        trades=candle.trades,
        overflow=candle.overflow,
        levels=levels,
    )
