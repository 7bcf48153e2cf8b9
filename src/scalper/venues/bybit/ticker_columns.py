"""Bybit ticker frames stored as columns (`ticker_codec.py`) straight into ticker updates, no JSON.

Exactly the JSON path's events: a value is the float the decoder parses from the same text
(both correctly rounded: `_wire.ticker_values` parses it), `nextFundingTime` the integer. A split
row is built from its columns (`applied`) only if decoding its frame would give a TickerUpdate by
the strict decoder: a ticker topic, the row's symbol the topic's, type "snapshot" or "delta",
`ts` within 1970-2262, every value of a TickerFields field a plain decimal (an integer for
`nextFundingTime`) and no field twice; any other split row is joined back and decoded (an empty
value takes the decoder's lenient path there, a bad one is counted as malformed, as live).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit._wire import ticker_updates, ticker_values
from scalper.venues.bybit.row_topics import RowTopics, row_topics
from scalper.venues.bybit.ticker_codec import TICKER_KEYS
from scalper.venues.bybit.topics import TICKER
from scalper.venues.bybit.trade_columns import string_buffers as _string_buffers
from scalper.venues.bybit.wire import MAX_MILLIS, TICKER_KEYS_OF_FIELDS

_MS_TO_NS: Final = 1_000_000
_FIELD_OF_KEY: Final = np.array(
    [
        TICKER_KEYS_OF_FIELDS.index(key) if key in TICKER_KEYS_OF_FIELDS else -1
        for key in TICKER_KEYS
    ],
    np.int8,
)
"""TickerFields' index of each stored key (-1: a key the decoder ignores)."""
_INTEGER_FIELD: Final = TICKER_KEYS_OF_FIELDS.index("nextFundingTime")


def has_ticker_columns(table: pa.Table) -> bool:
    """Whether a stored raw row group holds a ticker frame split into columns."""
    return "ticker_keys" in table.column_names and table["ticker_keys"].null_count < len(table)


class TickerColumns:
    """A stored raw row group's split ticker frames, ready for `place`."""

    def __init__(
        self, table: pa.Table, recv_ns: np.ndarray, topics: RowTopics | None = None
    ) -> None:
        keys = table["ticker_keys"].combine_chunks()
        counts = pc.fill_null(pc.list_value_length(keys), 0).to_numpy(zero_copy_only=False)
        self._starts = np.zeros(len(table) + 1, np.int64)
        np.cumsum(counts, out=self._starts[1:])
        codes = pc.list_flatten(keys).to_numpy(zero_copy_only=False).astype(np.int64)
        known = (codes >= 0) & (codes < len(TICKER_KEYS))
        self._fields = np.where(known, _FIELD_OF_KEY[np.where(known, codes, 0)], -1).astype(np.int8)
        texts = pc.list_flatten(table["ticker_values"].combine_chunks())
        data, offsets = _string_buffers(texts)
        self._numbers = np.zeros(len(codes), np.float64)
        self._integers = np.zeros(len(codes), np.int64)
        refused = np.zeros(len(table), np.uint8)
        ticker_values(
            data,
            offsets,
            self._starts,
            self._fields,
            _INTEGER_FIELD,
            self._numbers,
            self._integers,
            refused,
        )
        unknown = np.zeros(len(codes) + 1, np.int64)  # unknown keys before each item
        np.cumsum(~known, out=unknown[1:])
        unknown_in_row = unknown[self._starts[1:]] != unknown[self._starts[:-1]]
        kind = table["ticker_type"].combine_chunks()
        snapshot = pc.fill_null(pc.equal(kind, "snapshot"), False).to_numpy(zero_copy_only=False)
        delta = pc.fill_null(pc.equal(kind, "delta"), False).to_numpy(zero_copy_only=False)
        ts_ms = pc.fill_null(table["ticker_ts"], -1).to_numpy()
        in_range = (ts_ms >= 0) & (ts_ms <= MAX_MILLIS)
        self._is_snapshot = snapshot.astype(np.uint8)
        self._ts_ns = np.where(in_range, ts_ms, 0) * _MS_TO_NS
        topics = topics or row_topics(table)
        self._topic_symbols = topics.symbols(TICKER)
        self._topic_of_row = topics.of_row
        self.applied = (
            topics.of_channel(TICKER)
            & topics.symbol_matches
            & pc.is_valid(keys).to_numpy(zero_copy_only=False)
            & (snapshot | delta)
            & in_range
            & ~unknown_in_row
            & (refused == 0)
        )
        """Per stored row: built from its columns (a split ticker frame the decoder takes)."""
        self._recv_ns = np.ascontiguousarray(recv_ns, np.int64)

    def place(self, out: list[object], positions: np.ndarray, rows: np.ndarray) -> None:
        """Put the TickerUpdate of stored row `rows[i]` (each one `applied`) at
        `out[positions[i]]`."""
        ticker_updates(
            out,
            np.ascontiguousarray(positions, np.int64),
            np.ascontiguousarray(rows, np.int64),
            self._topic_of_row,
            self._topic_symbols,
            self._starts,
            self._fields,
            self._numbers,
            self._integers,
            self._is_snapshot,
            self._ts_ns,
            self._recv_ns,
        )
