"""Our typed events: the only language between the venue edge and the engine.

Venue adapters translate wire frames into these Structs; nothing above the edge ever sees a
venue's JSON. Every market event carries two timestamps in nanoseconds: `ts_event_ns`, the
venue's matching-engine time (comparable across books and trades), and `recv_ns`, the local
receive time. Prices and sizes are floats parsed once at the edge: the same price string always
gives the same float, so floats are exact dictionary keys for price levels.
"""

from __future__ import annotations

from typing import Final

import msgspec

BUY: Final = 1
"""Aggressor (taker) side: a buyer lifted the ask."""
SELL: Final = -1
"""Aggressor (taker) side: a seller hit the bid."""
UNKNOWN_SIDE: Final = 0
"""The venue gave no side; the flow layer classifies such trades with the tick rule."""

Level = tuple[float, float]
"""One price level: (price, size). A size of 0.0 in a delta deletes the level."""


class BookUpdate(msgspec.Struct, gc=False):
    """An order-book snapshot (replaces the book) or delta (applies level by level)."""

    symbol: str
    depth: int
    is_snapshot: bool
    bids: list[Level]
    asks: list[Level]
    update_id: int
    seq: int
    ts_event_ns: int
    recv_ns: int


class Trade(msgspec.Struct, gc=False):
    """One public trade. `side` is the aggressor side: BUY, SELL or UNKNOWN_SIDE."""

    symbol: str
    price: float
    size: float
    side: int
    ts_event_ns: int
    recv_ns: int
    trade_id: str = ""
    tick_direction: str | None = None
    is_block_trade: bool = False


class TradeBatch(msgspec.Struct, gc=False):
    """The trades of one venue message, in match-time order."""

    symbol: str
    trades: list[Trade]
    ts_event_ns: int
    recv_ns: int


class TickerFields(msgspec.Struct, omit_defaults=True, gc=False):
    """Ticker values; None means "not in this message" (a delta carries only what changed)."""

    last_price: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    bid1_price: float | None = None
    bid1_size: float | None = None
    ask1_price: float | None = None
    ask1_size: float | None = None
    high_price_24h: float | None = None
    low_price_24h: float | None = None
    prev_price_24h: float | None = None
    price_24h_pcnt: float | None = None
    volume_24h: float | None = None
    turnover_24h: float | None = None
    open_interest: float | None = None
    open_interest_value: float | None = None
    funding_rate: float | None = None
    next_funding_time_ms: int | None = None


class TickerUpdate(msgspec.Struct, gc=False):
    """A ticker snapshot (replaces) or delta (merges the fields it carries)."""

    symbol: str
    is_snapshot: bool
    fields: TickerFields
    ts_event_ns: int
    recv_ns: int


class MalformedFrame(msgspec.Struct, gc=False):
    """A frame that could not be decoded. `kind` groups errors for counting and logging.

    `symbol` and `book_depth` say what the frame was for, where the venue adapter could tell:
    a broken frame of a book makes that book unreliable, so the engine has it resynced."""

    kind: str
    detail: str
    sample: str
    recv_ns: int
    symbol: str | None = None
    book_depth: int | None = None


MarketEvent = BookUpdate | TradeBatch | TickerUpdate
Event = BookUpdate | TradeBatch | TickerUpdate | MalformedFrame
"""What venue adapters hand the engine (`Engine.on_event`)."""


class Instrument(msgspec.Struct, frozen=True):
    """One tradable symbol of a venue. Steps stay the venue's decimal strings: exact, parsed
    where used."""

    symbol: str
    status: str
    quote_coin: str
    tick_size: str
    qty_step: str
    min_qty: str
