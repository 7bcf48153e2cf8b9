"""Strategies: what to do about one symbol now, as intents. A strategy never talks to a venue.

The trading core (`trader.Trader`) builds a `MarketView` of a symbol (event time, book top, the
signals' score, regimes and context factors, the symbol's state machine and position) and asks
the strategy; the strategy answers with `Decision`s without client ids: the core gives each one
its id, passes it through the risk engine and only then to the execution client. The same
strategy object runs live, on paper and in backtests, on event time only.

`ReferenceStrategy` is the original system's idea made concrete (README "Trading"): enter on
score confluence above a threshold in allowed regimes, PostOnly at our touch or a market order,
a stop from ATR or spread multiples, a take profit at a reward/risk multiple, a time stop, an exit
on signal reversal, and the symbol's cooldown (kept by its state machine).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from scalper.settings import StrategySettings
from scalper.trading._tap import ScoreGate
from scalper.trading.machine import MachineState
from scalper.trading.orders import BUY, SELL, OrderType, TimeInForce

NS_PER_S = 1_000_000_000


class MarketView(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol as a strategy sees it at event time `ts_ns`."""

    ts_ns: int
    symbol: str
    bid: float | None
    ask: float | None
    bid_qty: float
    ask_qty: float
    in_sync: bool
    tick_size: float
    score: float | None
    """The signals' score in [-1, 1]; None while warming up."""
    direction: int
    """BUY, SELL or 0, as the score's direction threshold says."""
    confluence: int
    regimes: dict[str, str]
    atr_bps: float | None
    """ATR(14) of 1m candles in bps of the close; None until it has its candles."""
    state: MachineState
    position: float
    """Signed position (positive long)."""
    entry_price: float | None
    """Average entry price of the position."""
    entry_ns: int
    """Event time the position (or the pending entry) began."""
    stop_price: float | None
    take_profit: float | None
    order_age_ns: int | None
    """How long the order the machine owns has been out (None: no order)."""

    @property
    def mid(self) -> float | None:
        return None if self.bid is None or self.ask is None else (self.bid + self.ask) / 2

    @property
    def spread(self) -> float | None:
        return None if self.bid is None or self.ask is None else self.ask - self.bid


class Enter(msgspec.Struct, frozen=True, kw_only=True):
    """Open a position on `side`; the risk engine sizes it from the stop distance."""

    side: int
    stop_price: float
    take_profit: float | None = None
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.POST_ONLY
    price: float | None = None
    reason: str = ""


class Exit(msgspec.Struct, frozen=True, kw_only=True):
    """Close the position (reduce-only)."""

    reason: str
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.IOC
    price: float | None = None


