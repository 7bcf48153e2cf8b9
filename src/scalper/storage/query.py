"""`scalper query`: DuckDB over a data directory's candles, metrics and raw frames.

Each stream is a view over its complete segments (Hive partitioning adds a `date` column). A
stream with no segment yet is an empty table of the right columns, so queries still run. The
`frames` view's `payload` is every frame's bytes: frames a venue's codec stored split are joined
back by that codec's SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from scalper.errors import InputError
from scalper.settings import EngineSettings
from scalper.storage.codec import FrameCodec, codec_of
from scalper.storage.layout import (
    CANDLE_SCHEMA,
    RAW_SCHEMA,
    candles_root,
    metrics_root,
    metrics_schema,
)
from scalper.storage.segments import SEGMENT_SUFFIX

TABLES: dict[str, pa.Schema] = {
    "candles": CANDLE_SCHEMA,
    "metrics": metrics_schema(EngineSettings().flow_windows),
    "frames": RAW_SCHEMA,
}
"""The columns of each table when the data dir has no segment of it yet."""


def _segments(data_dir: Path, table: str) -> tuple[str, list[Path]]:
    """The segment glob of a table and the segments it matches."""
    if table == "candles":
        root, pattern = candles_root(data_dir), f"date=*/*{SEGMENT_SUFFIX}"
    elif table == "metrics":
        root, pattern = metrics_root(data_dir), f"date=*/*{SEGMENT_SUFFIX}"
    else:
        root, pattern = data_dir / "raw", f"*/date=*/*{SEGMENT_SUFFIX}"
    return str(root / pattern), sorted(root.glob(pattern))


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _frame_columns(segments: list[Path], codecs: Sequence[FrameCodec]) -> str:
    """The frames view's columns: `payload` joined back by the codec the segments were written
    with (InputError for a segment that needs a codec not given, or for two codecs at once)."""
    used = {
        codec_of(pq.read_schema(path), codecs, RAW_SCHEMA.names, str(path)) for path in segments
    }
    used.discard(None)
    if len(used) > 1:
        names = ", ".join(sorted(codec.name for codec in used if codec is not None))
        raise InputError(f"the frames of this data dir were stored by several codecs ({names})")
    payload = used.pop().payload_sql() if used else "payload"  # type: ignore[union-attr]
    return f"seq, recv_ns, ts_ns, topic, symbol, {payload} AS payload, date"


def connect(data_dir: Path, codecs: Sequence[FrameCodec] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per recorded stream of `data_dir`."""
    if not data_dir.is_dir():
        raise InputError(f"no data directory at {data_dir}")
    connection = duckdb.connect()
    for table, schema in TABLES.items():
        glob, segments = _segments(data_dir, table)
        columns = _frame_columns(segments, codecs) if table == "frames" else "*"
        if segments:
            source = (
                f"read_parquet('{_quoted(glob)}', hive_partitioning = true, union_by_name = true)"
            )
            connection.execute(f"CREATE VIEW {table} AS SELECT {columns} FROM {source}")
        else:
            empty = schema.empty_table().append_column("date", pa.array([], pa.string()))  # noqa: F841 (read by DuckDB's replacement scan)
            connection.execute(f"CREATE TABLE {table} AS SELECT {columns} FROM empty")
    return connection


def run_query(
    data_dir: Path, sql: str, codecs: Sequence[FrameCodec] = ()
) -> tuple[list[str], list[tuple[object, ...]]]:
    """(column names, rows) of one SQL statement over the data directory; `codecs`: the
    venues' codecs, to join the frames they stored split."""
    connection = connect(data_dir, codecs)
    try:
        result = connection.execute(sql)
    except duckdb.Error as exc:
        raise InputError(f"query failed: {exc}") from exc
    if result.description is None:
        return [], []
    columns = [column[0] for column in result.description]
    return columns, result.fetchall()
