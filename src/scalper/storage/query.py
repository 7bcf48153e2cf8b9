"""`scalper query`: DuckDB over a data directory's candles, metrics and raw frames.

Each stream is a view over its complete segments (Hive partitioning adds a `date` column). A
stream with no segment yet is an empty table of the right columns, so queries still run, and a
warning says so (naming a data dir below it that has a recording, e.g. the demo's). The
`frames` view's `payload` is every frame's bytes: frames a venue's codec stored split are joined
back by that codec's SQL. The `readable_*` views show times as UTC timestamps and frames as text.

The trading tables (`trading_tables.py`) are the views `trading_<table>` (trading_audit,
trading_orders, ...): their complete segments and the rows already journaled of the segments
still being written (trading_reader.py), so the last second of trading is there too; empty, of
the right columns, when nothing was recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final

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
from scalper.storage.trading_reader import snapshot
from scalper.storage.trading_tables import TABLES as TRADING_TABLES

log = logging.getLogger(__name__)

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
    with, or by the one that supersedes the others (InputError for a segment that needs a codec
    not given, or for two codecs neither of which reads the other's segments)."""
    found = (codec_of(schema, codecs, RAW_SCHEMA.names, str(p)) for p, schema in _schemas(segments))
    used = {codec for codec in found if codec is not None}
    names = {codec.name for codec in used}
    reading = [codec for codec in used if names <= {codec.name, *codec.supersedes}]
    if used and not reading:
        raise InputError(
            "the frames of this data dir were stored by several codecs"
            f" ({', '.join(sorted(names))})"
        )
    payload = reading[0].payload_sql() if reading else "payload"
    return f"seq, recv_ns, ts_ns, topic, symbol, {payload} AS payload, date"


def _ts(column: str) -> str:
    """SQL of an epoch-ns column as a UTC timestamp (microseconds)."""
    return f"make_timestamp({column} // 1000)"


READABLE_VIEWS: Final = {
    "readable_candles": (
        f"SELECT symbol, timeframe, {_ts('start_ns')} AS start, * EXCLUDE (symbol, timeframe, "
        f"start_ns, recorded_ns), {_ts('recorded_ns')} AS recorded FROM candles"
    ),
    "readable_metrics": (
        f"SELECT {_ts('ts_ns')} AS at, symbol, {_ts('event_ns')} AS event_time, "
        "* EXCLUDE (ts_ns, symbol, event_ns) FROM metrics"
    ),
    "readable_frames": (
        f"SELECT {_ts('recv_ns')} AS received, {_ts('ts_ns')} AS event_time, topic, symbol, "
        "decode(payload) AS text, seq, date FROM frames"
    ),
}
"""Views of the tables for people: times as UTC timestamps, frames as text."""


def _one_line(exc: Exception) -> str:
    """DuckDB's message on one line (it may add lines: the statement, a caret under it), so
    that an error stays the one last line of what the command prints."""
    return " ".join(str(exc).split())


def _schemas(segments: list[Path]) -> list[tuple[Path, pa.Schema]]:
    """The schema of each segment still there (the disk budget may delete one meanwhile)."""
    schemas = []
    for path in segments:
        try:
            schemas.append((path, pq.read_schema(path)))
        except FileNotFoundError:
            continue
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
    return schemas


