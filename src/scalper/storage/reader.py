"""Reading a data directory back: recorded frames in receive order, and recent candles.

Only complete segments are read. A journal or partial file (a segment being written, or left by
a crash and not yet recovered) is skipped with a warning, as is a segment that cannot be read.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scalper.errors import InputError
from scalper.storage.codec import FrameCodec, codec_of
from scalper.storage.layout import (
    CANDLE_SCHEMA,
    RAW_SCHEMA,
    candles_root,
    raw_order_indices,
    raw_root,
    raw_sources,
)
from scalper.storage.segments import (
    JOURNAL_SUFFIX,
    complete_segments,
    iter_segment_tables,
    segments_between,
)

log = logging.getLogger(__name__)

Record = tuple[int, int, str, bytes]
"""(recv_ns, ts_ns, topic, payload) of one recorded row, in receive order."""


class RecordedTable(NamedTuple):
    """A stored raw row group, the codec it was written with (None: every frame whole in
    `payload`) and `rows`: the indices of its rows to read, in receive order (filters applied).
    `table.take(rows)` is what `iter_recorded` reads; readers of the codec's columns may index
    them in place instead."""

    table: pa.Table
    codec: FrameCodec | None
    rows: np.ndarray


def _warn_unfinished(root: Path) -> None:
    for journal in sorted(root.glob(f"date=*/*{JOURNAL_SUFFIX}")):
        log.warning(
            "skipping %s: a segment still being written or left by a crash "
            "(the next `scalper run` on this directory recovers it)",
            journal,
        )


def _segments(root: Path, from_ns: int | None, to_ns: int | None) -> list[Path]:
    _warn_unfinished(root)
    return segments_between(complete_segments(root), from_ns, to_ns)


def frame_payloads(table: pa.Table, codec: FrameCodec | None) -> pa.Array:
    """Every row's frame bytes: stored whole in `payload`, or joined by the codec."""
    payload = table["payload"].combine_chunks()
    joined = codec.join(table) if codec is not None else None
    return payload if joined is None else pc.coalesce(joined, payload)


def _tables_of(
    path: Path,
    from_ns: int | None,
    to_ns: int | None,
    symbols: frozenset[str] | None,
    codecs: Sequence[FrameCodec],
    topic_prefix: str | None,
) -> Iterator[RecordedTable]:
    try:
        codec = codec_of(pq.read_schema(path), codecs, RAW_SCHEMA.names, str(path))
        for table in iter_segment_tables(path, use_threads=False):
            rows = raw_order_indices(table).to_numpy()
            mask = _mask(table, from_ns, to_ns, symbols, topic_prefix)
            if mask is not None:
                rows = rows[mask.to_numpy(zero_copy_only=False)[rows]]
            yield RecordedTable(table, codec, rows)
    except (pa.ArrowInvalid, OSError) as exc:
        log.warning("skipping unreadable segment %s: %s", path, exc)


def _mask(
    table: pa.Table,
    from_ns: int | None,
    to_ns: int | None,
    symbols: frozenset[str] | None,
    topic_prefix: str | None,
) -> pa.Array | None:
    """The rows the filters keep (None: all)."""
    conditions = []
    recv = table["recv_ns"]
    if from_ns is not None:
        conditions.append(pc.greater_equal(recv, from_ns))
    if to_ns is not None:
        conditions.append(pc.less(recv, to_ns))
    if symbols is not None:
        # Rows without a symbol (acks, wall-clock candle closes) are kept: they apply to all.
        conditions.append(
            pc.or_(
                pc.is_in(table["symbol"], pa.array(sorted(symbols))),
                pc.equal(table["symbol"], ""),
            )
        )
    if topic_prefix is not None:
        conditions.append(pc.starts_with(table["topic"], topic_prefix))
    if not conditions:
        return None
    mask = conditions[0]
    for condition in conditions[1:]:
        mask = pc.and_(mask, condition)
    return pc.fill_null(mask, False).combine_chunks()


def table_records(table: pa.Table, codec: FrameCodec | None) -> Iterator[Record]:
    """The rows of a stored raw table as records, in its order (split frames joined back)."""
    return zip(
        table["recv_ns"].to_pylist(),
        table["ts_ns"].to_pylist(),
        table["topic"].to_pylist(),
        frame_payloads(table, codec).to_pylist(),
        strict=True,
    )


def recorded_segments(data_dir: Path) -> list[Path]:
    """Every complete raw segment of every source."""
    return [
        p for source in raw_sources(data_dir) for p in complete_segments(raw_root(data_dir, source))
    ]


