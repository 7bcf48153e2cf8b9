"""Footprint candles: per candle, the volume bought and sold by aggressors at each price level.

    footprints = Footprints(settings.footprint, {"BTCUSDT": "0.1"})   # tick sizes
    engine.add_tap(footprints.on_event)                             # before a feed takes entry()
    footprints.view("BTCUSDT", limit=10)                            # FootprintsView

Levels are `ticks_per_level` ticks of the symbol (the trade price rounded to the nearest level;
without a known tick size, the first trade's last price digit is the tick); a trade whose
aggressor side is unknown counts in neither column. Candles start at multiples of
the timeframe (UTC epoch) and are cut by event time: a trade of a later candle starts it, and a
candle is closed once the engine's clock passed its end (`view(..., now_ns)`).

Bounded: `candles` candles per symbol (the oldest goes); a candle's levels are one C array of
(buy, sell) doubles over consecutive levels, at most `max_levels` of them (16 bytes a level: a
trade that would widen the span beyond that counts in the candle's totals and `overflow`),
symbols as tracked. At most `candles * max_levels * 16` bytes a symbol (192 KB by default).
Cost: one Python call per engine event (a type check), and an array update per trade.
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


class _Candle:
    __slots__ = ("buy", "end_ns", "first", "overflow", "sell", "start_ns", "trades", "volumes")

    def __init__(self, start_ns: int, end_ns: int) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.first = 0
        """The level index of `volumes[0:2]`."""
        self.volumes = array("d")
        """Buy, sell volume of level `first + i` at `2 * i`, `2 * i + 1` (consecutive levels,
        empty ones at zero)."""
        self.buy = 0.0
        self.sell = 0.0
        self.overflow = 0.0
        self.trades = 0

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


class _Symbol:
    __slots__ = ("candles", "decimals", "level_size")

    def __init__(self, candles: int, level_size: float, decimals: int) -> None:
        self.candles: deque[_Candle] = deque(maxlen=candles)
        self.level_size = level_size
        self.decimals = decimals


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
        for trade in batch.trades:
            side = trade.side
            if side != BUY and side != SELL:
                continue
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
            slot = candle.slot(math.floor(trade.price / size + 0.5), max_levels)
            if slot < 0:
                candle.overflow += qty
            if side == BUY:
                candle.buy += qty
                if slot >= 0:
                    candle.volumes[slot] += qty
            else:
                candle.sell += qty
                if slot >= 0:
                    candle.volumes[slot + 1] += qty
            candle.trades += 1

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


def _candle_view(candle: _Candle, entry: _Symbol, now_ns: int) -> FootprintCandle:
    size, decimals, first, volumes = entry.level_size, entry.decimals, candle.first, candle.volumes
    levels = [
        FootprintLevel(
            price=round((first + (i >> 1)) * size, decimals), buy=volumes[i], sell=volumes[i + 1]
        )
        for i in range(0, len(volumes), 2)
        if volumes[i] or volumes[i + 1]
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
