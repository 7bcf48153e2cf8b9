"""What a report is built from: the trading layer's own records, plus what only the run knows.

The trades, equity curve and fills are the portfolio's and the broker's records unchanged
(`TradeRecord`, `EquityPoint`, `Fill`); the run adds the context of each entry (the score and
the regimes when the strategy decided), the passive-order counts, the decision-to-fill
latencies and, for the price chart, one symbol's prices.
"""

from __future__ import annotations

import msgspec

from scalper.trading.orders import Fill
from scalper.trading.portfolio import EquityPoint, TradeRecord


class EntryContext(msgspec.Struct, frozen=True, kw_only=True):
    """Why a trade was entered: joined to its `TradeRecord` by (symbol, entry_ns)."""

    symbol: str
    entry_ns: int
    """The trade's `entry_ns` (event time of its first fill)."""
    score: float | None
    """The strategy's score at entry, as the strategy reads it (bucketed as given); None when
    the signals had none yet (the trade is then left out of the decile table only)."""
    regimes: dict[str, str] = {}
    """Regime name -> value at entry, e.g. {"volatility": "high", "volume": "surge"}."""


class PriceSeries(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's prices for the report's price chart (e.g. 1 m candle closes)."""

    symbol: str
    points: list[tuple[int, float]]
    """(ts_ns, price), oldest first."""


class ReportInputs(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `compute_metrics` and `write_report` read.

    Call order for a runner: after the last event, `portfolio.sample(end_ns)` so the equity
    curve's last point holds the final account; then pass `portfolio.equity_curve`, the
    drained trades, and `entry_contexts(trades, audit records)` here. Both the curve and the
    journals are bounded (`TradingSettings.equity_points`, `trade_records`, `audit_records`):
    a run longer than they hold must drain them as it goes.
    """

    starting_equity: float
    trades: list[TradeRecord]
    """Closed round trips, in the order they closed."""
    equity: list[EquityPoint]
    """The account over event time, oldest first (the portfolio's equity curve)."""
    fills: list[Fill] = []
    """Every execution of the run (maker share is measured on them)."""
    entries: list[EntryContext] = []
    """The score and regimes at each trade's entry (`backtest.entries.entry_contexts`)."""
    passive_orders_placed: int = 0
    """PostOnly/limit orders the run placed (passive fill rate = filled / placed)."""
    passive_orders_filled: int = 0
    """Of those, the orders that filled (fully or partly)."""
    latencies_ns: list[int] = []
    """Decision-to-fill latency of each fill, in event-time ns (empty: not measured)."""
    start_ns: int | None = None
    """The period's start (the run's --from); None: the first equity point (else trade)."""
    end_ns: int | None = None
    """The period's end (the run's --to); None: the last equity point (else trade)."""
