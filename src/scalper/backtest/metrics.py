"""The figures of a backtest report, computed from the trading layer's records.

Definitions (../shared/TRADING.md "Reports"; every one is tested against hand-computed answers):

- P&L lines are sums over the closed trades: gross (price P&L), fees, funding, net = gross -
  fees - funding. `unclosed_pnl` is what the account made beyond them (final equity - starting
  equity - net): unrealised P&L and the costs of trades still open at the end.
- Return = final equity / starting equity - 1, final equity from the equity curve's last point.
  `annual_return` = return x (hours in a year / hours of the period): simple, not compounded
  (compounding a few hours' return to a year gives absurd figures).
- Drawdown on the mark-to-market equity curve (as sampled; a trough between two samples is not
  seen), the starting equity the first peak: `max_drawdown` = max(peak - equity) in quote,
  `max_drawdown_frac` = max((peak - equity) / peak); each is the maximum of its own series.
- Sharpe and Sortino on hourly returns of a 24/7 clock, annualised x sqrt(24 x 365) (crypto never
  closes: no 252-day year), risk-free rate 0. The hourly grid runs from the hour at or before the
  start to the hour at or after the end, in event time; the equity at a boundary is the last
  point at or before it (the starting equity before the first): hours with no events are
  zero-return hours, as they are for the account. Sharpe = mean / sample std (n - 1); Sortino =
  mean / downside deviation sqrt(sum(min(r, 0)^2) / n). None when undefined (fewer than two
  returns, no dispersion, no losing hour).
- Calmar = annual return / max drawdown fraction (None without a drawdown).
- Trades are judged on net P&L: a win > 0, a loss < 0, zero neither. Profit factor = sum of wins
  / |sum of losses|: None when there is no loss (JSON has no infinity; `losses` = 0 says why)
  or no trade. Expectancy = mean net P&L per trade. Averages and extremes of losses are
  negative numbers (`max_loss` is the worst).
- Maker share = maker fills' notional / all fills' notional. Passive fill rate = passive orders
  filled / placed. Latency percentiles by linear interpolation between ranks (numpy's default).
- P&L by regime: per regime name and value at entry. By score decile: the trades with an entry
  context and a score, sorted by score (ties by symbol, entry time) and cut into ten
  equal-count buckets by rank (bucket = rank x 10 // n + 1); fewer than ten trades leave some
  buckets empty (omitted).

Sums use `math.fsum` (correctly rounded, independent of order), so the figures are the same on
every machine; the equity curve's element-wise steps (running peak, falls) are numpy's, exact
IEEE operations, so the same on every machine too. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from operator import attrgetter
from typing import Final

import msgspec
import numpy as np

from scalper.backtest.inputs import EntryContext, ReportInputs
from scalper.trading.orders import Liquidity
from scalper.trading.portfolio import EquityPoint, TradeRecord

HOUR_NS: Final = 3_600 * 1_000_000_000
HOURS_PER_YEAR: Final = 24 * 365
"""A 24/7 market's year in hours: the annualisation of hourly figures."""
DECILES: Final = 10
LATENCY_PERCENTILES: Final = (50.0, 90.0, 99.0)


class LatencyStats(msgspec.Struct, frozen=True, kw_only=True):
    """Decision-to-fill latency, in milliseconds of event time."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


class PnLGroup(msgspec.Struct, frozen=True, kw_only=True):
    """The trades of one group and what they made."""

    trades: int
    wins: int
    win_rate: float
    gross_pnl: float
    fees: float
    funding: float
    net_pnl: float
    avg_net_pnl: float


class RegimePnL(PnLGroup, frozen=True, kw_only=True):
    regime: str
    value: str


class DecilePnL(PnLGroup, frozen=True, kw_only=True):
    decile: int
    """1 (lowest scores) to 10 (highest)."""
    score_min: float
    score_max: float


class ReportMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Every figure of the report; see the module docstring for the definitions."""

    start_ns: int
    end_ns: int
    period_hours: float
    starting_equity: float
    final_equity: float
    gross_pnl: float
    fees: float
    funding: float
    net_pnl: float
    unclosed_pnl: float
    slippage_quote: float
    """Cost of slippage against the decision mid over the closed trades (positive: paid)."""
    total_return: float
    """A fraction: 0.012 is +1.2 %."""
    annual_return: float | None
    max_drawdown: float
    max_drawdown_frac: float
    hourly_returns: int
    """How many hourly returns Sharpe and Sortino were computed from."""
    periods_per_year: int
    """Hourly returns per year: 24 x 365 (the annualisation is its square root)."""
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    avg_win: float | None
    max_win: float | None
    avg_loss: float | None
    max_loss: float | None
    max_consecutive_wins: int
    max_consecutive_losses: int
    avg_holding_s: float | None
    fills: int
    maker_fills: int
    taker_fills: int
    maker_share: float | None
    passive_orders_placed: int
    passive_orders_filled: int
    passive_fill_rate: float | None
    latency: LatencyStats | None
    trades_without_context: int
    """Closed trades with no `EntryContext` (left out of the regime and decile tables)."""
    trades_without_score: int
    """Closed trades whose context has no score (left out of the decile table)."""
    by_regime: list[RegimePnL]
    by_score_decile: list[DecilePnL]