def iter_recorded(
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: Iterable[str] | None = None,
    codecs: Sequence[FrameCodec] = (),
    topic_prefix: str | None = None,
) -> Iterator[Record]:
    """Every recorded row in receive order (several sources are merged by receive time).

    `codecs`: the venues' codecs, to join the frames they stored split (InputError for a
    segment that needs one not given). `topic_prefix`: only rows whose topic starts so (e.g.
    one channel's frames), filtered before any frame is joined."""
    streams = [
        (
            record
            for part in tables
            for record in table_records(part.table.take(part.rows), part.codec)
        )
        for tables in _source_tables(data_dir, from_ns, to_ns, symbols, codecs, topic_prefix)
    ]
    if len(streams) == 1:
        yield from streams[0]
    else:
        yield from heapq.merge(*streams, key=lambda record: record[0])


def iter_recorded_tables(
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: Iterable[str] | None = None,
    codecs: Sequence[FrameCodec] = (),
    topic_prefix: str | None = None,
) -> Iterator[RecordedTable]:
    """The recorded rows of a one-source data dir, a row group at a time as stored, each with
    the rows `iter_recorded` reads of it, in the same order: for readers of the codec's
    columns. InputError for several sources, whose rows only `iter_recorded` merges."""
    sources = _source_tables(data_dir, from_ns, to_ns, symbols, codecs, topic_prefix)
    if len(sources) > 1:
        raise InputError(
            f"{data_dir} holds {len(sources)} sources ({', '.join(raw_sources(data_dir))}):"
            " their rows are merged frame by frame (the JSON path)"
        )
    for tables in sources:
        yield from tables


def _source_tables(
    data_dir: Path,
    from_ns: int | None,
    to_ns: int | None,
    symbols: Iterable[str] | None,
    codecs: Sequence[FrameCodec],
    topic_prefix: str | None,
) -> list[Iterator[RecordedTable]]:
    if not (data_dir / "raw").is_dir():
        raise InputError(f"{data_dir} holds no recording (no raw/ directory)")
    wanted = frozenset(s.upper() for s in symbols) if symbols else None
    return [
        (
            part
            for path in _segments(raw_root(data_dir, source), from_ns, to_ns)
            for part in _tables_of(path, from_ns, to_ns, wanted, codecs, topic_prefix)
        )
        for source in raw_sources(data_dir)
    ]


def holds_frame(
    root: Path,
    recv_ns: int,
    payload_matches: Callable[[bytes], bool],
    codecs: Sequence[FrameCodec] = (),
    newest: int = 3,
) -> bool:
    """Whether one of the `newest` complete segments under a raw `root` holds a frame received
    at `recv_ns` whose bytes `payload_matches` (only rows with that receive time are read)."""
    for path in complete_segments(root)[-newest:]:
        try:
            codec = codec_of(pq.read_schema(path), codecs, RAW_SCHEMA.names, str(path))
            table = pq.read_table(path, filters=[("recv_ns", "=", recv_ns)])
        except (pa.ArrowInvalid, OSError) as exc:
            log.warning("skipping unreadable segment %s: %s", path, exc)
            continue
        if table.num_rows and any(
            payload_matches(raw) for raw in frame_payloads(table, codec).to_pylist()
        ):
            return True
    return False


def recorded_rows(data_dir: Path) -> int:
    """Rows in the complete raw segments (from their footers; the progress bar's total)."""
    total = 0
    for path in recorded_segments(data_dir):
        try:
            total += pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowInvalid, OSError):
            continue
    return total


def recorded_span(data_dir: Path) -> tuple[int, int] | None:
    """The first and last receive time of the complete raw segments (None: nothing recorded)."""
    first, last = None, None
    for path in recorded_segments(data_dir):
        try:
            times = pq.read_table(path, columns=["recv_ns"]).column("recv_ns")
        except (pa.ArrowInvalid, OSError, KeyError):
            continue
        if len(times) == 0:
            continue
        low, high = pc.min(times).as_py(), pc.max(times).as_py()
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
    return None if first is None or last is None else (first, last)


def read_recent_candles(data_dir: Path, since_ns: int) -> pa.Table:
    """Candles recorded with a start at or after `since_ns` (for the warm start)."""
    tables = []
    for path in _segments(candles_root(data_dir), since_ns, None):
        try:
            table = pq.read_table(path, schema=CANDLE_SCHEMA)
        except (pa.ArrowInvalid, OSError) as exc:
            log.warning("skipping unreadable segment %s: %s", path, exc)
            continue
        tables.append(table.filter(pc.greater_equal(table["start_ns"], since_ns)))
    if not tables:
        return CANDLE_SCHEMA.empty_table()
    return pa.concat_tables(tables)
