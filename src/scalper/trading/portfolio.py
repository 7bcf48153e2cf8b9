"""Positions, P&L, the equity curve and per-trade records, built from fills and funding.

P&L lines are kept apart: realised (price P&L of closed quantity), unrealised (open quantity at
the mark), fees (each fill's own fee, rebates negative) and funding (positive paid). Equity =
starting equity + realised - fees - funding + unrealised.

Arithmetic: what adds up over fills (position sizes, cost basis, realised P&L, fees, funding) is
exact: each float enters as the decimal its text spells (`grid.exact`) and is kept as a
`Fraction` (an average entry price is a ratio, which no decimal holds exactly), so a position
that goes back to zero is exactly zero and realised P&L has no drift. What moves with every
mark (unrealised P&L, MAE/MFE, the equity curve) is float: its rounding is at the 1e-16
relative level of one product, never accumulated.

Average-cost accounting, as Bybit reports positions: adding to a position moves its average
entry price; reducing realises (exit price - average entry) x closed quantity. A fill that
crosses zero (a flip) closes the trade with the part that flattens and opens a new one with the
rest; its fee is split between them pro rata by quantity.

A trade (round trip) starts when a position opens from flat and ends when it is flat again; it
records MAE/MFE (the worst and best excursion while open, per unit of price against the
average entry, and in quote currency as the open P&L), slippage against each order's decision
mid, maker/taker of its entry and exit fills, fees, funding and net P&L.

Pure and event-time driven: no clock, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from typing import Final, NamedTuple

import msgspec

from scalper.settings import TradingSettings
from scalper.trading.grid import exact
from scalper.trading.journal import Journal
from scalper.trading.orders import BUY, SELL, Fill, FundingPayment, Liquidity

ZERO: Final = Fraction(0)


def _fraction(value: float) -> Fraction:
    return Fraction(exact(value))


class Exposure(msgspec.Struct, frozen=True):
    """A position as the risk engine sees it: signed quantity and its mark price."""

    qty: float
    mark: float


class EquityPoint(msgspec.Struct, frozen=True, kw_only=True):
    """The account at `ts_ns` (every event before it counted)."""

    ts_ns: int
    equity: float
    realised: float
    unrealised: float
    fees: float
    funding: float


class PnL(msgspec.Struct, frozen=True, kw_only=True):
    """The P&L lines now; `net` = realised - fees - funding + unrealised."""

    realised: float
    unrealised: float
    fees: float
    funding: float
    net: float
    equity: float


class TradeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One round trip, from flat to flat (or to a flip). Prices are volume-weighted; slippage
    is a cost per unit (positive: worse than the decision mid), None where no fill had a mid."""

    symbol: str
    side: int
    """BUY for a long, SELL for a short."""
    qty: float
    """Quantity entered (and exited) over the trade."""
    entry_ns: int
    exit_ns: int
    holding_ns: int
    entry_price: float
    exit_price: float
    gross_pnl: float
    """Price P&L (realised), before fees and funding."""
    fees: float
    funding: float
    net_pnl: float
    mae_price: float
    """Maximum adverse excursion per unit of price against the average entry (>= 0)."""
    mfe_price: float
    """Maximum favourable excursion per unit (>= 0)."""
    mae_quote: float
    """The worst open P&L while the trade was open, as a loss (>= 0)."""
    mfe_quote: float
    """The best open P&L while the trade was open (>= 0)."""
    entry_slippage: float | None
    exit_slippage: float | None
    slippage_quote: float | None
    """The total cost of slippage in quote currency over the fills with a decision mid."""
    entry_liquidity: str
    """maker, taker or mixed."""
    exit_liquidity: str
    fills: int


class _Account(NamedTuple):
    """The account's closed P&L as floats, kept from the exact sums when they change."""

    realised: float
    fees: float
    funding: float
    closed: float
    """Realised less fees and funding."""
    equity: float
    """Starting equity plus `closed`."""

    @classmethod
    def of(cls, start: Fraction, realised: Fraction, fees: Fraction, funding: Fraction) -> _Account:
        closed = realised - fees - funding
        equity = float(start + closed)
        return cls(float(realised), float(fees), float(funding), float(closed), equity)