def connect(data_dir: Path, codecs: Sequence[FrameCodec] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per recorded stream of `data_dir` (and its readable
    views); a warning for each stream without a segment."""
    if not data_dir.is_dir():
        raise InputError(f"no data directory at {data_dir}{_elsewhere(data_dir.parent)}")
    connection = duckdb.connect()
    missing = []
    for table, schema in TABLES.items():
        glob, segments = _segments(data_dir, table)
        columns = _frame_columns(segments, codecs) if table == "frames" else "*"
        if segments:
            source = (
                f"read_parquet('{_quoted(glob)}', hive_partitioning = true, union_by_name = true)"
            )
            _create_view(connection, table, f"SELECT {columns} FROM {source}", data_dir)
        else:
            missing.append(table)
            empty = schema.empty_table().append_column("date", pa.array([], pa.string()))  # noqa: F841 (read by DuckDB's replacement scan)
            connection.execute(f"CREATE TABLE {table} AS SELECT {columns} FROM empty")
    for table in TRADING_TABLES:
        _trading_view(connection, data_dir, table)
    for view, sql in READABLE_VIEWS.items():
        _create_view(connection, view, sql, data_dir)
    if missing:
        log.warning(
            "%s holds no %s yet: those tables are empty%s",
            data_dir,
            " or ".join(missing),
            _elsewhere(data_dir),
        )
    return connection


def _create_view(
    connection: duckdb.DuckDBPyConnection, view: str, sql: str, data_dir: Path
) -> None:
    """CREATE VIEW `view` AS `sql`. DuckDB reads the segments' metadata as it binds the view,
    so a segment the disk budget deletes meanwhile fails it: an InputError saying so."""
    try:
        connection.execute(f"CREATE VIEW {view} AS {sql}")
    except duckdb.Error as exc:
        raise InputError(
            f"query failed: cannot read the {view} segments of {data_dir}: {_one_line(exc)} (a "
            "segment the disk budget deleted meanwhile is gone if you run it again)"
        ) from exc


def _trading_view(connection: duckdb.DuckDBPyConnection, data_dir: Path, table: str) -> None:
    """The view `trading_<table>`: its segments listed now (not a glob, which would also match
    a segment closed after its journal was read) and its journaled rows."""
    found = snapshot(data_dir, table)
    view = f"trading_{table}"
    journaled = f"journaled.{view}"  # a schema of its own: `main` lists the views only
    connection.execute("CREATE SCHEMA IF NOT EXISTS journaled")
    connection.register("rows", found.journal_rows)
    connection.execute(f"CREATE TABLE {journaled} AS SELECT * FROM rows")
    connection.unregister("rows")
    sources = [f"SELECT * FROM {journaled}"]
    if found.segments:
        files = ", ".join(f"'{_quoted(str(path))}'" for path in found.segments)
        sources.insert(
            0,
            f"SELECT * FROM read_parquet([{files}], hive_partitioning = true, "
            "union_by_name = true)",
        )
    connection.execute(f"CREATE VIEW {view} AS {' UNION ALL BY NAME '.join(sources)}")


def has_recording(data_dir: Path) -> bool:
    """Whether `data_dir` holds a recording (a raw, candles or metrics stream)."""
    return any((data_dir / stream).is_dir() for stream in ("raw", "candles", "metrics"))


def recordings_below(root: Path) -> list[Path]:
    """The data dirs just below `root` that hold a recording (e.g. data/demo below data)."""
    children = sorted(root.iterdir()) if root.is_dir() else []
    return [child for child in children if child.is_dir() and has_recording(child)]


def default_data_dir(data_dir: Path) -> Path:
    """The data dir a query with the default `data_dir` means: itself when it holds a recording
    or holds none below it, else the one recording below it (`make demo` records into
    data/demo, not ./data). Several below: still `data_dir` (the warning names them)."""
    if has_recording(data_dir):
        return data_dir
    found = recordings_below(data_dir)
    return found[0] if len(found) == 1 else data_dir


def _elsewhere(root: Path) -> str:
    """A hint naming the data dirs just below `root` that do hold a recording."""
    found = recordings_below(root)
    if not found:
        return ""
    return "; recordings are in " + ", ".join(map(str, found)) + " (query one with --data-dir)"


def run_query(
    data_dir: Path, sql: str, codecs: Sequence[FrameCodec] = ()
) -> tuple[list[str], list[tuple[object, ...]]]:
    """(column names, rows) of one SQL statement over the data directory; `codecs`: the
    venues' codecs, to join the frames they stored split."""
    connection = connect(data_dir, codecs)
    try:
        result = connection.execute(sql)
    except duckdb.Error as exc:
        raise InputError(f"query failed: {_one_line(exc)}") from exc
    if result.description is None:
        return [], []
    columns = [column[0] for column in result.description]
    return columns, result.fetchall()