def compute_metrics(inputs: ReportInputs) -> ReportMetrics:
    """Every figure of the report from `inputs` (pure; the same inputs give the same figures)."""
    if not inputs.starting_equity > 0:
        raise ValueError(f"starting equity must be positive, not {inputs.starting_equity}")
    trades = inputs.trades
    start_ns, end_ns = _period(inputs)
    net_pnl = math.fsum(t.net_pnl for t in trades)
    final_equity = inputs.equity[-1].equity if inputs.equity else inputs.starting_equity + net_pnl
    total_return = final_equity / inputs.starting_equity - 1.0
    period_hours = (end_ns - start_ns) / HOUR_NS
    annual_return = total_return * HOURS_PER_YEAR / period_hours if period_hours > 0 else None
    drawdown, drawdown_frac = max_drawdown(inputs.starting_equity, inputs.equity)
    returns = hourly_returns(inputs.starting_equity, inputs.equity, start_ns, end_ns)
    nets = [t.net_pnl for t in trades]
    wins = [x for x in nets if x > 0]
    losses = [x for x in nets if x < 0]
    streak_wins, streak_losses = _streaks(nets)
    contexts = _contexts_by_trade(inputs.entries)
    joined = [(t, contexts.get((t.symbol, t.entry_ns))) for t in trades]
    with_context = [(t, c) for t, c in joined if c is not None]
    maker_notional = math.fsum(
        f.qty * f.price for f in inputs.fills if f.liquidity is Liquidity.MAKER
    )
    notional = math.fsum(f.qty * f.price for f in inputs.fills)
    maker_fills = sum(1 for f in inputs.fills if f.liquidity is Liquidity.MAKER)
    slippages = [t.slippage_quote for t in trades if t.slippage_quote is not None]
    return ReportMetrics(
        start_ns=start_ns,
        end_ns=end_ns,
        period_hours=period_hours,
        starting_equity=inputs.starting_equity,
        final_equity=final_equity,
        gross_pnl=math.fsum(t.gross_pnl for t in trades),
        fees=math.fsum(t.fees for t in trades),
        funding=math.fsum(t.funding for t in trades),
        net_pnl=net_pnl,
        unclosed_pnl=final_equity - inputs.starting_equity - net_pnl,
        slippage_quote=math.fsum(slippages),
        total_return=total_return,
        annual_return=annual_return,
        max_drawdown=drawdown,
        max_drawdown_frac=drawdown_frac,
        hourly_returns=len(returns),
        periods_per_year=HOURS_PER_YEAR,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        calmar=(
            annual_return / drawdown_frac
            if annual_return is not None and drawdown_frac > 0
            else None
        ),
        trades=len(trades),
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / len(trades) if trades else None,
        profit_factor=math.fsum(wins) / -math.fsum(losses) if losses else None,
        expectancy=_mean(nets),
        avg_win=_mean(wins),
        max_win=max(wins, default=None),
        avg_loss=_mean(losses),
        max_loss=min(losses, default=None),
        max_consecutive_wins=streak_wins,
        max_consecutive_losses=streak_losses,
        avg_holding_s=(
            math.fsum(t.holding_ns for t in trades) / len(trades) / 1e9 if trades else None
        ),
        fills=len(inputs.fills),
        maker_fills=maker_fills,
        taker_fills=len(inputs.fills) - maker_fills,
        maker_share=maker_notional / notional if notional > 0 else None,
        passive_orders_placed=inputs.passive_orders_placed,
        passive_orders_filled=inputs.passive_orders_filled,
        passive_fill_rate=(
            inputs.passive_orders_filled / inputs.passive_orders_placed
            if inputs.passive_orders_placed > 0
            else None
        ),
        latency=latency_stats(inputs.latencies_ns),
        trades_without_context=len(joined) - len(with_context),
        trades_without_score=sum(1 for _, c in with_context if c.score is None),
        by_regime=pnl_by_regime(with_context),
        by_score_decile=pnl_by_score_decile(with_context),
    )


