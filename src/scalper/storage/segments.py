"""Segments: one Parquet file per stream per period (an hour for raw frames), crash-safe.

While a segment is open its rows go two ways:
- a journal (`*.journal`, an Arrow IPC stream, zstd): every chunk is appended and flushed as
  it arrives, so after a crash every chunk but a torn last one can be read back;
- the segment itself (`*.parquet.partial`), written a row group at a time. Rows of a row group
  are grouped by `group_by` (e.g. topic, keeping arrival order within a topic): frames of one
  topic side by side compress about 20 % smaller (bench/recording.py).

At the end of its period (or when the segment reaches `max_segment_bytes`, or on stop) the
segment is closed, fsynced and renamed to `*.parquet`: only then is it visible, complete. The
journal is then deleted. `recover_journal` turns a journal left by a crash into a segment.
File names start with the segment's first time key in ns, so names sort in time order; a new
segment whose first key is not later than its stream's newest segment (time keys of several
ingest workers interleave in a stream's order) is named just after that one instead, so reading
by name keeps the order the rows were written in.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

HOUR_NS: Final = 3_600_000_000_000
SEGMENT_SUFFIX: Final = ".parquet"
PARTIAL_SUFFIX: Final = ".parquet.partial"
JOURNAL_SUFFIX: Final = ".journal"
_EPOCH: Final = datetime.date(1970, 1, 1)


class SegmentFormat:
    """How the segments of one stream are laid out and compressed."""

    def __init__(
        self,
        schema: pa.Schema,
        time_column: str,
        input_schema: pa.Schema | None = None,
        encode: Callable[[pa.Table, int | None], pa.Table] | None = None,
        group_by: str | None = None,
        row_group_rows: int = 65_536,
        zstd_level: int = 6,
        dictionary_columns: Sequence[str] = (),
        column_encoding: Mapping[str, str] | None = None,
        roll_ns: int = HOUR_NS,
    ) -> None:
        self.schema = schema
        """The columns stored in the segment."""
        self.input_schema = input_schema or schema
        """The columns of the chunks appended (and journaled)."""
        self.encode = encode
        """Turns a row group of input rows into stored rows (default: as they are); it is also
        given the last time key of the segment's previous row group (None for the first)."""
        self.time_column = time_column
        """The int64 ns column that decides a row's period (the first row of a chunk decides)."""
        self.group_by = group_by
        """Within a row group, rows with the same value of this column are stored together
        (order of the groups: first appearance; order within a group: arrival)."""
        self.row_group_rows = row_group_rows
        self.zstd_level = zstd_level
        self.dictionary_columns = list(dictionary_columns)
        self.column_encoding = dict(column_encoding or {})
        """Parquet encodings by column path (default: dictionary or plain)."""
        self.roll_ns = roll_ns
        """Segments cover aligned periods of this length (an hour for raw frames)."""

    def period_of(self, ts_ns: int) -> int:
        return ts_ns - ts_ns % self.roll_ns

    def parquet_writer(self, path: Path) -> pq.ParquetWriter:
        return pq.ParquetWriter(
            path,
            self.schema,
            compression="zstd",
            compression_level=self.zstd_level,
            use_dictionary=self.dictionary_columns or False,
            column_encoding=self.column_encoding or None,
            data_page_size=1 << 20,
        )

    def stored(self, table: pa.Table, after_ns: int | None = None) -> pa.Table:
        """A row group of input rows as stored: encoded, then rows with the same `group_by`
        value side by side, in their order otherwise. `after_ns`: the last time key of the
        segment's previous row group, if any."""
        if self.encode is not None:
            table = self.encode(table, after_ns)
        if self.group_by is None:
            return table
        table = table.combine_chunks()
        keys = pc.dictionary_encode(table[self.group_by]).combine_chunks().indices
        return table.take(pc.sort_indices(keys))  # Arrow's sort is stable


def segment_name(first_ns: int) -> str:
    """`<first time key, 19 digits>`: names sort in time order (until the year 2286)."""
    return f"{first_ns:019d}"


def segment_first_ns(path: Path) -> int:
    """The first time key a segment (or its journal or partial file) is named after; 0 if none."""
    stem = path.name.split(".", 1)[0]
    return int(stem) if stem.isdigit() else 0


