"""The codec of every Bybit source (and the simulator's, which speaks Bybit's wire format):
book frames as integer columns (`book_codec.py`) and trade frames as typed columns
(`trade_codec.py`), each joined back byte for byte; ticker frames and anything else stay whole.

Segments written before trades were split name `bybit-book/1` (BOOK_CODEC) and read as before;
this codec reads them too where one view spans both (`scalper query`): their rows have no trade
columns, so its SQL gives their book frames by the book codec's SQL and the rest whole.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit.book_codec import BOOK_CODEC, SPLIT_FIELDS, frame_sql, split_book_frames
from scalper.venues.bybit.trade_codec import (
    TRADE_FIELDS,
    join_trade_frames,
    split_trade_frames,
    trade_frame_sql,
)

_DELTAS: Final = ("trade_ts", "trade_times.list.element", "trade_seqs.list.element")
"""Times and sequence numbers grow by small steps from trade to trade of a topic."""
_DIGITS: Final = ("trade_prices.list.element", "trade_sizes.list.element")


class BybitCodec:
    """Bybit v5 book and trade frames as columns."""

    name: Final = "bybit/2"
    supersedes: Final = (BOOK_CODEC.name,)
    fields: Final = (*SPLIT_FIELDS, *TRADE_FIELDS)
    dictionary_columns: Final = (*BOOK_CODEC.dictionary_columns, "trade_type")
    column_encoding: Final = {
        **BOOK_CODEC.column_encoding,
        **dict.fromkeys(_DELTAS, "DELTA_BINARY_PACKED"),
        **dict.fromkeys(_DIGITS, "BYTE_STREAM_SPLIT"),
    }

    def split(self, table: pa.Table) -> pa.Table:
        return split_trade_frames(split_book_frames(table))

    def join(self, table: pa.Table) -> pa.Array | None:
        books = BOOK_CODEC.join(table)
        if "trade_times" not in table.column_names:
            return books
        if table["trade_times"].null_count == len(table):
            return books
        trades = join_trade_frames(table)
        return trades if books is None else pc.coalesce(books, trades)

    def payload_sql(self) -> str:
        return (
            f"CASE WHEN book_u IS NOT NULL THEN encode({frame_sql()}) "
            f"WHEN trade_times IS NOT NULL THEN encode({trade_frame_sql()}) ELSE payload END"
        )


FRAME_CODEC: Final = BybitCodec()
"""What Bybit sources record with."""
