"""The L2 order book: `OrderBook` (one symbol at one depth) and its `BookSide`s.

Compiled from `_book.pyx` (Cython): the engine applies two thirds of all frames here, and the
C arrays per side cut the book's share of a frame from ~6 µs to a fraction of a microsecond
(`make bench`, README "Performance"). This module is the import path everything else uses.
"""

from scalper._book import (
    OUT_OF_SYNC_EVENTS,
    ApplyResult,
    BookSide,
    OrderBook,
    SyncState,
)

__all__ = ["OUT_OF_SYNC_EVENTS", "ApplyResult", "BookSide", "OrderBook", "SyncState"]
