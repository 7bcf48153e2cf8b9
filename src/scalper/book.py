"""The L2 order book: `OrderBook` (one symbol at one depth) and its `BookSide`s.

Compiled from `_book.pyx` (Cython): the engine applies two thirds of all frames here, so each
side is a C array (`make bench` compares it with Python structures). This module is the import
path everything else uses.
"""

from scalper._book import (
    OUT_OF_SYNC_EVENTS,
    ApplyResult,
    BookSide,
    OrderBook,
    SyncState,
)

__all__ = ["OUT_OF_SYNC_EVENTS", "ApplyResult", "BookSide", "OrderBook", "SyncState"]
