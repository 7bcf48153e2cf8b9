"""Bybit's order-book frames stored as columns of integers, and joined back byte for byte: the
`FrameCodec` (scalper.storage.codec) this venue plugs into the recorder, readers and queries.

Layout of a Bybit v5 book frame (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook):
`{"topic":T,"type":K,"ts":N,"data":{"s":S,"b":[["p","q"],...],"a":[...],"u":N,"seq":N},"cts":N}`.

Stored split, a frame is its fields (`book_type`, `book_ts`, `book_u`, `book_seq`, `book_cts`)
and its levels as decimal digits: `bid_prices`, `bid_sizes`, `ask_prices`, `ask_sizes` are lists
of int64 and `price_scale`, `size_scale` the digits after the point, one each per frame
("0.000132602" is 132602 at scale 9). Next to frames of the same topic these compress smaller
than the level text (the recorder section of `make bench` measures the bytes).

Lossless by construction: `split_book_frames` joins what it split with `join_book_frames` (the
readers' code) and keeps a frame split only where that gives back exactly its bytes; any other
frame (another layout, extra fields, odd spacing, mixed scales, leading zeros) stays whole.
Both run in Arrow compute over a whole row group at once: C++ outside the GIL, so the writer
thread does not hold up the event loop.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit.decimal_columns import (
    INT64,
    SCALE,
    canonical_int64,
    decimal_sql,
    decimal_text,
    decimals,
    keep_exact,
    list_offsets,
    quoted_sql,
    row_max,
    set_column,
)
from scalper.venues.bybit.topics import BOOK

BOOK_TOPIC_PREFIX: Final = f"{BOOK}."

_LEVELS: Final = pa.list_(INT64)

SPLIT_FIELDS: Final = (
    pa.field("book_type", pa.string()),
    pa.field("book_ts", INT64),
    pa.field("book_u", INT64),
    pa.field("book_seq", INT64),
    pa.field("book_cts", INT64),
    pa.field("price_scale", SCALE),
    pa.field("size_scale", SCALE),
    pa.field("bid_prices", _LEVELS),
    pa.field("bid_sizes", _LEVELS),
    pa.field("ask_prices", _LEVELS),
    pa.field("ask_sizes", _LEVELS),
)
"""The columns of a split book frame (null in every other row)."""


_HOLE: Final = "\0"
_TEMPLATE: Final = _HOLE.join(
    (
        '{"topic":"',
        '","type":"',
        '","ts":',
        ',"data":{"s":"',
        '","b":[',
        '],"a":[',
        '],"u":',
        ',"seq":',
        '},"cts":',
        "}",
    )
)
FRAME_FIELDS: Final = ("topic", "type", "ts", "symbol", "bids", "asks", "u", "seq", "cts")
"""The layout above with its fields as holes: the join fills them, the split cuts them out."""
FRAME_LITERALS: Final = tuple(_TEMPLATE.split(_HOLE))
"""The layout's text around its fields: FRAME_LITERALS[i] comes before FRAME_FIELDS[i]."""
FIELD_COLUMNS: Final = {
    "topic": "topic",
    "type": "book_type",
    "ts": "book_ts",
    "symbol": "symbol",
    "u": "book_u",
    "seq": "book_seq",
    "cts": "book_cts",
}
"""The stored column of each field but the levels (`bids`, `asks`: the level columns)."""

# -- joining -----------------------------------------------------------------------------------


def _levels_text(prices: pa.ListArray, sizes: pa.ListArray, table: pa.Table) -> pa.Array:
    """`["p","q"],...` of each row's levels (null where the row is not split)."""
    offsets = list_offsets(pc.list_value_length(prices))
    parents = pa.array(np.repeat(np.arange(len(prices)), np.diff(offsets)))
    price_scale = table["price_scale"].combine_chunks().take(parents)
    size_scale = table["size_scale"].combine_chunks().take(parents)
    level = pc.binary_join_element_wise(
        '["',
        decimal_text(pc.list_flatten(prices), price_scale),
        '","',
        decimal_text(pc.list_flatten(sizes), size_scale),
        '"]',
        "",
    )
    lists = pa.ListArray.from_arrays(pa.array(offsets), level, mask=prices.is_null())
    return pc.binary_join(lists, ",")