class CancelEntry(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel the open entry order (timed out, or its signal went away)."""

    reason: str


Decision = Enter | Exit | CancelEntry


class Strategy(Protocol):
    """Decides about one symbol; must be deterministic in its inputs (no clock, no I/O)."""

    name: str

    def decide(self, view: MarketView) -> Decision | None:
        """What to do now, or None to do nothing."""
        ...


class EntryGate(Protocol):
    """Optional, for speed: a strategy may also have `entry_gate(score, confluence) -> bool`,
    a cheap test the trading core runs at the signals' cadence before it builds a scanning
    symbol's `MarketView`; False means `decide` would not enter now."""

    def entry_gate(self, score: float | None, confluence: int) -> bool: ...


class ReferenceStrategy:
    """Score confluence in allowed regimes; stops from ATR or spreads; time stop; reversal."""

    name = "reference"

    def __init__(self, settings: StrategySettings | None = None) -> None:
        self.settings = settings = settings or StrategySettings()
        self._entry_timeout_ns = round(settings.entry_timeout_s * NS_PER_S)
        self._time_stop_ns = round(settings.time_stop_s * NS_PER_S)
        self.entry_gate = ScoreGate(settings.enter_score, settings.min_confluence)
        """Whether the signals alone allow an entry (the rest `decide` checks): a compiled
        `EntryGate`, which the trading core's tap calls in C at the signals' cadence."""

    def decide(self, view: MarketView) -> Decision | None:
        state = view.state
        if state is MachineState.SCANNING:
            return self._entry(view)
        if state is MachineState.POSITION_ENTRY:
            return self._waiting_entry(view)
        if state is MachineState.IN_POSITION:
            return self._exit(view)
        return None

    # -- entry ----------------------------------------------------------------------------------

    def _entry(self, view: MarketView) -> Enter | None:
        settings = self.settings
        score, mid = view.score, view.mid
        if score is None or mid is None or not view.in_sync or view.direction == 0:
            return None
        if not self.entry_gate(score, view.confluence):
            return None
        if view.regimes.get("volatility") not in settings.allowed_volatility:
            return None
        if view.regimes.get("volume") not in settings.allowed_volume:
            return None
        side = BUY if score > 0 else SELL
        distance, basis = self._stop_distance(view, mid)
        if distance is None:
            return None
        reason = (
            f"score {score:+.2f}, confluence {view.confluence}, regimes "
            f"{view.regimes.get('volatility')}/{view.regimes.get('volume')}, stop {basis}"
        )
        if settings.entry == "market":
            entry = view.ask if side == BUY else view.bid
            assert entry is not None
            return Enter(
                side=side,
                stop_price=entry - side * distance,
                take_profit=entry + side * distance * settings.take_profit_multiple,
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.IOC,
                reason=reason,
            )
        price = view.bid if side == BUY else view.ask
        assert price is not None
        return Enter(
            side=side,
            price=price,
            stop_price=price - side * distance,
            take_profit=price + side * distance * settings.take_profit_multiple,
            reason=reason,
        )

    def _stop_distance(self, view: MarketView, mid: float) -> tuple[float | None, str]:
        """The stop's distance in price, and what it was measured from. ATR while it is warming
        up falls back to spreads; either is floored at `min_stop_bps` and one tick."""
        settings = self.settings
        multiple = settings.stop_multiple
        if settings.stop == "atr" and view.atr_bps is not None and view.atr_bps > 0:
            distance, basis = multiple * view.atr_bps * mid / 1e4, f"{multiple:g} ATR"
        else:
            spread = view.spread
            if spread is None or spread <= 0:
                return None, ""
            distance, basis = multiple * spread, f"{multiple:g} spreads"
        floor = max(settings.min_stop_bps * mid / 1e4, view.tick_size)
        if distance < floor:
            distance, basis = floor, f"floor {settings.min_stop_bps:g} bps"
        return distance, basis

    def _waiting_entry(self, view: MarketView) -> CancelEntry | None:
        age = view.order_age_ns
        if age is not None and age >= self._entry_timeout_ns:
            return CancelEntry(reason=f"entry unfilled after {self.settings.entry_timeout_s:g}s")
        return None

    # -- exit -----------------------------------------------------------------------------------

    def _exit(self, view: MarketView) -> Exit | None:
        position, bid, ask = view.position, view.bid, view.ask
        if position == 0 or bid is None or ask is None or not view.in_sync:
            return None  # a stop applies on the next valid book
        long = position > 0
        exit_price = bid if long else ask  # what a market exit would get first
        stop = view.stop_price
        if stop is not None and (exit_price <= stop if long else exit_price >= stop):
            return Exit(reason=f"stop {stop:g} hit at {exit_price:g}")
        target = view.take_profit
        if target is not None and (exit_price >= target if long else exit_price <= target):
            return Exit(reason=f"take profit {target:g} reached at {exit_price:g}")
        if view.ts_ns - view.entry_ns >= self._time_stop_ns:
            return Exit(reason=f"time stop after {self.settings.time_stop_s:g}s")
        score = view.score
        if score is not None and score * (1 if long else -1) <= -self.settings.exit_score:
            return Exit(reason=f"signal reversed: score {score:+.2f}")
        return None
