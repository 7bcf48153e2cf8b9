"""Funding of perpetual positions: when it is due and what it costs.

Bybit settles funding per symbol at the next funding time its ticker announces
(`nextFundingTime`), at the rate the ticker shows until then (`fundingRate`); intervals differ by
symbol and can change (TRADING.md "Costs": never hard-code 8 h), so the schedule is read from the
ticker only. A position pays `position * mark price * rate`: longs pay a positive rate, shorts
receive it (and the reverse for a negative rate).
"""

from __future__ import annotations

from scalper.events import TickerFields

_NS_PER_MS = 1_000_000


def funding_amount(position_qty: float, mark_price: float, rate: float) -> float:
    """What a signed position pays at a funding time (negative: it receives), quote currency."""
    return position_qty * mark_price * rate


class FundingTerms:
    """One symbol's funding terms as its ticker last gave them, and the last time settled."""

    __slots__ = ("mark_price", "next_funding_ns", "rate", "settled_ns")

    def __init__(self) -> None:
        self.rate: float | None = None
        self.mark_price: float | None = None
        self.next_funding_ns: int | None = None
        self.settled_ns = 0
        """The last funding time paid: a time is settled once, however often tickers repeat it."""

    def update(self, fields: TickerFields, is_snapshot: bool) -> int | None:
        """Merge a ticker (a snapshot replaces the terms, a delta changes what it carries).

        Returns the next funding time in ns when it changed and is still to be settled: the
        caller schedules it."""
        before = self.next_funding_ns
        if is_snapshot:
            self.rate = fields.funding_rate
            self.mark_price = fields.mark_price
            self.next_funding_ns = _ns(fields.next_funding_time_ms)
        else:
            if fields.funding_rate is not None:
                self.rate = fields.funding_rate
            if fields.mark_price is not None:
                self.mark_price = fields.mark_price
            if fields.next_funding_time_ms is not None:
                self.next_funding_ns = _ns(fields.next_funding_time_ms)
        after = self.next_funding_ns
        if after is None or after == before or after <= self.settled_ns:
            return None
        return after

    def due(self, now_ns: int) -> int | None:
        """The funding time to settle at `now_ns`, if one has come and is not settled yet."""
        at = self.next_funding_ns
        if at is None or at > now_ns or at <= self.settled_ns:
            return None
        return at


def _ns(ms: int | None) -> int | None:
    return None if ms is None else ms * _NS_PER_MS
