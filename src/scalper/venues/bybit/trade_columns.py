"""Bybit trade frames stored as columns (`trade_codec.py`) straight into trade batches, no JSON.

`TradeColumns` reads a row group's split trade frames into the flat arrays `_wire.trade_batches`
builds their `TradeBatch`es from: one C loop, no JSON decode, no intermediate struct per trade.

Exactly the JSON path's events: a float is its digits divided by 10**scale, both exact doubles
(as `book_columns.py` argues for levels), a time is T x 10**6 ns, an id is the text JSON decodes
(the codec splits only printable ASCII without quote or backslash). A split row is built from its
columns (`applied`) only if decoding its frame would give a TradeBatch: a trade topic, `s` equal
to the topic's symbol, every T within 1970-2262, prices above zero (wire.py's rules); any other
split row is joined back and decoded, so a frame the decoder rejects is still counted as
malformed, as it was live.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit._wire import trade_batches
from scalper.venues.bybit.row_topics import RowTopics, row_topics
from scalper.venues.bybit.topics import TRADE
from scalper.venues.bybit.trade_codec import SIDES, TICK_DIRECTIONS
from scalper.venues.bybit.wire import MAX_MILLIS

_MS_TO_NS: Final = 1_000_000
_EXACT_DIGITS: Final = 2**53
"""Integers up to this are exact doubles."""
_POWERS_OF_TEN: Final = np.array([10.0**k for k in range(23)])
"""10**0 .. 10**22: every one an exact double (a stored scale is at most 16)."""


def has_trade_columns(table: pa.Table) -> bool:
    """Whether a stored raw row group holds a trade frame split into columns."""
    return "trade_times" in table.column_names and table["trade_times"].null_count < len(table)


def _flat(column: pa.ChunkedArray) -> np.ndarray:
    return pc.list_flatten(column.combine_chunks()).to_numpy(zero_copy_only=False)


class TradeColumns:
    """A stored raw row group's split trade frames, ready for `place`."""

    def __init__(
        self, table: pa.Table, recv_ns: np.ndarray, topics: RowTopics | None = None
    ) -> None:
        times = table["trade_times"].combine_chunks()
        counts = pc.fill_null(pc.list_value_length(times), 0).to_numpy(zero_copy_only=False)
        self._starts = np.zeros(len(table) + 1, np.int64)
        np.cumsum(counts, out=self._starts[1:])
        millis = pc.list_flatten(times).to_numpy(zero_copy_only=False)
        price_digits = _flat(table["trade_prices"])
        size_digits = _flat(table["trade_sizes"])
        self._sides = np.ascontiguousarray(_flat(table["trade_sides"]), np.int8)
        self._ticks = np.ascontiguousarray(_flat(table["trade_ticks"]), np.int8)
        bad = (
            (millis < 0)
            | (millis > MAX_MILLIS)
            | (price_digits <= 0)
            | (price_digits > _EXACT_DIGITS)
            | (size_digits > _EXACT_DIGITS)
            | (self._sides < 0)
            | (self._sides >= len(SIDES))
            | (self._ticks < 0)
            | (self._ticks >= len(TICK_DIRECTIONS))
        )
        bad_before = np.zeros(len(bad) + 1, np.int64)  # bad trades before each trade
        np.cumsum(bad, out=bad_before[1:])
        refused = bad_before[self._starts[1:]] != bad_before[self._starts[:-1]]
        price_scale = pc.fill_null(table["price_scale"], 0).to_numpy().astype(np.int64)
        size_scale = pc.fill_null(table["size_scale"], 0).to_numpy().astype(np.int64)
        self._prices = price_digits / np.repeat(_POWERS_OF_TEN[price_scale], counts)
        self._sizes = size_digits / np.repeat(_POWERS_OF_TEN[size_scale], counts)
        self._ts_ns = np.where(bad, 0, millis) * _MS_TO_NS
        block = pc.list_flatten(table["trade_block"].combine_chunks())
        self._block = block.to_numpy(zero_copy_only=False).astype(np.uint8)
        self._id_data, self._id_offsets = string_buffers(
            pc.list_flatten(table["trade_ids"].combine_chunks())
        )
        topics = topics or row_topics(table)
        self._topic_symbols = topics.symbols(TRADE)
        self._topic_of_row = topics.of_row
        self.applied = topics.of_channel(TRADE) & topics.symbol_matches & (counts > 0) & ~refused
        """Per stored row: built from its columns (a split trade frame the decoder takes)."""
        self._recv_ns = np.ascontiguousarray(recv_ns, np.int64)

    def place(self, out: list[object], positions: np.ndarray, rows: np.ndarray) -> None:
        """Put the TradeBatch of stored row `rows[i]` (each one `applied`) at
        `out[positions[i]]`."""
        trade_batches(
            out,
            np.ascontiguousarray(positions, np.int64),
            np.ascontiguousarray(rows, np.int64),
            self._topic_of_row,
            self._topic_symbols,
            self._starts,
            self._ts_ns,
            self._prices,
            self._sizes,
            self._sides,
            self._ticks,
            self._block,
            self._id_data,
            self._id_offsets,
            self._recv_ns,
        )


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets) of a string array: item j is values[offsets[j]:offsets[j + 1]]."""
    if array.null_count:
        array = pc.fill_null(array, "")
    _, offsets, values = array.buffers()
    start = array.offset
    return (
        np.frombuffer(values, np.uint8) if values is not None else np.zeros(0, np.uint8),
        np.frombuffer(offsets, np.int32)[start : start + len(array) + 1],
    )