_JOIN_COLUMNS: Final = ("topic", "symbol", *(spec.name for spec in SPLIT_FIELDS))
"""What the join reads (not `payload`: combining its chunks would copy every frame)."""


def join_book_frames(table: pa.Table) -> pa.Array:
    """The frame bytes of every split row of a stored raw table (null in the other rows)."""
    column = {name: table[name].combine_chunks() for name in _JOIN_COLUMNS}
    bids = _levels_text(column["bid_prices"], column["bid_sizes"], table)
    asks = _levels_text(column["ask_prices"], column["ask_sizes"], table)
    text = pa.string()
    values = {field: column[name].cast(text) for field, name in FIELD_COLUMNS.items()}
    values.update(bids=bids, asks=asks)
    pieces = [
        part
        for field, literal in zip(FRAME_FIELDS, FRAME_LITERALS[:-1], strict=True)
        for part in (literal, values[field])
    ]
    frame = pc.binary_join_element_wise(*pieces, FRAME_LITERALS[-1], "")
    return frame.cast(pa.binary())


# -- splitting ---------------------------------------------------------------------------------

_KEY_END: Final = '":'
"""Every key of the layout ends with this and no value of it contains it (levels are
`["p","q"]`): splitting a frame here gives pieces that each hold at most one field."""
_PIECES: Final = _TEMPLATE.split(_KEY_END)
_FIELD_PIECES: Final = {
    name: (index, len(before), len(after))
    for name, (index, (before, after)) in zip(
        FRAME_FIELDS,
        ((i, piece.split(_HOLE)) for i, piece in enumerate(_PIECES) if _HOLE in piece),
        strict=True,
    )
    if name not in ("topic", "symbol")  # the row's own columns; the join checks them
}
"""field -> (piece index, characters before it in the piece, characters after it), for the
fields the split stores."""
_TYPE_PATTERN: Final = r"^[a-z]{1,16}$"


def _fields(payload: pa.Array) -> dict[str, pa.Array]:
    """The layout's fields of each frame (null where a frame does not have the layout's pieces;
    a field may still be wrong there: the join decides)."""
    pieces = pc.split_pattern(payload, _KEY_END)
    matched = pc.equal(pc.list_value_length(pieces), len(_PIECES))
    pieces = pc.if_else(matched, pieces, None)
    fields = {}
    for name, (index, before, after) in _FIELD_PIECES.items():
        piece = pc.list_element(pieces, index)
        fields[name] = pc.binary_slice(piece, before, -after if after else 1 << 30)
    return fields


def _split_levels(text: pa.Array) -> tuple[pa.ListArray, pa.ListArray, pa.Array, pa.Array]:
    """(prices, sizes, price scale, size scale) of level texts `["p","q"],...` (binary: a frame
    need not be UTF-8). A row's scale is the largest of its levels'; a text that is not all
    `["p","q"]` pairs gives levels that fail the join."""
    text = pc.if_else(pc.equal(text, b""), None, text)  # no level: no token
    tokens = pc.split_pattern(
        pc.replace_substring(pc.binary_slice(text, 2, -2), '"],["', '","'), '","'
    )
    lengths = pc.fill_null(pc.list_value_length(tokens), 0)
    odd = pc.equal(pc.bit_wise_and(lengths, 1), 1)
    if pc.any(odd).as_py():  # not pairs: such rows get no levels
        tokens = pc.if_else(odd, None, tokens)
        lengths = pc.if_else(odd, 0, lengths)
    flat = pc.list_flatten(tokens)
    offsets = list_offsets(pc.divide(lengths, 2))
    offsets_array = pa.array(offsets)
    prices, price_scales = decimals(flat.take(pa.array(np.arange(0, len(flat), 2))))
    sizes, size_scales = decimals(flat.take(pa.array(np.arange(1, len(flat), 2))))
    return (
        pa.ListArray.from_arrays(offsets_array, prices),
        pa.ListArray.from_arrays(offsets_array, sizes),
        row_max(price_scales, offsets),
        row_max(size_scales, offsets),
    )


