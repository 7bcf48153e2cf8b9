"""Bybit's trade frames stored as typed columns, and joined back byte for byte.

Layout of a Bybit v5 trade frame (https://bybit-exchange.github.io/docs/v5/websocket/public/trade):
`{"topic":T,"type":K,"ts":N,"data":[{"T":N,"s":S,"S":"Buy","v":"q","p":"p","L":"PlusTick",
"i":I,"BT":false,"RPI":false,"seq":N},...]}`, `RPI` and `seq` in some frames and not in others.

Stored split, a frame is its `trade_type` and `trade_ts`, and its trades as list columns, one
item per trade: `trade_times` (T), `trade_prices` and `trade_sizes` (decimal digits at the row's
`price_scale` and `size_scale`, the book codec's columns), `trade_sides` and `trade_ticks`
(indices into SIDES and TICK_DIRECTIONS), `trade_ids`, `trade_block` (BT), `trade_rpi` and
`trade_seqs` (null items where the trade has no such field). A trade's `s` is the row's symbol.

Lossless by construction, as the book codec: `split_trade_frames` keeps a frame split only where
`join_trade_frames` gives back exactly its bytes; any other frame stays whole. A trade id is
split only as printable ASCII without quote or backslash, so it is also what JSON decodes.
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
from scalper.venues.bybit.topics import TRADE

TRADE_TOPIC_PREFIX: Final = f"{TRADE}."

SIDES: Final = ("Buy", "Sell")
"""`S` by its stored index (part of the stored layout: append only)."""
TICK_DIRECTIONS: Final = ("PlusTick", "ZeroPlusTick", "MinusTick", "ZeroMinusTick")
"""`L` by its stored index (part of the stored layout: append only)."""

_CODE: Final = pa.int8()
TRADE_FIELDS: Final = (
    pa.field("trade_type", pa.string()),
    pa.field("trade_ts", INT64),
    pa.field("trade_times", pa.list_(INT64)),
    pa.field("trade_prices", pa.list_(INT64)),
    pa.field("trade_sizes", pa.list_(INT64)),
    pa.field("trade_sides", pa.list_(_CODE)),
    pa.field("trade_ticks", pa.list_(_CODE)),
    pa.field("trade_ids", pa.list_(pa.string())),
    pa.field("trade_block", pa.list_(pa.bool_())),
    pa.field("trade_rpi", pa.list_(pa.bool_())),
    pa.field("trade_seqs", pa.list_(INT64)),
)
"""The columns of a split trade frame (null in every other row), besides the scales."""
SCALE_FIELDS: Final = (pa.field("price_scale", SCALE), pa.field("size_scale", SCALE))
"""Shared with the book codec: a row is a book frame or a trade frame, not both."""

_FRAME_PATTERN: Final = (
    r'^\{"topic":"(?P<topic>[^"]*)","type":"(?P<type>[a-z]{1,16})","ts":(?P<ts>[0-9]{1,19}),'
    r'"data":\[\{(?P<data>.*)\}\]\}$'
)
_TRADE_SEPARATOR: Final = "},{"
_TRADE_PATTERN: Final = (
    r'^"T":(?P<T>[0-9]{1,19}),"s":"[^"]*","S":"(?P<S>[A-Za-z]{1,16})",'
    r'"v":"(?P<v>[0-9.]{1,18})","p":"(?P<p>[0-9.]{1,18})","L":"(?P<L>[A-Za-z]{1,16})",'
    r'"i":"(?P<i>[ !#-\[\]-~]{0,100})","BT":(?P<BT>true|false)'
    r'(?:,"RPI":(?P<RPI>true|false))?(?:,"seq":(?P<seq>[0-9]{1,19}))?$'
)
"""One trade (between the frame's `},{`); `s` is not stored: the join writes the row's symbol."""

# -- joining -----------------------------------------------------------------------------------


def _parents(offsets: np.ndarray) -> pa.Array:
    """The row of each list item."""
    return pa.array(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)))


def _named(codes: pa.Array, names: tuple[str, ...]) -> pa.Array:
    return pa.array(names, pa.string()).take(codes)


def _trades_text(column: dict[str, pa.Array]) -> pa.Array:
    """`{"T":...},...` of each row's trades (null where the row is not split)."""
    times = column["trade_times"]
    offsets = list_offsets(pc.list_value_length(times))
    parents = _parents(offsets)
    rpi = pc.list_flatten(column["trade_rpi"])
    seqs = pc.list_flatten(column["trade_seqs"])
    text = pa.string()
    trade = pc.binary_join_element_wise(
        '{"T":',
        pc.list_flatten(times).cast(text),
        ',"s":"',
        column["symbol"].take(parents),
        '","S":"',
        _named(pc.list_flatten(column["trade_sides"]), SIDES),
        '","v":"',
        decimal_text(pc.list_flatten(column["trade_sizes"]), column["size_scale"].take(parents)),
        '","p":"',
        decimal_text(pc.list_flatten(column["trade_prices"]), column["price_scale"].take(parents)),
        '","L":"',
        _named(pc.list_flatten(column["trade_ticks"]), TICK_DIRECTIONS),
        '","i":"',
        pc.list_flatten(column["trade_ids"]),
        '","BT":',
        pc.if_else(pc.list_flatten(column["trade_block"]), "true", "false"),
        pc.if_else(pc.is_null(rpi), "", pc.if_else(rpi, ',"RPI":true', ',"RPI":false')),
        pc.if_else(
            pc.is_null(seqs), "", pc.binary_join_element_wise(',"seq":', seqs.cast(text), "")
        ),
        "}",
        "",
    )
    lists = pa.ListArray.from_arrays(pa.array(offsets), trade, mask=times.is_null())
    return pc.binary_join(lists, ",")


_JOIN_COLUMNS: Final = (
    "topic",
    "symbol",
    *(spec.name for spec in (*TRADE_FIELDS, *SCALE_FIELDS)),
)


def join_trade_frames(table: pa.Table) -> pa.Array:
    """The frame bytes of every split trade row of a stored raw table (null in other rows)."""
    column = {name: table[name].combine_chunks() for name in _JOIN_COLUMNS}
    frame = pc.binary_join_element_wise(
        '{"topic":"',
        column["topic"],
        '","type":"',
        column["trade_type"],
        '","ts":',
        column["trade_ts"].cast(pa.string()),
        ',"data":[',
        _trades_text(column),
        "]}",
        "",
    )
    return frame.cast(pa.binary())


# -- splitting ---------------------------------------------------------------------------------


def _codes(text: pa.Array, names: tuple[str, ...]) -> pa.Array:
    """Each text's index in `names` (null for another text)."""
    return pc.index_in(text, value_set=pa.array([name.encode() for name in names])).cast(_CODE)


def _optional(text: pa.Array) -> pa.Array:
    """Null where an optional group did not match (Arrow gives it as "")."""
    return pc.if_else(pc.equal(text, b""), None, text)


def _split_trades(data: pa.Array) -> tuple[dict[str, pa.Array], pa.Array, pa.Array]:
    """(list columns, price scale, size scale) of each row's `data` between its outer `[{`
    and `}]` (null rows: none). A trade not in the layout gives items that fail the join."""
    pieces = pc.split_pattern(data, _TRADE_SEPARATOR)
    offsets = list_offsets(pc.list_value_length(pieces))
    fields = pc.extract_regex(pc.list_flatten(pieces), _TRADE_PATTERN)
    part = {name: fields.field(name) for name in ("T", "S", "v", "p", "L", "i", "BT", "RPI", "seq")}
    prices, price_scales = decimals(part["p"])
    sizes, size_scales = decimals(part["v"])
    rpi = _optional(part["RPI"])
    items = {
        "trade_times": canonical_int64(part["T"]),
        "trade_prices": prices,
        "trade_sizes": sizes,
        "trade_sides": _codes(part["S"], SIDES),
        "trade_ticks": _codes(part["L"], TICK_DIRECTIONS),
        "trade_ids": part["i"].cast(pa.string()),
        "trade_block": pc.equal(part["BT"], b"true"),
        "trade_rpi": pc.if_else(pc.is_null(rpi), None, pc.equal(rpi, b"true")),
        "trade_seqs": canonical_int64(_optional(part["seq"])),
    }
    offsets_array = pa.array(offsets)
    lists = {
        name: pa.ListArray.from_arrays(offsets_array, values, mask=pieces.is_null())
        for name, values in items.items()
    }
    return lists, row_max(price_scales, offsets), row_max(size_scales, offsets)


def split_trade_frames(table: pa.Table) -> pa.Table:
    """`table` (columns topic, symbol, payload, and the scale columns if the book codec split
    it already) with its trade frames split into TRADE_FIELDS columns, their scales set and
    their payload emptied, where joining gives back exactly the same bytes."""
    if len(table) == 0:
        for spec in (*TRADE_FIELDS, *SCALE_FIELDS):
            if spec.name not in table.column_names:
                table = set_column(table, spec, pa.array([], spec.type))
        return table
    payload = table["payload"].combine_chunks()
    trades = pc.starts_with(table["topic"].combine_chunks(), TRADE_TOPIC_PREFIX)
    frame = pc.extract_regex(pc.if_else(trades, payload, None), _FRAME_PATTERN)
    lists, price_scale, size_scale = _split_trades(frame.field("data"))
    kind = frame.field("type")
    columns: dict[str, pa.Array] = {
        "trade_type": kind.cast(pa.string()),
        "trade_ts": canonical_int64(frame.field("ts")),
        **lists,
        "price_scale": price_scale,
        "size_scale": size_scale,
    }
    specs = (*TRADE_FIELDS, *SCALE_FIELDS)
    shared = {spec.name for spec in SCALE_FIELDS}  # the book split's too
    return keep_exact(table, payload, columns, specs, join_trade_frames, shared=shared)


# -- SQL (scalper query) -----------------------------------------------------------------------


def _names_sql(codes: str, names: tuple[str, ...]) -> str:
    return f"[{', '.join(map(quoted_sql, names))}][{codes} + 1]"


_RPI_TRUE: Final = quoted_sql(',"RPI":true')
_RPI_FALSE: Final = quoted_sql(',"RPI":false')
_SEQ: Final = quoted_sql(',"seq":')


def trade_frame_sql() -> str:
    """SQL of join_trade_frames: the layout's text with each field's column."""
    k = "trade_times[k]"
    trade = " || ".join(
        (
            quoted_sql('{"T":'),
            k,
            quoted_sql(',"s":"'),
            "symbol",
            quoted_sql('","S":"'),
            _names_sql("trade_sides[k]", SIDES),
            quoted_sql('","v":"'),
            decimal_sql("trade_sizes[k]", "size_scale"),
            quoted_sql('","p":"'),
            decimal_sql("trade_prices[k]", "price_scale"),
            quoted_sql('","L":"'),
            _names_sql("trade_ticks[k]", TICK_DIRECTIONS),
            quoted_sql('","i":"'),
            "trade_ids[k]",
            quoted_sql('","BT":'),
            "CASE WHEN trade_block[k] THEN 'true' ELSE 'false' END",
            f"CASE WHEN trade_rpi[k] IS NULL THEN '' WHEN trade_rpi[k] THEN {_RPI_TRUE} "
            f"ELSE {_RPI_FALSE} END",
            f"coalesce({_SEQ} || trade_seqs[k], '')",
            quoted_sql("}"),
        )
    )
    trades = (
        f"array_to_string(list_transform(range(1, len(trade_times) + 1), lambda k: {trade}), ',')"
    )
    return " || ".join(
        (
            quoted_sql('{"topic":"'),
            "topic",
            quoted_sql('","type":"'),
            "trade_type",
            quoted_sql('","ts":'),
            "trade_ts",
            quoted_sql(',"data":['),
            trades,
            quoted_sql("]}"),
        )
    )
