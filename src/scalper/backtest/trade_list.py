"""The report's trade list: each closed trade with the score and regimes at its entry."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from scalper.backtest.inputs import EntryContext
from scalper.trading.portfolio import TradeRecord


class ReportTrade(TradeRecord, frozen=True, kw_only=True):
    """A `TradeRecord` (every field, unchanged) and its entry context, if the run gave one."""

    holding_s: float
    score: float | None = None
    regimes: dict[str, str] = msgspec.field(default_factory=dict)


def trade_list(trades: Sequence[TradeRecord], entries: Sequence[EntryContext]) -> list[ReportTrade]:
    """`trades` in their order, joined to `entries` by (symbol, entry_ns)."""
    contexts = {(context.symbol, context.entry_ns): context for context in entries}
    rows = []
    for trade in trades:
        context = contexts.get((trade.symbol, trade.entry_ns))
        rows.append(
            ReportTrade(
                **msgspec.structs.asdict(trade),
                holding_s=trade.holding_ns / 1e9,
                score=None if context is None else context.score,
                regimes={} if context is None else dict(sorted(context.regimes.items())),
            )
        )
    return rows