def date_partition(ts_ns: int) -> str:
    """`date=YYYY-MM-DD` (UTC) of a time in ns: Hive-style, so DuckDB sees a `date` column."""
    day = _EPOCH + datetime.timedelta(days=ts_ns // 86_400_000_000_000)
    return f"date={day.isoformat()}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OpenSegment:
    """The segment being written: journal + partial Parquet file + rows not yet in a row group."""

    def __init__(
        self, directory: Path, first_ns: int, fmt: SegmentFormat, name_ns: int | None = None
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.directory = directory
        self.period_ns = fmt.period_of(first_ns)
        base = directory / segment_name(first_ns if name_ns is None else name_ns)
        self.final_path = base.with_suffix(SEGMENT_SUFFIX)
        self.partial_path = base.with_suffix(PARTIAL_SUFFIX)
        self.journal_path = base.with_suffix(JOURNAL_SUFFIX)
        self._journal_file = self.journal_path.open("wb", buffering=0)
        self._journal = ipc.new_stream(
            self._journal_file,
            fmt.input_schema,
            options=ipc.IpcWriteOptions(compression=pa.Codec("zstd", 1)),
        )
        self._parquet = fmt.parquet_writer(self.partial_path)
        self._pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        """Rows appended since the last row group was written (held in memory until then)."""
        self.pending_bytes = 0
        """Arrow bytes of those rows: the segment's share of the recorder's memory."""
        self._last_ns: int | None = None
        self.rows = 0

    def append(self, batch: pa.RecordBatch) -> None:
        """Journal the batch now (flushed to the OS); write a row group when enough are pending."""
        self._journal.write_batch(batch)
        self._pending.append(batch)
        self.pending_rows += batch.num_rows
        self.pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self.pending_rows >= self.fmt.row_group_rows:
            self._write_row_group()

    def sync(self) -> None:
        """fsync the journal: what was appended survives a power cut too."""
        os.fsync(self._journal_file.fileno())

    @property
    def bytes_on_disk(self) -> int:
        return _size(self.partial_path) + _size(self.journal_path)

    def close(self) -> Path:
        """Write what is pending, make the segment visible (atomic rename), drop the journal."""
        self._write_row_group()
        self._parquet.close()
        _publish(self.partial_path, self.final_path)
        self._journal.close()
        self._journal_file.close()
        self.journal_path.unlink(missing_ok=True)
        return self.final_path

    def _write_row_group(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, self.fmt.input_schema)
        self._parquet.write_table(self.fmt.stored(table, self._last_ns), row_group_size=len(table))
        self._last_ns = _last_time(table, self.fmt)
        self._pending.clear()
        self.pending_rows = 0
        self.pending_bytes = 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _fsync_file(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _publish(partial: Path, final: Path) -> None:
    """Make a written segment visible, whole: fsync it, rename it atomically, fsync the dir."""
    _fsync_file(partial)
    os.replace(partial, final)
    _fsync_dir(final.parent)


class SegmentWriter:
    """Appends chunks of one stream to periodic segments under `root` (`date=.../<first_ns>`)."""

    def __init__(self, root: Path, fmt: SegmentFormat, max_segment_bytes: int | None) -> None:
        self.root = root
        self.fmt = fmt
        self.max_segment_bytes = max_segment_bytes
        self.current: OpenSegment | None = None
        self._newest_name_ns: int | None = None
        """Name of the stream's newest segment (read from `root` when the first one opens)."""
        self._last_growth = 0
        self.segments_written = 0
        self.rows_written = 0

    def append(self, batch: pa.RecordBatch) -> Path | None:
        """Append a chunk; returns the path of a segment this closed (rolled), if any."""
        if batch.num_rows == 0:
            return None
        first_ns = batch.column(self.fmt.time_column)[0].as_py()
        closed = None
        current = self.current
        if current is not None and (
            self.fmt.period_of(first_ns) != current.period_ns
            or (
                self.max_segment_bytes is not None
                and current.bytes_on_disk + self._last_growth > self.max_segment_bytes
            )
        ):
            closed = self.close()
        if self.current is None:
            self.current = OpenSegment(
                self.root / date_partition(first_ns), first_ns, self.fmt, self._name_ns(first_ns)
            )
        before = self.current.bytes_on_disk
        self.current.append(batch)
        # The next chunk is expected to add as much: close before it would pass the cap.
        self._last_growth = self.current.bytes_on_disk - before
        self.rows_written += batch.num_rows
        return closed

    def _name_ns(self, first_ns: int) -> int:
        """A new segment's name: its first time key, or just after the stream's newest segment
        when that key is not later (an equal name would replace that segment)."""
        newest = self._newest_name_ns
        if newest is None:
            existing = complete_segments(self.root)
            newest = segment_first_ns(existing[-1]) if existing else -1
        name = max(first_ns, newest + 1)
        self._newest_name_ns = name
        return name

    def sync(self) -> None:
        if self.current is not None:
            self.current.sync()

    @property
    def buffered_rows(self) -> int:
        """Rows of the open segment not yet in a row group."""
        return 0 if self.current is None else self.current.pending_rows

    @property
    def buffered_bytes(self) -> int:
        """Their Arrow bytes."""
        return 0 if self.current is None else self.current.pending_bytes

    def close(self) -> Path | None:
        """Close the open segment (if any); returns its final path."""
        current, self.current = self.current, None
        if current is None:
            return None
        self.segments_written += 1
        return current.close()


def read_journal(path: Path) -> tuple[list[pa.RecordBatch], bool]:
    """The complete batches of a journal, and whether its tail was torn (a crash mid-write)."""
    batches: list[pa.RecordBatch] = []
    try:
        with path.open("rb") as file, ipc.open_stream(file) as reader:
            for batch in reader:
                batches.append(batch)  # noqa: PERF402 (a torn tail raises mid-iteration)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError, EOFError):
        return batches, True
    return batches, False


def recover_journal(path: Path, fmt: SegmentFormat) -> tuple[Path | None, int, bool]:
    """Turn a crashed segment's journal into a complete segment.

    Returns (segment path or None when the journal held no complete chunk, rows recovered,
    whether the journal's tail was torn). The unreadable `.partial` is removed either way.
    """
    base = path.with_suffix("")
    final = base.with_suffix(SEGMENT_SUFFIX)
    partial = base.with_suffix(PARTIAL_SUFFIX)
    if final.exists():  # crashed after the rename, before the journal was deleted
        path.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
        return final, 0, False
    batches, torn = read_journal(path)
    rows = sum(batch.num_rows for batch in batches)
    segment = None
    if rows:
        writer = fmt.parquet_writer(partial)
        last_ns = None
        for group in _row_groups(batches, fmt.row_group_rows):
            table = pa.Table.from_batches(group, fmt.input_schema)
            writer.write_table(fmt.stored(table, last_ns), row_group_size=len(table))
            last_ns = _last_time(table, fmt)
        writer.close()
        _publish(partial, final)
        segment = final
    partial.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return segment, rows, torn


def _last_time(table: pa.Table, fmt: SegmentFormat) -> int:
    return table[fmt.time_column][-1].as_py()


def _row_groups(batches: list[pa.RecordBatch], rows: int) -> Iterator[list[pa.RecordBatch]]:
    """Consecutive batches grouped to about `rows` rows, as the live writer groups them."""
    group: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield group
            group, count = [], 0
    if group:
        yield group


def complete_segments(root: Path) -> list[Path]:
    """Complete segments under `root`, oldest first (by name: the first time key)."""
    if not root.is_dir():
        return []
    return sorted(root.glob(f"date=*/*{SEGMENT_SUFFIX}"), key=lambda p: p.name)


def segments_between(segments: list[Path], from_ns: int | None, to_ns: int | None) -> list[Path]:
    """The segments (oldest first) that may hold rows with time keys in [from_ns, to_ns]."""
    if from_ns is not None:
        # A segment's name is its first time key: the one before the first later one may
        # still hold rows at or after from_ns.
        first = max(0, sum(1 for p in segments if segment_first_ns(p) <= from_ns) - 1)
        segments = segments[first:]
    if to_ns is not None:
        segments = [p for p in segments if segment_first_ns(p) <= to_ns]
    return segments


def iter_segment_tables(
    path: Path,
    order: Callable[[pa.Table], pa.Table] | None = None,
    use_threads: bool = True,
) -> Iterator[pa.Table]:
    """The row groups of a segment as tables, each put back in order by `order`.
    `use_threads=False` reads each on the calling thread alone: no faster, but no CPU spent
    handing columns to Arrow's thread pool (a replay keeps to one core)."""
    parquet = pq.ParquetFile(path)
    for index in range(parquet.num_row_groups):
        table = parquet.read_row_group(index, use_threads=use_threads)
        yield table if order is None else order(table)