class _Position:
    """One symbol's open quantity and cost basis (exact), with float copies for marking."""

    __slots__ = ("avg", "cost", "mark", "qty", "qty_float")

    def __init__(self) -> None:
        self.qty = ZERO
        """Signed."""
        self.cost = ZERO
        """Signed: the open quantity times its average entry price."""
        self.mark: float | None = None
        self.avg = 0.0
        self.qty_float = 0.0

    def sync_floats(self) -> None:
        self.qty_float = float(self.qty)
        self.avg = float(self.cost / self.qty) if self.qty else 0.0

    def unrealised(self) -> float:
        if not self.qty_float or self.mark is None:
            return 0.0
        return self.qty_float * (self.mark - self.avg)


class _SideSums:
    """Fills of one side of a trade (its entry or its exit)."""

    __slots__ = ("liquidity", "notional", "qty", "slip_cost", "slip_qty")

    def __init__(self) -> None:
        self.qty = ZERO
        self.notional = ZERO
        self.slip_qty = ZERO
        self.slip_cost = ZERO
        self.liquidity: set[Liquidity] = set()

    def add(
        self, qty: Fraction, price: Fraction, cost_per_unit: Fraction | None, how: Liquidity
    ) -> None:
        self.qty += qty
        self.notional += qty * price
        self.liquidity.add(how)
        if cost_per_unit is not None:
            self.slip_qty += qty
            self.slip_cost += qty * cost_per_unit

    def vwap(self) -> float:
        return float(self.notional / self.qty) if self.qty else 0.0

    def slippage(self) -> float | None:
        return float(self.slip_cost / self.slip_qty) if self.slip_qty else None

    def liquidity_label(self) -> str:
        if len(self.liquidity) == 1:
            return next(iter(self.liquidity)).value
        return "mixed" if self.liquidity else ""


class _OpenTrade:
    __slots__ = (
        "entry",
        "entry_ns",
        "exit",
        "fees",
        "fills",
        "funding",
        "mae_price",
        "mae_quote",
        "mfe_price",
        "mfe_quote",
        "realised",
        "side",
    )

    def __init__(self, side: int, entry_ns: int) -> None:
        self.side = side
        self.entry_ns = entry_ns
        self.entry = _SideSums()
        self.exit = _SideSums()
        self.realised = ZERO
        self.fees = ZERO
        self.funding = ZERO
        self.fills = 0
        self.mae_price = self.mfe_price = self.mae_quote = self.mfe_quote = 0.0

    def excursion(self, position: _Position, price: float) -> None:
        per_unit = (price - position.avg) * self.side
        self.mfe_price = max(self.mfe_price, per_unit)
        self.mae_price = max(self.mae_price, -per_unit)
        open_pnl = position.qty_float * (price - position.avg)
        self.mfe_quote = max(self.mfe_quote, open_pnl)
        self.mae_quote = max(self.mae_quote, -open_pnl)

    def record(self, symbol: str, exit_ns: int) -> TradeRecord:
        slip_qty = self.entry.slip_qty + self.exit.slip_qty
        return TradeRecord(
            symbol=symbol,
            side=self.side,
            qty=float(self.entry.qty),
            entry_ns=self.entry_ns,
            exit_ns=exit_ns,
            holding_ns=exit_ns - self.entry_ns,
            entry_price=self.entry.vwap(),
            exit_price=self.exit.vwap(),
            gross_pnl=float(self.realised),
            fees=float(self.fees),
            funding=float(self.funding),
            net_pnl=float(self.realised - self.fees - self.funding),
            mae_price=self.mae_price,
            mfe_price=self.mfe_price,
            mae_quote=self.mae_quote,
            mfe_quote=self.mfe_quote,
            entry_slippage=self.entry.slippage(),
            exit_slippage=self.exit.slippage(),
            slippage_quote=(
                float(self.entry.slip_cost + self.exit.slip_cost) if slip_qty else None
            ),
            entry_liquidity=self.entry.liquidity_label(),
            exit_liquidity=self.exit.liquidity_label(),
            fills=self.fills,
        )


