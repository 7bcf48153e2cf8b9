"""The audit trail of the trading state machines: why each transition happened.

Every transition of a `SymbolMachine` appends one `AuditRecord` (event time, the transition,
its reason, and the inputs the caller decided on: score, regimes, book top, risk decision), so a
replay can show why each trade happened. Records are flat (one row each, as the recorder writes
them next to the market data) and immutable.
"""

from __future__ import annotations

import msgspec

from scalper.settings import TradingSettings
from scalper.trading.journal import Journal


class BookTop(msgspec.Struct, frozen=True, kw_only=True):
    """The best prices and sizes a decision saw."""

    bid: float
    ask: float
    bid_qty: float
    ask_qty: float


class DecisionInputs(msgspec.Struct, frozen=True, kw_only=True):
    """What the caller decided on, recorded with the transition it caused. All optional: a
    fill or a cancel confirmation has no score; the risk decision is "approved" or a refusal
    reason."""

    score: float | None = None
    regimes: dict[str, str] = msgspec.field(default_factory=dict)
    book: BookTop | None = None
    risk: str | None = None
    wall_ns: int | None = None
    """Local wall-clock time, if the caller has one (a backtest has not): the machine itself
    never reads a clock."""


NO_INPUTS = DecisionInputs()


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One transition of one symbol's machine (a flat row)."""

    ts_ns: int
    """Event time of the event that caused the transition."""
    symbol: str
    previous: str
    state: str
    trigger: str
    reason: str
    client_id: str = ""
    """The order the transition concerns, if any."""
    position: float = 0.0
    """Signed position after the transition."""
    stop_price: float | None = None
    score: float | None = None
    regimes: dict[str, str] = msgspec.field(default_factory=dict)
    bid: float | None = None
    ask: float | None = None
    bid_qty: float | None = None
    ask_qty: float | None = None
    risk: str | None = None
    wall_ns: int | None = None


class AuditLog(Journal[AuditRecord]):
    """The audit records of every symbol, bounded (see `Journal`: the oldest are dropped, and
    counted if the recorder had not drained them)."""

    @classmethod
    def from_settings(cls, settings: TradingSettings) -> AuditLog:
        return cls(settings.audit_records)

    def for_symbol(self, symbol: str, n: int | None = None) -> list[AuditRecord]:
        """The last `n` records of `symbol` still held (all when None), oldest first."""
        records = [record for record in self if record.symbol == symbol]
        return records if n is None else records[-n:] if n > 0 else []
