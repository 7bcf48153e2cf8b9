"""The displayed liquidity our own fills took, until the venue shows that level afresh.

The book we fill against is the venue's (live or replayed), and our paper fills never reach it:
after we take 2 of the 5 at 100.5, the book still shows 5. Without a ledger the next order
would take the same 2 again (nautilus_trader issue 2564, the reason for its
`liquidity_consumption`). So per (symbol, book side, price) we keep the size we took, subtract
it from what the book displays, and forget it when fresh data for the level arrives: a delta
that touches the price, or a snapshot of the symbol (TRADING.md "Consume what we take").
"""

from __future__ import annotations

from collections.abc import Mapping

from scalper.events import BookUpdate

_EMPTY: Mapping[float, float] = {}


class ConsumedLiquidity:
    """Size taken per level; memory holds only levels with no fresh data since we took them."""

    def __init__(self) -> None:
        self._taken: dict[tuple[str, bool], dict[float, float]] = {}
        """(symbol, is_bid) -> price -> size taken."""

    @property
    def levels(self) -> dict[tuple[str, bool], dict[float, float]]:
        """(symbol, is_bid) -> price -> size taken (the live dict: read it, never write it)."""
        return self._taken

    def __len__(self) -> int:
        """Levels currently tracked."""
        return sum(len(levels) for levels in self._taken.values())

    def taken(self, symbol: str, is_bid: bool) -> Mapping[float, float]:
        """Price -> size taken on one side of a symbol's book (read-only view, maybe empty)."""
        return self._taken.get((symbol, is_bid), _EMPTY)

    def tracks(self, symbol: str) -> bool:
        """Whether anything taken at `symbol` awaits fresh data."""
        return (symbol, True) in self._taken or (symbol, False) in self._taken

    def take(self, symbol: str, is_bid: bool, price: float, qty: float) -> None:
        """Our fill took `qty` from the displayed level at `price` (a key as the book has it)."""
        levels = self._taken.setdefault((symbol, is_bid), {})
        levels[price] = levels.get(price, 0.0) + qty

    def refresh(self, update: BookUpdate) -> None:
        """Forget what the update shows afresh: every level of a snapshot (or a reset, update id
        1, which the book applies as one), the touched prices of a delta."""
        if not self._taken:
            return
        if update.is_snapshot or update.update_id == 1:
            self._taken.pop((update.symbol, True), None)
            self._taken.pop((update.symbol, False), None)
            return
        for is_bid, levels in ((True, update.bids), (False, update.asks)):
            taken = self._taken.get((update.symbol, is_bid))
            if not taken:
                continue
            for price, _size in levels:
                taken.pop(price, None)
            if not taken:
                del self._taken[(update.symbol, is_bid)]
