"""Decimal text <-> integer columns, over whole Arrow arrays (and as DuckDB SQL): what the Bybit
codecs (`book_codec.py`, `trade_codec.py`) split a frame's numbers into and join them back from.

A decimal is its digits as an int64 and its scale, the digits after the point ("0.000132602" is
132602 at scale 9). Only canonical text maps both ways (no sign, no leading zero but the units',
at most 17 digits); the codecs check every join against the stored bytes, so other text simply
stays whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INT64: Final = pa.int64()
SCALE: Final = pa.int8()

_DECIMAL_PATTERN: Final = r"^[0-9]{1,17}(\.[0-9]{1,16})?$"
_MAX_DECIMAL_CHARS: Final = 18
"""At most 18 characters, so at most 17 digits: an int64 holds them."""
_NUMBER_PATTERN: Final = r"^[1-9][0-9]{0,17}$|^0$"


def decimal_text(digits: pa.Array, scale: pa.Array) -> pa.Array:
    """ "132602" at scale 9 -> "0.000132602": integer part, point, fraction padded to `scale`.
    Zero is "0" at any scale (Bybit's size of a deleted level)."""
    scale = pc.if_else(pc.equal(digits, 0), 0, scale.cast(INT64))
    unit = pc.power(pa.scalar(10, INT64), scale)
    whole = pc.divide(digits, unit)  # integer division
    fraction = pc.subtract(digits, pc.multiply(whole, unit))
    # unit + fraction is "1" followed by the fraction zero-padded to `scale` digits.
    padded = pc.utf8_slice_codeunits(pc.add(unit, fraction).cast(pa.string()), 1, 64)
    # At scale 0 the fraction is empty: trimming the point leaves the integer.
    return pc.utf8_rtrim(pc.binary_join_element_wise(whole.cast(pa.string()), padded, "."), ".")


def decimals(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(digits, scale) of decimal strings; anything else counts as "0" (and fails the join)."""
    valid = pc.and_(
        pc.match_substring_regex(text, _DECIMAL_PATTERN),
        pc.less_equal(pc.binary_length(text), _MAX_DECIMAL_CHARS),
    )
    text = pc.if_else(valid, text, b"0").cast(pa.string())
    point = pc.find_substring(text, ".")
    scale = pc.if_else(
        pc.less(point, 0), 0, pc.subtract(pc.subtract(pc.utf8_length(text), point), 1)
    )
    digits = pc.replace_substring(text, ".", "").cast(INT64)
    return digits, scale.cast(SCALE)


def canonical_int64(text: pa.Array) -> pa.Array:
    """Canonical decimal integers as int64 (null for any other text)."""
    valid = pc.match_substring_regex(text, _NUMBER_PATTERN)
    return pc.if_else(valid, text, None).cast(INT64)


def list_offsets(lengths: pa.Array) -> np.ndarray:
    """List offsets of rows of `lengths` items (a null row has none)."""
    counts = pc.fill_null(lengths, 0).to_numpy(zero_copy_only=False)
    return np.concatenate(([0], np.cumsum(counts, dtype=np.int64))).astype(np.int32)


def row_max(values: pa.Array, offsets: np.ndarray) -> pa.Array:
    """The largest of each row's values (0 for a row without any)."""
    lengths = np.diff(offsets)
    out = np.zeros(len(lengths), np.int8)
    rows = lengths > 0
    if rows.any():
        out[rows] = np.maximum.reduceat(values.to_numpy(zero_copy_only=False), offsets[:-1][rows])
    return pa.array(out, SCALE)


def set_column(table: pa.Table, spec: pa.Field, values: pa.Array) -> pa.Table:
    """`table` with the column `spec` (added, or replaced) holding `values`."""
    values = values.cast(spec.type)
    index = table.schema.get_field_index(spec.name)
    if index < 0:
        return table.append_column(spec, values)
    return table.set_column(index, spec, values)


def keep_exact(
    table: pa.Table,
    payload: pa.Array,
    columns: dict[str, pa.Array],
    specs: Sequence[pa.Field],
    join: Callable[[pa.Table], pa.Array],
    shared: Collection[str] = (),
) -> pa.Table:
    """`table` with a codec's `columns` (one per field of `specs`) set where `join` gives back
    exactly the frame's bytes, there with its payload emptied; elsewhere the columns are null
    (a column in `shared`, which another codec's split may have set, keeps its value) and the
    payload whole. The one rule of every split: lossless by construction."""
    candidate = table
    for spec in specs:
        candidate = set_column(candidate, spec, columns[spec.name])
    split = pc.fill_null(pc.equal(join(candidate), payload), False)
    kept = pc.invert(split)
    result = table
    for spec in specs:
        values = columns[spec.name]
        if isinstance(values, pa.ListArray):
            values = pa.ListArray.from_arrays(values.offsets, values.values, mask=kept)
        else:
            values = pc.if_else(split, values, None)
        if spec.name in shared and spec.name in table.column_names:
            values = pc.if_else(split, values, table[spec.name].combine_chunks())
        result = set_column(result, spec, values)
    empty = pa.scalar(b"", payload.type)
    return set_column(result, table.schema.field("payload"), pc.if_else(split, empty, payload))


def decimal_sql(digits: str, scale: str) -> str:
    """SQL of decimal_text: digits at a scale as text ("0" for zero)."""
    unit = f"CAST(pow(10, {scale}) AS BIGINT)"
    return (
        f"CASE WHEN {digits} = 0 OR {scale} = 0 THEN CAST({digits} AS VARCHAR) ELSE "
        f"CAST({digits} // {unit} AS VARCHAR) || '.' || "
        f"substr(CAST({digits} % {unit} + {unit} AS VARCHAR), 2) END"
    )


def quoted_sql(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