# -- the pieces, each usable alone ----------------------------------------------------------


def equity_arrays(equity: Sequence[EquityPoint]) -> tuple[np.ndarray, np.ndarray]:
    """The curve's times (int64 ns) and equity (float64) as arrays."""
    return column(equity, "ts_ns", np.int64), column(equity, "equity", np.float64)


def column(equity: Sequence[EquityPoint], name: str, dtype: type) -> np.ndarray:
    """One field of every point as an array."""
    return np.fromiter(map(attrgetter(name), equity), dtype=dtype, count=len(equity))


def _peaks(starting_equity: float, values: np.ndarray) -> np.ndarray:
    """The running peak at each point, the starting equity the first."""
    return np.maximum.accumulate(np.maximum(values, starting_equity))


def max_drawdown(starting_equity: float, equity: Sequence[EquityPoint]) -> tuple[float, float]:
    """(largest peak-to-trough fall in quote, largest fall as a fraction of its peak)."""
    if not equity:
        return 0.0, 0.0
    _, values = equity_arrays(equity)
    peaks = _peaks(starting_equity, values)
    falls = peaks - values
    fractions = np.divide(falls, peaks, out=np.zeros_like(falls), where=peaks > 0)
    return float(falls.max()), float(fractions.max())


def drawdown_fractions(starting_equity: float, equity: Sequence[EquityPoint]) -> np.ndarray:
    """Each point's drawdown as a fraction of the peak so far (<= 0; 0 under a peak <= 0)."""
    _, values = equity_arrays(equity)
    peaks = _peaks(starting_equity, values)
    return np.divide(values - peaks, peaks, out=np.zeros_like(values), where=peaks > 0)


def hourly_equity(
    starting_equity: float, equity: Sequence[EquityPoint], start_ns: int, end_ns: int
) -> list[tuple[int, float]]:
    """The equity at each hour boundary from the one at or before `start_ns` to the one at or
    after `end_ns` (event time): the last point at or before the boundary, the starting
    equity before the first point."""
    first = start_ns - start_ns % HOUR_NS
    last = end_ns + (-end_ns) % HOUR_NS
    boundaries = np.arange(first, last + 1, HOUR_NS, dtype=np.int64)
    stamps, values = equity_arrays(equity)
    held = np.searchsorted(stamps, boundaries, side="right")
    at = np.concatenate(([starting_equity], values))[held]
    return list(zip(boundaries.tolist(), at.tolist(), strict=True))


def hourly_returns(
    starting_equity: float, equity: Sequence[EquityPoint], start_ns: int, end_ns: int
) -> list[float]:
    """Simple returns between consecutive hour boundaries (see `hourly_equity`); an hour that
    starts at equity <= 0 has no return (the account is gone) and is left out."""
    values = [value for _, value in hourly_equity(starting_equity, equity, start_ns, end_ns)]
    return [b / a - 1.0 for a, b in pairwise(values) if a > 0]


def sharpe(returns: Sequence[float]) -> float | None:
    """Annualised Sharpe ratio of hourly returns (risk-free 0; sample deviation)."""
    if len(returns) < 2:
        return None
    mean = math.fsum(returns) / len(returns)
    variance = math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(HOURS_PER_YEAR)


