"""Bybit book frames stored as columns (`book_codec.py`) straight into the engine, no JSON.

A recorded row group holds each split book frame as integer columns: its levels as decimal digits
at a scale, its update id, type and times. `book_columns` turns a row group's split frames into
the arrays `Engine.apply_book_columns` takes (levels as floats, one flat array a side with row
offsets), and marks every other row (trades, tickers, control replies, frames stored whole) to be
decoded from its JSON as before.

Exactly the JSON path's events: a level's float is its digits divided by 10**scale, both exact
doubles (digits <= 2**53, scale <= 22), so the division rounds the decimal's exact value once,
as the decoder's correctly rounded parse of the same text does. A split row goes to the engine
from its columns only if decoding its frame would give a BookUpdate: a book topic of a depth we
decode, `data.s` equal to the topic's symbol, type "snapshot" or "delta", `cts` and `u` in range,
prices above zero (wire.py's rules); any other split row is joined back and decoded, so a frame
the decoder rejects is still counted as malformed, as it was live.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scalper.events import BookUpdate
from scalper.venues.bybit.row_topics import RowTopics, row_topics
from scalper.venues.bybit.topics import BOOK
from scalper.venues.bybit.wire import MAX_MILLIS, MAX_UPDATE_ID

_MS_TO_NS: Final = 1_000_000
_EXACT_DIGITS: Final = 2**53
"""Integers up to this are exact doubles."""
_POWERS_OF_TEN: Final = np.array([10.0**k for k in range(23)])
"""10**0 .. 10**22: every one an exact double (a level's scale is at most 16)."""


class BookColumns(NamedTuple):
    """Rows of a row group as `Engine.apply_book_columns` takes them (its arguments up to
    `others`, in order), one entry per row read, in receive order: a book row where `book_row`,
    else a row to decode from its JSON (`other_rows`)."""

    book_row: np.ndarray
    topic_of_row: np.ndarray
    topic_symbols: list[str]
    topic_depths: np.ndarray
    is_snapshot: np.ndarray
    update_id: np.ndarray
    ts_event_ns: np.ndarray
    bid_start: np.ndarray
    bid_end: np.ndarray
    bid_prices: np.ndarray
    bid_sizes: np.ndarray
    ask_start: np.ndarray
    ask_end: np.ndarray
    ask_prices: np.ndarray
    ask_sizes: np.ndarray

    @property
    def other_rows(self) -> np.ndarray:
        """Which rows are not book rows (a mask over the rows read)."""
        return self.book_row == 0

    def rows(self, start: int, stop: int) -> BookColumns:
        """Rows `start:stop` alone (views; the level arrays are shared, as their offsets
        are)."""
        return self._replace(**{name: getattr(self, name)[start:stop] for name in _ROW_FIELDS})


_ROW_FIELDS: Final = (
    "book_row",
    "topic_of_row",
    "is_snapshot",
    "update_id",
    "ts_event_ns",
    "bid_start",
    "bid_end",
    "ask_start",
    "ask_end",
)
"""The fields of `BookColumns` with one entry per row."""


class BookEvents:
    """`events(i)`: the `BookUpdate` of book row `offset + i` of `columns`, the event decoding
    its frame gives (`Engine.apply_book_columns` asks for it only when a tap needs it)."""

    def __init__(
        self, table: pa.Table, rows: np.ndarray, columns: BookColumns, recv_ns: np.ndarray
    ) -> None:
        self.offset = 0
        """Where the rows the engine is given start (a step of a row group)."""
        self._table = table
        self._rows = rows
        self._columns = columns
        self._recv_ns = recv_ns
        self._seq: np.ndarray | None = None

    def __call__(self, index: int) -> BookUpdate:
        i = self.offset + index
        if self._seq is None:
            self._seq = _numpy(self._table["book_seq"], 0)[self._rows]
        c = self._columns
        topic = c.topic_of_row[i]
        bids = slice(c.bid_start[i], c.bid_end[i])
        asks = slice(c.ask_start[i], c.ask_end[i])
        return BookUpdate(
            c.topic_symbols[topic],
            int(c.topic_depths[topic]),
            bool(c.is_snapshot[i]),
            list(zip(c.bid_prices[bids].tolist(), c.bid_sizes[bids].tolist(), strict=True)),
            list(zip(c.ask_prices[asks].tolist(), c.ask_sizes[asks].tolist(), strict=True)),
            int(c.update_id[i]),
            int(self._seq[i]),
            int(c.ts_event_ns[i]),
            int(self._recv_ns[i]),
        )


def _numpy(values: pa.ChunkedArray | pa.Array, fill: object) -> np.ndarray:
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.fill_null(array, fill).to_numpy(zero_copy_only=False)


class _Side(NamedTuple):
    start: np.ndarray
    end: np.ndarray
    prices: np.ndarray
    sizes: np.ndarray
    refused: np.ndarray
    """Per stored row: a level the floats cannot carry exactly, or a price the decoder
    refuses."""


def _side(table: pa.Table, side: str, price_scale: np.ndarray, size_scale: np.ndarray) -> _Side:
    """One side's levels of every stored row: flat floats, each row's [start, end)."""
    prices = table[f"{side}_prices"].combine_chunks()
    sizes = table[f"{side}_sizes"].combine_chunks()
    counts = _numpy(pc.list_value_length(prices), 0).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    price_digits = pc.list_flatten(prices).to_numpy(zero_copy_only=False)
    size_digits = pc.list_flatten(sizes).to_numpy(zero_copy_only=False)
    bad = (price_digits <= 0) | (price_digits > _EXACT_DIGITS) | (size_digits > _EXACT_DIGITS)
    bad_before = np.zeros(len(bad) + 1, np.int64)  # bad levels before each level
    np.cumsum(bad, out=bad_before[1:])
    return _Side(
        offsets[:-1],
        offsets[1:],
        price_digits / np.repeat(_POWERS_OF_TEN[price_scale], counts),
        size_digits / np.repeat(_POWERS_OF_TEN[size_scale], counts),
        bad_before[offsets[1:]] != bad_before[offsets[:-1]],
    )


def book_columns(table: pa.Table, rows: np.ndarray, topics: RowTopics | None = None) -> BookColumns:
    """The rows `rows` (indices, in the order to apply them) of a stored raw row group with the
    book codec's columns (`topics`: its topics, if read already)."""
    topics = topics or row_topics(table)
    books = [r if r is not None and r.channel == BOOK else None for r in topics.routes]
    topic_symbols = topics.symbols(BOOK)
    topic_depths = np.array([route.depth if route is not None else 0 for route in books], np.int64)
    topic_of_row = topics.of_row
    kind = table["book_type"].combine_chunks()
    snapshot = _numpy(pc.equal(kind, "snapshot"), False)
    cts = _numpy(table["book_cts"], -1)
    update_id = _numpy(table["book_u"], -1)
    price_scale = _numpy(table["price_scale"], 0).astype(np.int64)
    size_scale = _numpy(table["size_scale"], 0).astype(np.int64)
    bids = _side(table, "bid", price_scale, size_scale)
    asks = _side(table, "ask", price_scale, size_scale)
    wanted = (
        topics.of_channel(BOOK)
        & topics.symbol_matches
        & (snapshot | _numpy(pc.equal(kind, "delta"), False))
        & (cts >= 0)
        & (cts <= MAX_MILLIS)
        & (update_id >= 0)
        & (update_id <= MAX_UPDATE_ID)
        & ~bids.refused
        & ~asks.refused
    )
    book_row = wanted[rows]
    return BookColumns(
        book_row.astype(np.int8),
        topic_of_row[rows],
        topic_symbols,
        topic_depths,
        snapshot[rows].astype(np.uint8),
        update_id[rows],
        np.where(book_row, cts[rows], 0) * _MS_TO_NS,
        bids.start[rows],
        bids.end[rows],
        bids.prices,
        bids.sizes,
        asks.start[rows],
        asks.end[rows],
        asks.prices,
        asks.sizes,
    )


def no_book_columns(rows: int) -> BookColumns:
    """`rows` rows, none of them a book row (a row group without split frames)."""
    none = np.zeros(rows, np.int64)
    levels = np.zeros(0, np.float64)
    return BookColumns(
        np.zeros(rows, np.int8),
        np.zeros(rows, np.int32),
        [],
        np.zeros(0, np.int64),
        np.zeros(rows, np.uint8),
        none,
        none,
        none,
        none,
        levels,
        levels,
        none,
        none,
        levels,
        levels,
    )
