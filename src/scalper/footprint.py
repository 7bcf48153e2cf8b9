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
default). Cost: one Python call per engine event (a type check), two array updates per trade.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from scalper.events import BUY, SELL, TradeBatch
from scalper.settings import FootprintSettings

DAY_NS = 86_400_000_000_000


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


class _Span:
    """Buy and sell volume of consecutive price levels, in one array of doubles, and in all."""

    __slots__ = ("buy", "first", "sell", "volumes")

    def __init__(self) -> None:
        self.first = 0
        """The level index of `volumes[0:2]`."""
        self.volumes = array("d")
        """Buy, sell volume of level `first + i` at `2 * i`, `2 * i + 1` (empty levels: 0)."""
        self.buy = 0.0
        """Buy-aggressor volume of every trade added, in a level or not."""
        self.sell = 0.0

    def add(self, slot: int, side: int, qty: float) -> None:
        """A trade of `side` (BUY or SELL): in the totals, and at the level whose buy volume
        is at `slot` (`slot()`) unless `slot` is -1."""
        if side == BUY:
            self.buy += qty
            if slot >= 0:
                self.volumes[slot] += qty
        else:
            self.sell += qty
            if slot >= 0:
                self.volumes[slot + 1] += qty

    def slot(self, level: int, max_levels: int) -> int:
        """The index of `level`'s buy volume in `volumes`, the span widened to it; -1 when
        that would span more than `max_levels` levels."""
        volumes = self.volumes
        span = len(volumes) >> 1
        if span == 0:
            self.first = level
            volumes.frombytes(bytes(16))
            return 0
        offset = level - self.first
        if offset < 0:
            if span - offset > max_levels:
                return -1
            volumes[0:0] = array("d", bytes(-16 * offset))
            self.first = level
            return 0
        if offset >= span:
            if offset >= max_levels:
                return -1
            volumes.frombytes(bytes(16 * (offset + 1 - span)))
        return offset << 1

    def move_to(self, level: int, max_levels: int) -> float:
        """Drop the levels on the far side of `level` so that a span of `max_levels` levels
        reaches it; returns the volume dropped."""
        volumes = self.volumes
        span = len(volumes) >> 1
        if level < self.first:  # keep the lowest levels up to level + max_levels - 1
            keep = max(0, level + max_levels - self.first)
            dropped = volumes[2 * keep :]
            del volumes[2 * keep :]
        else:  # keep the highest levels down to level - max_levels + 1
            cut = min(span, level - max_levels + 1 - self.first)
            dropped = volumes[: 2 * cut]
            del volumes[: 2 * cut]
            self.first += cut
        if not volumes:
            self.first = level
        return sum(dropped)

    def levels(
        self, size: float, decimals: int, low: int | None = None, high: int | None = None
    ) -> list[FootprintLevel]:
        """The levels with volume, lowest first (those from `low` to `high` when given)."""
        volumes, first = self.volumes, self.first
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


class _Candle(_Span):
    __slots__ = ("end_ns", "overflow", "start_ns", "trades")

    def __init__(self, start_ns: int, end_ns: int) -> None:
        super().__init__()
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.overflow = 0.0
        self.trades = 0


class _Session(_Span):
    __slots__ = ("day", "evicted", "since_ns")

    def __init__(self, day: int, since_ns: int) -> None:
        super().__init__()
        self.day = day
        self.since_ns = since_ns
        self.evicted = 0.0


class _Symbol:
    __slots__ = ("candles", "decimals", "level_size", "session")

    def __init__(self, candles: int, level_size: float, decimals: int) -> None:
        self.candles: deque[_Candle] = deque(maxlen=candles)
        self.level_size = level_size
        self.decimals = decimals
        self.session: _Session | None = None


class Footprints:
    """The footprint candles of every symbol whose trades it is given."""

    def __init__(
        self, settings: FootprintSettings | None = None, tick_sizes: Mapping[str, str] = {}
    ) -> None:
        """`tick_sizes`: the venue's tick size string per symbol (for a symbol without one, the
        last digit of its first trade's price is the tick)."""
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
            trades = batch.trades
            if not trades:
                return
            entry = self.symbols[batch.symbol] = self._new_symbol(batch.symbol, trades[0].price)
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
            level = math.floor(trade.price / size + 0.5)
            slot = candle.slot(level, max_levels)
            if slot < 0:
                candle.overflow += qty
            candle.add(slot, side, qty)
            candle.trades += 1
            if session.day == day:
                _add_to_session(session, level, side, qty, session_levels)

    def _new_symbol(self, symbol: str, price: float) -> _Symbol:
        tick = self.tick_sizes.get(symbol)
        if tick is None:  # the last digit of the first price (Bybit prints prices by tick)
            tick = str(Decimal(1).scaleb(Decimal(repr(price)).as_tuple().exponent))
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
        session, size = entry.session, entry.level_size
        middle = math.floor(center / size + 0.5)
        return SessionProfileView(
            symbol=symbol,
            since_ns=session.since_ns,
            level_size=size,
            buy=session.buy,
            sell=session.sell,
            evicted=session.evicted,
            levels=session.levels(size, entry.decimals, middle - levels, middle + levels),
        )


def _add_to_session(session: _Session, level: int, side: int, qty: float, cap: int) -> None:
    slot = session.slot(level, cap)
    if slot < 0:
        session.evicted += session.move_to(level, cap)
        slot = session.slot(level, cap)
    session.add(slot, side, qty)


def _candle_view(candle: _Candle, entry: _Symbol, now_ns: int) -> FootprintCandle:
    levels = candle.levels(entry.level_size, entry.decimals)
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
