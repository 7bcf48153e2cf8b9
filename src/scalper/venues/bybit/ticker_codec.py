"""Bybit's ticker frames stored as columns, and joined back byte for byte.

Layout of a Bybit v5 linear ticker frame (https://bybit-exchange.github.io/docs/v5/websocket/public/ticker):
`{"topic":T,"type":K,"data":{"symbol":S,"lastPrice":"v",...},"cs":N,"ts":N}`: a snapshot has
every field, a delta only those that changed, always in the same order.

Stored split, a frame is its `ticker_type`, `ticker_cs` and `ticker_ts`, and its fields as two
list columns, one item per field in frame order: `ticker_keys` (indices into TICKER_KEYS) and
`ticker_values` (the value's text as sent: a replay parses it as the decoder would). `symbol` is
the row's symbol.

Lossless by construction, as the book codec: `split_ticker_frames` keeps a frame split only where
`join_ticker_frames` gives back exactly its bytes; any other frame (a key not in TICKER_KEYS, a
value that is not printable ASCII without quote or backslash) stays whole.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit.decimal_columns import (
    INT64,
    canonical_int64,
    keep_exact,
    list_offsets,
    quoted_sql,
    set_column,
)
from scalper.venues.bybit.topics import TICKER

TICKER_TOPIC_PREFIX: Final = f"{TICKER}."

TICKER_KEYS: Final = (
    "tickDirection",
    "price24hPcnt",
    "lastPrice",
    "prevPrice24h",
    "highPrice24h",
    "lowPrice24h",
    "prevPrice1h",
    "markPrice",
    "indexPrice",
    "openInterest",
    "openInterestValue",
    "turnover24h",
    "volume24h",
    "nextFundingTime",
    "fundingRate",
    "bid1Price",
    "bid1Size",
    "ask1Price",
    "ask1Size",
    "deliveryTime",
    "basisRate",
    "deliveryFeeRate",
    "predictedDeliveryPrice",
    "preOpenPrice",
    "preQty",
    "curPreListingPhase",
    "fundingIntervalHour",
    "fundingCap",
    "basis",
)
"""A linear ticker's keys by stored index (part of the stored layout: append only)."""

TICKER_FIELDS: Final = (
    pa.field("ticker_type", pa.string()),
    pa.field("ticker_cs", INT64),
    pa.field("ticker_ts", INT64),
    pa.field("ticker_keys", pa.list_(pa.int8())),
    pa.field("ticker_values", pa.list_(pa.string())),
)
"""The columns of a split ticker frame (null in every other row)."""

_FRAME_PATTERN: Final = (
    r'^\{"topic":"(?P<topic>[^"]*)","type":"(?P<type>[a-z]{1,16})","data":\{"symbol":"[^"]*"'
    r'(?P<pairs>(?:,"[A-Za-z0-9]{1,40}":"[ !#-\[\]-~]{0,64}")*)\},'
    r'"cs":(?P<cs>[0-9]{1,19}),"ts":(?P<ts>[0-9]{1,19})\}$'
)

# -- joining -----------------------------------------------------------------------------------


def _pairs_text(keys: pa.ListArray, values: pa.ListArray) -> pa.Array:
    """`,"key":"value"...` of each row's fields ("" for none; null where not split)."""
    offsets = list_offsets(pc.list_value_length(keys))
    pair = pc.binary_join_element_wise(
        ',"',
        pa.array(TICKER_KEYS, pa.string()).take(pc.list_flatten(keys)),
        '":"',
        pc.list_flatten(values),
        '"',
        "",
    )
    lists = pa.ListArray.from_arrays(pa.array(offsets), pair, mask=keys.is_null())
    return pc.binary_join(lists, "")


_JOIN_COLUMNS: Final = ("topic", "symbol", *(spec.name for spec in TICKER_FIELDS))


