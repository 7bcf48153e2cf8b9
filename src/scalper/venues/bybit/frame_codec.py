"""The codec of every Bybit source (and the simulator's, which speaks Bybit's wire format):
book frames as integer columns (`book_codec.py`), trade frames as typed columns
(`trade_codec.py`) and ticker frames as their keys and value texts (`ticker_codec.py`), each
joined back byte for byte; anything else stays whole.

Segments written before trades were split name `bybit-book/1` (BOOK_CODEC) and read as before;
this codec reads them too where one view spans both (`scalper query`): their rows have no trade
columns, so its SQL gives their book frames by the book codec's SQL and the rest whole.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit.book_codec import BOOK_CODEC, SPLIT_FIELDS, frame_sql, split_book_frames
from scalper.venues.bybit.ticker_codec import (
    TICKER_FIELDS,
    join_ticker_frames,
    split_ticker_frames,
    ticker_frame_sql,
)
from scalper.venues.bybit.trade_codec import (
    TRADE_FIELDS,
    join_trade_frames,
    split_trade_frames,
    trade_frame_sql,
)

_DELTAS: Final = (
    "trade_ts",
    "trade_times.list.element",
    "trade_seqs.list.element",
    "ticker_cs",
    "ticker_ts",
)
"""Times and sequence numbers grow by small steps from trade to trade of a topic."""
_DIGITS: Final = ("trade_prices.list.element", "trade_sizes.list.element")


class BybitCodec:
    """Bybit v5 book, trade and ticker frames as columns."""

    name: Final = "bybit/2"
    supersedes: Final = (BOOK_CODEC.name,)
    fields: Final = (*SPLIT_FIELDS, *TRADE_FIELDS, *TICKER_FIELDS)
    dictionary_columns: Final = (*BOOK_CODEC.dictionary_columns, "trade_type", "ticker_type")
    column_encoding: Final = {
        **BOOK_CODEC.column_encoding,
        **dict.fromkeys(_DELTAS, "DELTA_BINARY_PACKED"),
        **dict.fromkeys(_DIGITS, "BYTE_STREAM_SPLIT"),
    }

    def split(self, table: pa.Table) -> pa.Table:
        return split_ticker_frames(split_trade_frames(split_book_frames(table)))

    def join(self, table: pa.Table) -> pa.Array | None:
        joined = [BOOK_CODEC.join(table)]
        for column, join in (
            ("trade_times", join_trade_frames),
            ("ticker_keys", join_ticker_frames),
        ):
            if column in table.column_names and table[column].null_count < len(table):
                joined.append(join(table))
        frames = [frames for frames in joined if frames is not None]
        return pc.coalesce(*frames) if frames else None

    def payload_sql(self) -> str:
        return (
            f"CASE WHEN book_u IS NOT NULL THEN encode({frame_sql()}) "
            f"WHEN trade_times IS NOT NULL THEN encode({trade_frame_sql()}) "
            f"WHEN ticker_keys IS NOT NULL THEN encode({ticker_frame_sql()}) ELSE payload END"
        )


FRAME_CODEC: Final = BybitCodec()
"""What Bybit sources record with."""
