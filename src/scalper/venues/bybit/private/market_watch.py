"""The market-data half of our own cancel-on-disconnect: an engine tap that tells
`BybitExecution.note_market_data` about every market event of a traded symbol, so that its
watchdog sees a symbol's feed go quiet (and cancels our orders there) and come back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from scalper.events import BookUpdate, TickerUpdate, TradeBatch

_MARKET: tuple[type, ...] = (BookUpdate, TradeBatch, TickerUpdate)


class MarketDataWatcher(Protocol):
    def note_market_data(self, symbol: str) -> None: ...


def market_watch(
    execution: MarketDataWatcher, symbols: Iterable[str] = ()
) -> Callable[[object], None]:
    """The tap for `Engine.add_tap`: book, trade and ticker events of `symbols` (every symbol
    when empty) reach `execution.note_market_data`. Add it before the feed is built."""
    note = execution.note_market_data
    only = frozenset(symbols)
    market = _MARKET

    def tap(event: object) -> None:
        if type(event) in market:
            symbol: str = event.symbol  # type: ignore[attr-defined]
            if not only or symbol in only:
                note(symbol)

    return tap