class Portfolio:
    """The account built from its fills, funding payments and marks. See the module docstring.

    Bounded: the equity curve keeps `equity_points` points at most one per `equity_interval_ns`
    (oldest dropped); closed trades are a `Journal` of `trade_records` (oldest dropped, counted
    if not drained for recording).
    """

    def __init__(
        self,
        starting_equity: float,
        equity_interval_ns: int = 1_000_000_000,
        equity_points: int = 86_400,
        trade_records: int = 10_000,
    ) -> None:
        self.starting_equity = _fraction(starting_equity)
        self.equity_interval_ns = equity_interval_ns
        self.equity_curve: deque[EquityPoint] = deque(maxlen=equity_points)
        self.trades: Journal[TradeRecord] = Journal(trade_records)
        self._realised = ZERO
        self._fees = ZERO
        self._funding = ZERO
        self._positions: dict[str, _Position] = {}
        self._open: dict[str, _OpenTrade] = {}
        """The open trades: one per symbol whose position is not flat."""
        self._next_sample_ns: int | None = None
        self._account = _Account.of(self.starting_equity, ZERO, ZERO, ZERO)

    @classmethod
    def from_settings(cls, settings: TradingSettings, starting_equity: float) -> Portfolio:
        """A portfolio bounded as `settings` says (the paper account starts from
        `PaperSettings.starting_equity`; a real one from the venue's balance)."""
        return cls(
            starting_equity,
            equity_interval_ns=round(settings.equity_interval_s * 1_000_000_000),
            equity_points=settings.equity_points,
            trade_records=settings.trade_records,
        )

    # -- what happens -----------------------------------------------------------------------

    def apply_fill(self, fill: Fill, decision_mid: float | None = None) -> TradeRecord | None:
        """Book one execution; `decision_mid` is its order's mid at decision time (slippage is
        measured against it). Returns the trade it closed, if it closed one."""
        self.sample(fill.ts_ns)
        try:
            return self._book_fill(fill, decision_mid)
        finally:
            self._account_changed()

    def _book_fill(self, fill: Fill, decision_mid: float | None) -> TradeRecord | None:
        if fill.side not in (BUY, SELL) or not fill.qty > 0:
            raise ValueError(f"a fill needs a side and a positive quantity: {fill}")
        position = self._positions.setdefault(fill.symbol, _Position())
        qty, price, fee = _fraction(fill.qty), _fraction(fill.price), _fraction(fill.fee)
        cost_per_unit = (
            None if decision_mid is None else (price - _fraction(decision_mid)) * fill.side
        )
        self._fees += fee
        if position.mark is None:
            position.mark = fill.price
        trade = self._open.get(fill.symbol)
        if trade is not None:
            trade.excursion(position, fill.price)
        if position.qty == ZERO or (position.qty > 0) == (fill.side == BUY):
            self._add(fill, position, qty, price, fee, cost_per_unit)
            return None
        closing = min(qty, abs(position.qty))
        closing_fee = fee * closing / qty
        closed = self._reduce(fill, position, closing, price, closing_fee, cost_per_unit)
        if closing < qty:
            self._add(fill, position, qty - closing, price, fee - closing_fee, cost_per_unit)
        return closed

    def restore(
        self,
        realised: float,
        fees: float,
        funding: float,
        positions: Iterable[tuple[str, float, float, int]],
    ) -> None:
        """A restart: the account's realised P&L, fees and funding and its open positions
        (symbol, signed qty, average price, entry time) as the store kept them. Each position
        opens a trade at its average price; the trade's entry fees stay in the account's."""
        if self._positions or self._open:
            raise ValueError("restore() on a portfolio that has seen fills")
        for symbol, qty, price, entry_ns in positions:
            side = BUY if qty > 0 else SELL
            self.apply_fill(
                Fill(
                    client_id="restored",
                    symbol=symbol,
                    side=side,
                    price=price,
                    qty=abs(qty),
                    fee=0.0,
                    liquidity=Liquidity.MAKER,
                    ts_ns=entry_ns,
                )
            )
        self._realised, self._fees = _fraction(realised), _fraction(fees)
        self._funding = _fraction(funding)
        self._account_changed()

    def apply_funding(self, payment: FundingPayment) -> None:
        """A funding settlement: a cost (or income) of the account and of the open trade."""
        self.sample(payment.ts_ns)
        amount = _fraction(payment.amount)
        self._funding += amount
        self._account_changed()
        trade = self._open.get(payment.symbol)
        if trade is not None:
            trade.funding += amount

    def mark(self, symbol: str, price: float, ts_ns: int) -> None:
        """The symbol's mark price (the trading core passes the mid by default); moves
        unrealised P&L and the open trade's excursions."""
        self.sample(ts_ns)
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = _Position()
        position.mark = price
        trade = self._open.get(symbol)
        if trade is not None:
            trade.excursion(position, price)

    def sample(self, ts_ns: int) -> None:
        """Event time reached `ts_ns`: append an equity point for the latest interval boundary
        passed, holding the account as of that boundary (every earlier event counted). Called
        by every event method; call it on time passing without events too."""
        if self._next_sample_ns is not None and ts_ns < self._next_sample_ns:
            return
        boundary = ts_ns - ts_ns % self.equity_interval_ns
        pnl = self.pnl()
        self.equity_curve.append(
            EquityPoint(
                ts_ns=boundary,
                equity=pnl.equity,
                realised=pnl.realised,
                unrealised=pnl.unrealised,
                fees=pnl.fees,
                funding=pnl.funding,
            )
        )
        self._next_sample_ns = boundary + self.equity_interval_ns

    # -- what the core reads ----------------------------------------------------------------

    def pnl(self) -> PnL:
        unrealised = self._unrealised()
        account = self._account
        return PnL(
            realised=account.realised,
            unrealised=unrealised,
            fees=account.fees,
            funding=account.funding,
            net=account.closed + unrealised,
            equity=account.equity + unrealised,
        )

    @property
    def equity(self) -> float:
        """`pnl().equity`. Hot (the risk engine reads it on every mark of an open position):
        the closed part is kept as a float and only open positions are summed."""
        return self._account.equity + self._unrealised()

    def _unrealised(self) -> float:
        positions = self._positions
        return sum(positions[symbol].unrealised() for symbol in self._open)

    def _account_changed(self) -> None:
        self._account = _Account.of(self.starting_equity, self._realised, self._fees, self._funding)

    def position(self, symbol: str) -> float:
        """Signed position of `symbol` (0.0 when flat or unknown)."""
        position = self._positions.get(symbol)
        return 0.0 if position is None else position.qty_float

    def avg_entry_price(self, symbol: str) -> float | None:
        position = self._positions.get(symbol)
        return None if position is None or not position.qty else position.avg

    def exposures(self) -> dict[str, Exposure]:
        """Open positions at their marks (for the risk engine's context)."""
        return {
            symbol: Exposure(position.qty_float, position.mark or position.avg)
            for symbol, position in self._positions.items()
            if position.qty
        }

    def open_symbols(self) -> Iterable[str]:
        return self._open.keys()

    # -- internals --------------------------------------------------------------------------

    def _add(
        self,
        fill: Fill,
        position: _Position,
        qty: Fraction,
        price: Fraction,
        fee: Fraction,
        cost_per_unit: Fraction | None,
    ) -> None:
        """Open or increase a position (the average entry moves)."""
        trade = self._open.get(fill.symbol)
        if trade is None:
            trade = self._open[fill.symbol] = _OpenTrade(fill.side, fill.ts_ns)
        trade.fills += 1
        trade.fees += fee
        trade.entry.add(qty, price, cost_per_unit, fill.liquidity)
        position.qty += fill.side * qty
        position.cost += fill.side * qty * price
        position.sync_floats()
        trade.excursion(position, fill.price)

    def _reduce(
        self,
        fill: Fill,
        position: _Position,
        qty: Fraction,
        price: Fraction,
        fee: Fraction,
        cost_per_unit: Fraction | None,
    ) -> TradeRecord | None:
        """Close `qty` (at most the position) at the average entry: realises P&L."""
        trade = self._open[fill.symbol]
        average = position.cost / position.qty
        realised = qty * (price - average) * trade.side
        self._realised += realised
        trade.realised += realised
        trade.fees += fee
        trade.fills += 1
        trade.exit.add(qty, price, cost_per_unit, fill.liquidity)
        position.qty += fill.side * qty
        position.cost = average * position.qty
        position.sync_floats()
        if position.qty != ZERO:
            return None
        del self._open[fill.symbol]
        record = trade.record(fill.symbol, fill.ts_ns)
        self.trades.append(record)
        return record
