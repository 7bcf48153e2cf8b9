"""Each trade's entry context from the trading core's audit trail.

The trader records every transition of a symbol's machine with the score and regimes it decided
on (`AuditRecord`). An entry is submitted on the transition SIGNAL_DETECTED -> POSITION_ENTRY;
the trade opens at its first fill, later. So a trade's context is the last entry submission of
its symbol at or before the trade's `entry_ns` (an entry cancelled unfilled is followed by a
newer submission, which is the one that filled).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from scalper.backtest.inputs import EntryContext
from scalper.trading.audit import AuditRecord
from scalper.trading.machine import MachineState
from scalper.trading.portfolio import TradeRecord

_SUBMITTED = (MachineState.SIGNAL_DETECTED.value, MachineState.POSITION_ENTRY.value)


def entry_contexts(
    trades: Sequence[TradeRecord], audit: Iterable[AuditRecord]
) -> list[EntryContext]:
    """One context per trade whose entry submission is in `audit` (the drained audit records,
    oldest first); trades without one get none (the report counts them)."""
    submissions: dict[str, list[AuditRecord]] = {}
    for record in audit:
        if (record.previous, record.state) == _SUBMITTED:
            submissions.setdefault(record.symbol, []).append(record)
    stamps = {symbol: [r.ts_ns for r in records] for symbol, records in submissions.items()}
    contexts = []
    for trade in trades:
        index = bisect_right(stamps.get(trade.symbol, []), trade.entry_ns)
        if index == 0:
            continue
        record = submissions[trade.symbol][index - 1]
        contexts.append(
            EntryContext(
                symbol=trade.symbol,
                entry_ns=trade.entry_ns,
                score=record.score,
                regimes=dict(record.regimes),
            )
        )
    return contexts