def sortino(returns: Sequence[float]) -> float | None:
    """Annualised Sortino ratio of hourly returns (target 0; downside deviation over all n)."""
    if len(returns) < 2:
        return None
    downside = math.fsum(min(r, 0.0) ** 2 for r in returns) / len(returns)
    if downside <= 0:
        return None
    mean = math.fsum(returns) / len(returns)
    return mean / math.sqrt(downside) * math.sqrt(HOURS_PER_YEAR)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of ascending values, linear between ranks."""
    position = q / 100.0 * (len(sorted_values) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    fraction = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * fraction


def latency_stats(latencies_ns: Sequence[int]) -> LatencyStats | None:
    if not latencies_ns:
        return None
    ms = sorted(value / 1e6 for value in latencies_ns)
    p50, p90, p99 = (percentile(ms, q) for q in LATENCY_PERCENTILES)
    return LatencyStats(count=len(ms), p50_ms=p50, p90_ms=p90, p99_ms=p99, max_ms=ms[-1])


def pnl_by_regime(joined: Sequence[tuple[TradeRecord, EntryContext]]) -> list[RegimePnL]:
    """One row per (regime, value) seen at entry, sorted by both."""
    groups: dict[tuple[str, str], list[TradeRecord]] = {}
    for trade, context in joined:
        for regime, value in context.regimes.items():
            groups.setdefault((regime, value), []).append(trade)
    return [
        RegimePnL(regime=regime, value=value, **_group_figures(groups[regime, value]))
        for regime, value in sorted(groups)
    ]


def pnl_by_score_decile(joined: Sequence[tuple[TradeRecord, EntryContext]]) -> list[DecilePnL]:
    """Equal-count buckets of the entry score, lowest first (see the module docstring); trades
    whose context has no score are left out."""
    scored = [(trade, context.score) for trade, context in joined if context.score is not None]
    ranked = sorted(scored, key=lambda pair: (pair[1], pair[0].symbol, pair[0].entry_ns))
    buckets: dict[int, list[tuple[TradeRecord, float]]] = {}
    for rank, pair in enumerate(ranked):
        buckets.setdefault(rank * DECILES // len(ranked) + 1, []).append(pair)
    return [
        DecilePnL(
            decile=decile,
            score_min=pairs[0][1],
            score_max=pairs[-1][1],
            **_group_figures([trade for trade, _ in pairs]),
        )
        for decile, pairs in sorted(buckets.items())
    ]


# -- internals ------------------------------------------------------------------------------


def _period(inputs: ReportInputs) -> tuple[int, int]:
    stamps = [point.ts_ns for point in inputs.equity] or [
        ts for trade in inputs.trades for ts in (trade.entry_ns, trade.exit_ns)
    ]
    start = inputs.start_ns if inputs.start_ns is not None else min(stamps, default=0)
    end = inputs.end_ns if inputs.end_ns is not None else max(stamps, default=start)
    if end < start:
        raise ValueError(f"the report's period ends ({end}) before it starts ({start})")
    return start, end


def _contexts_by_trade(entries: Iterable[EntryContext]) -> dict[tuple[str, int], EntryContext]:
    contexts: dict[tuple[str, int], EntryContext] = {}
    for context in entries:
        key = (context.symbol, context.entry_ns)
        if key in contexts:
            raise ValueError(
                f"two entry contexts for {context.symbol} at entry_ns={context.entry_ns}: "
                "a trade has one entry"
            )
        contexts[key] = context
    return contexts


def _group_figures(trades: Sequence[TradeRecord]) -> dict[str, float | int]:
    nets = [t.net_pnl for t in trades]
    wins = sum(1 for x in nets if x > 0)
    net = math.fsum(nets)
    return {
        "trades": len(trades),
        "wins": wins,
        "win_rate": wins / len(trades),
        "gross_pnl": math.fsum(t.gross_pnl for t in trades),
        "fees": math.fsum(t.fees for t in trades),
        "funding": math.fsum(t.funding for t in trades),
        "net_pnl": net,
        "avg_net_pnl": net / len(trades),
    }


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _streaks(nets: Iterable[float]) -> tuple[int, int]:
    """Longest runs of consecutive wins and of consecutive losses (a zero breaks both)."""
    best_wins = best_losses = wins = losses = 0
    for net in nets:
        wins = wins + 1 if net > 0 else 0
        losses = losses + 1 if net < 0 else 0
        best_wins = max(best_wins, wins)
        best_losses = max(best_losses, losses)
    return best_wins, best_losses
