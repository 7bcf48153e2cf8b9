"""Footprint candles: per candle, the volume bought and sold by aggressors at each price level.

    footprints = Footprints(settings.footprint, {"BTCUSDT": "0.1"})   # tick sizes
    engine.add_tap(footprints.on_event)                             # before a feed takes entry()
    footprints.view("BTCUSDT", limit=10)                            # FootprintsView

Levels are `ticks_per_level` ticks of the symbol (the trade price rounded to the nearest level);
a trade whose aggressor side is unknown counts in neither column. Candles start at multiples of
the timeframe (UTC epoch) and are cut by event time: a trade of a later candle starts it, and a
candle is closed once the engine's clock passed its end (`view(..., now_ns)`).

Bounded: `candles` candles per symbol (the oldest goes), at most `max_levels` levels per candle
(a trade at a further level counts in the candle's totals and `overflow`), symbols as tracked.
Cost: one Python call per engine event (a type check), and two dict updates per trade.

Each symbol also keeps its session volume profile (the ladder's volume at each price): buy and
sell volume per level since 00:00 UTC of the trades' event time (since its first trade when that
is later), at most `session_levels` levels; a new level beyond them evicts the level farthest from
the trade's price (its volume moves to `evicted`). `profile(symbol, center, levels)` serves the
levels within `levels` levels of a price.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from scalper.events import BUY, SELL, TradeBatch
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
    level_size: float | None
    """The price span of a level (None: the symbol's tick is unknown; levels are prices)."""
    candles: list[FootprintCandle]
    """Oldest first; the last may be forming (`closed` false)."""


class SessionProfileView(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    since_ns: int | None
    """The session's first trade (event time): 00:00 UTC or later; None before any."""
    level_size: float | None
    buy: float
    """The session's buy-aggressor volume (all levels, evicted ones included)."""
    sell: float
    evicted: float
    """Volume of levels dropped to stay within `footprint.session_levels` (far from the price)."""
    levels: list[FootprintLevel]
    """The levels asked for, by price, lowest first."""


DAY_NS = 86_400_000_000_000


class _Session:
    __slots__ = ("buy", "day", "evicted", "levels", "sell", "since_ns")

    def __init__(self, day: int, since_ns: int) -> None:
        self.day = day
        self.since_ns = since_ns
        self.levels: dict[float, list[float]] = {}
        """Level key -> [buy volume, sell volume]."""
        self.buy = 0.0
        self.sell = 0.0
        self.evicted = 0.0


class _Candle:
    __slots__ = ("buy", "end_ns", "levels", "overflow", "sell", "start_ns", "trades")

    def __init__(self, start_ns: int, end_ns: int) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.levels: dict[int, list[float]] = {}
        """Level index -> [buy volume, sell volume]."""
        self.buy = 0.0
        self.sell = 0.0
        self.overflow = 0.0
        self.trades = 0


class _Symbol:
    __slots__ = ("candles", "decimals", "level_size", "session")

    def __init__(self, candles: int, level_size: float | None, decimals: int) -> None:
        self.candles: deque[_Candle] = deque(maxlen=candles)
        self.level_size = level_size
        self.decimals = decimals
        self.session: _Session | None = None


class Footprints:
    """The footprint candles of every symbol whose trades it is given."""

    def __init__(
        self, settings: FootprintSettings | None = None, tick_sizes: Mapping[str, str] = {}
    ) -> None:
        """`tick_sizes`: the venue's tick size string per symbol (levels of a symbol without
        one are its raw prices)."""
        self.settings = settings = settings or FootprintSettings()
        self.interval_ns = settings.timeframe_ns
        self.tick_sizes = dict(tick_sizes)
        self.symbols: dict[str, _Symbol] = {}
        self.late_trades = 0
        """Trades of a candle no longer kept (out of order by more than the history)."""

    def on_event(self, event: object) -> None:
        """An engine event: trade batches are counted, everything else ignored."""
        if type(event) is TradeBatch:
            self.on_trades(event)  # type: ignore[arg-type]

    def on_trades(self, batch: TradeBatch) -> None:
        entry = self.symbols.get(batch.symbol)
        if entry is None:
            entry = self.symbols[batch.symbol] = self._new_symbol(batch.symbol)
        candles, interval = entry.candles, self.interval_ns
        size = entry.level_size
        max_levels = self.settings.max_levels
        session_levels = self.settings.session_levels
        session = entry.session
        for trade in batch.trades:
            side = trade.side
            if side != BUY and side != SELL:
                continue
            day = trade.ts_event_ns // DAY_NS
            if session is None or session.day < day:
                session = entry.session = _Session(day, trade.ts_event_ns)
            start = trade.ts_event_ns - trade.ts_event_ns % interval
            candle = candles[-1] if candles else None
            if candle is None or candle.start_ns < start:
                candle = _Candle(start, start + interval)
                candles.append(candle)
            elif candle.start_ns > start:
                candle = next((c for c in candles if c.start_ns == start), None)
                if candle is None:
                    self.late_trades += 1
                    continue
            qty = trade.size
            key = math.floor(trade.price / size + 0.5) if size is not None else trade.price
            level = candle.levels.get(key)  # type: ignore[call-overload]
            if level is None:
                if len(candle.levels) >= max_levels:
                    candle.overflow += qty
                else:
                    level = candle.levels[key] = [0.0, 0.0]  # type: ignore[index]
            if side == BUY:
                candle.buy += qty
                if level is not None:
                    level[0] += qty
            else:
                candle.sell += qty
                if level is not None:
                    level[1] += qty
            candle.trades += 1
            if session.day == day:
                _add_to_session(session, key, side, qty, session_levels)

    def _new_symbol(self, symbol: str) -> _Symbol:
        tick = self.tick_sizes.get(symbol)
        if tick is None:
            return _Symbol(self.settings.candles, None, 12)
        step = Decimal(tick) * self.settings.ticks_per_level
        decimals = max(-step.normalize().as_tuple().exponent, 0)  # type: ignore[operator]
        return _Symbol(self.settings.candles, float(step), decimals)

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
        session, size, decimals = entry.session, entry.level_size, entry.decimals
        middle = math.floor(center / size + 0.5) if size is not None else center
        span = levels if size is not None else levels * max(abs(center) * 1e-4, 1e-12)
        return SessionProfileView(
            symbol=symbol,
            since_ns=session.since_ns,
            level_size=size,
            buy=session.buy,
            sell=session.sell,
            evicted=session.evicted,
            levels=[
                FootprintLevel(
                    price=round(key * size, decimals) if size is not None else float(key),
                    buy=volumes[0],
                    sell=volumes[1],
                )
                for key, volumes in sorted(session.levels.items())
                if abs(key - middle) <= span
            ],
        )


def _add_to_session(session: _Session, key: float, side: int, qty: float, cap: int) -> None:
    level = session.levels.get(key)
    if level is None:
        levels = session.levels
        if len(levels) >= cap:
            farthest = max(levels, key=lambda other: abs(other - key))
            dropped = levels.pop(farthest)
            session.evicted += dropped[0] + dropped[1]
        level = levels[key] = [0.0, 0.0]
    if side == BUY:
        session.buy += qty
        level[0] += qty
    else:
        session.sell += qty
        level[1] += qty


def _candle_view(candle: _Candle, entry: _Symbol, now_ns: int) -> FootprintCandle:
    size, decimals = entry.level_size, entry.decimals
    levels = [
        FootprintLevel(
            price=round(key * size, decimals) if size is not None else float(key),
            buy=volumes[0],
            sell=volumes[1],
        )
        for key, volumes in sorted(candle.levels.items())
    ]
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