def join_ticker_frames(table: pa.Table) -> pa.Array:
    """The frame bytes of every split ticker row of a stored raw table (null in other rows)."""
    column = {name: table[name].combine_chunks() for name in _JOIN_COLUMNS}
    text = pa.string()
    frame = pc.binary_join_element_wise(
        '{"topic":"',
        column["topic"],
        '","type":"',
        column["ticker_type"],
        '","data":{"symbol":"',
        column["symbol"],
        '"',
        _pairs_text(column["ticker_keys"], column["ticker_values"]),
        '},"cs":',
        column["ticker_cs"].cast(text),
        ',"ts":',
        column["ticker_ts"].cast(text),
        "}",
        "",
    )
    return frame.cast(pa.binary())


# -- splitting ---------------------------------------------------------------------------------


def _split_pairs(pairs: pa.Array) -> tuple[pa.ListArray, pa.ListArray]:
    """(keys, values) of each row's `,"key":"value"...` (null rows: none)."""
    inner = pc.binary_slice(pairs, 2, -1)  # less the first `,"` and the last `"`
    tokens = pc.split_pattern(pc.replace_substring(inner, '":"', '","'), '","')
    empty = pc.equal(pairs, b"")
    lengths = pc.if_else(empty, 0, pc.list_value_length(tokens))
    offsets = pa.array(list_offsets(pc.divide(lengths, 2)))
    flat = pc.list_flatten(pc.if_else(empty, pa.scalar([], tokens.type), tokens))
    keys = flat.take(pa.array(np.arange(0, len(flat), 2)))
    values = flat.take(pa.array(np.arange(1, len(flat), 2)))
    codes = pc.index_in(keys, value_set=pa.array([key.encode() for key in TICKER_KEYS]))
    mask = pairs.is_null()
    return (
        pa.ListArray.from_arrays(offsets, codes.cast(pa.int8()), mask=mask),
        pa.ListArray.from_arrays(offsets, values.cast(pa.string()), mask=mask),
    )


def split_ticker_frames(table: pa.Table) -> pa.Table:
    """`table` (columns topic, symbol, payload, and whatever other codecs split) with its
    ticker frames split into TICKER_FIELDS columns and their payload emptied, where joining
    gives back exactly the same bytes."""
    if len(table) == 0:
        for spec in TICKER_FIELDS:
            table = set_column(table, spec, pa.array([], spec.type))
        return table
    payload = table["payload"].combine_chunks()
    tickers = pc.starts_with(table["topic"].combine_chunks(), TICKER_TOPIC_PREFIX)
    frame = pc.extract_regex(pc.if_else(tickers, payload, None), _FRAME_PATTERN)
    keys, values = _split_pairs(frame.field("pairs"))
    columns: dict[str, pa.Array] = {
        "ticker_type": frame.field("type").cast(pa.string()),
        "ticker_cs": canonical_int64(frame.field("cs")),
        "ticker_ts": canonical_int64(frame.field("ts")),
        "ticker_keys": keys,
        "ticker_values": values,
    }
    return keep_exact(table, payload, columns, TICKER_FIELDS, join_ticker_frames)


# -- SQL (scalper query) -----------------------------------------------------------------------


def ticker_frame_sql() -> str:
    """SQL of join_ticker_frames: the layout's text with each field's column."""
    names = f"[{', '.join(map(quoted_sql, TICKER_KEYS))}]"
    pair = f"""',"' || {names}[ticker_keys[k] + 1] || '":"' || ticker_values[k] || '"'"""
    pairs = f"array_to_string(list_transform(range(1, len(ticker_keys) + 1), lambda k: {pair}), '')"
    return " || ".join(
        (
            quoted_sql('{"topic":"'),
            "topic",
            quoted_sql('","type":"'),
            "ticker_type",
            quoted_sql('","data":{"symbol":"'),
            "symbol",
            quoted_sql('"'),
            pairs,
            quoted_sql('},"cs":'),
            "ticker_cs",
            quoted_sql(',"ts":'),
            "ticker_ts",
            quoted_sql("}"),
        )
    )
