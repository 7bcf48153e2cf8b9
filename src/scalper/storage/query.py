"""`scalper query`: DuckDB over a data directory's candles, metrics and raw frames.

Each stream is a view over its complete segments (Hive partitioning adds a `date` column). A
stream with no segment yet is an empty table of the right columns, so queries still run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from scalper.errors import InputError
from scalper.storage.book_frames import FIELD_COLUMNS, FRAME_FIELDS, FRAME_LITERALS
from scalper.storage.layout import (
    CANDLE_SCHEMA,
    METRICS_SCHEMA,
    RAW_SCHEMA,
    candles_root,
    metrics_root,
)
from scalper.storage.segments import SEGMENT_SUFFIX

TABLES: dict[str, pa.Schema] = {
    "candles": CANDLE_SCHEMA,
    "metrics": METRICS_SCHEMA,
    "frames": RAW_SCHEMA,
}


def _glob(data_dir: Path, table: str) -> tuple[str, bool]:
    """The segment glob of a table and whether any segment matches it."""
    if table == "candles":
        root, pattern = candles_root(data_dir), f"date=*/*{SEGMENT_SUFFIX}"
    elif table == "metrics":
        root, pattern = metrics_root(data_dir), f"date=*/*{SEGMENT_SUFFIX}"
    else:
        root, pattern = data_dir / "raw", f"*/date=*/*{SEGMENT_SUFFIX}"
    return str(root / pattern), any(root.glob(pattern))


def _decimal_sql(digits: str, scale: str) -> str:
    """SQL of book_frames._decimal_text: digits at a scale as text ("0" for zero)."""
    unit = f"CAST(pow(10, {scale}) AS BIGINT)"
    return (
        f"CASE WHEN {digits} = 0 OR {scale} = 0 THEN CAST({digits} AS VARCHAR) ELSE "
        f"CAST({digits} // {unit} AS VARCHAR) || '.' || "
        f"substr(CAST({digits} % {unit} + {unit} AS VARCHAR), 2) END"
    )


def _levels_sql(side: str) -> str:
    """SQL of book_frames._levels_text: `["p","q"],...` of one side's levels."""
    price = _decimal_sql("level[1]", "price_scale")
    size = _decimal_sql("level[2]", "size_scale")
    return (
        f"array_to_string(list_transform(list_zip({side}_prices, {side}_sizes), "
        f"""lambda level: '["' || {price} || '","' || {size} || '"]'), ',')"""
    )


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _frame_sql() -> str:
    """SQL of book_frames.join_book_frames: the layout's text with each field's column."""
    values = dict(FIELD_COLUMNS)
    values.update(bids=_levels_sql("bid"), asks=_levels_sql("ask"))
    parts = [
        part
        for field, literal in zip(FRAME_FIELDS, FRAME_LITERALS[:-1], strict=True)
        for part in (f"'{_quoted(literal)}'", values[field])
    ]
    return " || ".join([*parts, f"'{_quoted(FRAME_LITERALS[-1])}'"])


_FRAME_PAYLOAD: Final = f"CASE WHEN book_u IS NULL THEN payload ELSE encode({_frame_sql()}) END"
"""The frame bytes of a raw row in SQL: book frames stored split are joined back."""

_FRAME_COLUMNS: Final = f"seq, recv_ns, ts_ns, topic, symbol, {_FRAME_PAYLOAD} AS payload, date"


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per recorded stream of `data_dir`."""
    if not data_dir.is_dir():
        raise InputError(f"no data directory at {data_dir}")
    connection = duckdb.connect()
    for table, schema in TABLES.items():
        glob, found = _glob(data_dir, table)
        columns = _FRAME_COLUMNS if table == "frames" else "*"
        if found:
            source = (
                f"read_parquet('{_quoted(glob)}', hive_partitioning = true, union_by_name = true)"
            )
            connection.execute(f"CREATE VIEW {table} AS SELECT {columns} FROM {source}")
        else:
            empty = schema.empty_table().append_column("date", pa.array([], pa.string()))  # noqa: F841 (read by DuckDB's replacement scan)
            connection.execute(f"CREATE TABLE {table} AS SELECT {columns} FROM empty")
    return connection


def run_query(data_dir: Path, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """(column names, rows) of one SQL statement over the data directory."""
    connection = connect(data_dir)
    try:
        result = connection.execute(sql)
    except duckdb.Error as exc:
        raise InputError(f"query failed: {exc}") from exc
    if result.description is None:
        return [], []
    columns = [column[0] for column in result.description]
    return columns, result.fetchall()