def split_book_frames(table: pa.Table) -> pa.Table:
    """`table` (columns topic, symbol, payload) with its book frames split into SPLIT_FIELDS
    columns and their payload emptied, where joining gives back exactly the same bytes."""
    if len(table) == 0:
        for spec in SPLIT_FIELDS:
            table = set_column(table, spec, pa.array([], spec.type))
        return table
    payload = table["payload"].combine_chunks()
    books = pc.starts_with(table["topic"].combine_chunks(), BOOK_TOPIC_PREFIX)
    fields = _fields(pc.if_else(books, payload, None))
    bid_prices, bid_sizes, bid_price_scale, bid_size_scale = _split_levels(fields["bids"])
    ask_prices, ask_sizes, ask_price_scale, ask_size_scale = _split_levels(fields["asks"])
    kind = fields["type"]
    columns = {
        "book_type": pc.if_else(pc.match_substring_regex(kind, _TYPE_PATTERN), kind, None),
        "book_ts": canonical_int64(fields["ts"]),
        "book_u": canonical_int64(fields["u"]),
        "book_seq": canonical_int64(fields["seq"]),
        "book_cts": canonical_int64(fields["cts"]),
        "price_scale": pc.max_element_wise(bid_price_scale, ask_price_scale),
        "size_scale": pc.max_element_wise(bid_size_scale, ask_size_scale),
        "bid_prices": bid_prices,
        "bid_sizes": bid_sizes,
        "ask_prices": ask_prices,
        "ask_sizes": ask_sizes,
    }
    return keep_exact(table, payload, columns, SPLIT_FIELDS, join_book_frames)


# -- SQL (scalper query) -----------------------------------------------------------------------


def _levels_sql(side: str) -> str:
    """SQL of _levels_text: `["p","q"],...` of one side's levels."""
    price = decimal_sql("level[1]", "price_scale")
    size = decimal_sql("level[2]", "size_scale")
    return (
        f"array_to_string(list_transform(list_zip({side}_prices, {side}_sizes), "
        f"""lambda level: '["' || {price} || '","' || {size} || '"]'), ',')"""
    )


def frame_sql() -> str:
    """SQL of join_book_frames: the layout's text with each field's column."""
    values = dict(FIELD_COLUMNS)
    values.update(bids=_levels_sql("bid"), asks=_levels_sql("ask"))
    parts = [
        part
        for field, literal in zip(FRAME_FIELDS, FRAME_LITERALS[:-1], strict=True)
        for part in (quoted_sql(literal), values[field])
    ]
    return " || ".join([*parts, quoted_sql(FRAME_LITERALS[-1])])


# -- the codec ---------------------------------------------------------------------------------

_COUNTERS: Final = ("book_ts", "book_u", "book_seq", "book_cts")
"""Columns that grow by small steps from row to row of a topic: delta-encoded."""
_LEVEL_DIGITS: Final = tuple(
    f"{side}_{kind}.list.element" for side in ("bid", "ask") for kind in ("prices", "sizes")
)
"""Level digits: byte-stream split (the bytes of equal weight side by side) compresses them
~15 % smaller than plain (bench/recording.py's stream)."""


class BybitBookCodec:
    """Bybit v5 book frames (`orderbook.{depth}.{symbol}`) as integer columns."""

    name: Final = "bybit-book/1"
    supersedes: Final = ()
    fields: Final = SPLIT_FIELDS
    dictionary_columns: Final = ("book_type", "price_scale", "size_scale")
    column_encoding: Final = {
        **dict.fromkeys(_COUNTERS, "DELTA_BINARY_PACKED"),
        **dict.fromkeys(_LEVEL_DIGITS, "BYTE_STREAM_SPLIT"),
    }

    def split(self, table: pa.Table) -> pa.Table:
        return split_book_frames(table)

    def join(self, table: pa.Table) -> pa.Array | None:
        if "book_u" not in table.column_names or table["book_u"].null_count == len(table):
            return None
        return join_book_frames(table)

    def payload_sql(self) -> str:
        return f"CASE WHEN book_u IS NULL THEN payload ELSE encode({frame_sql()}) END"


BOOK_CODEC: Final = BybitBookCodec()
"""The codec Bybit sources recorded with before trade frames were split too (`frame_codec.py`):
their segments read with it."""
