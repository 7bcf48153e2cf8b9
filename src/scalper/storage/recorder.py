"""The recorder: every frame as received, closed candles and per-second metrics, on disk, and
the trading layer's tables (`trading_tables.py`, handed over by `TradingRecorder`).

The event loop only appends a frame's columns to lists (`record_frame`) and hands full
chunks to a bounded queue; a writer thread turns chunks into Arrow batches and segments (see
segments.py). Ingestion never waits on disk: when the queue is full the chunk is dropped and
counted (`frames_dropped`, reported by health), because a stalled disk must not stall the books.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from array import array
from collections.abc import Callable
from itertools import accumulate, repeat
from pathlib import Path
from typing import Final, Literal

import msgspec
import pyarrow as pa

from scalper.allocators import map_large_blocks
from scalper.engine import CandleClosed, Engine, Notification
from scalper.settings import EngineSettings, RecorderSettings
from scalper.storage.budget import DiskUsage, disk_usage, enforce_budget
from scalper.storage.codec import FrameCodec
from scalper.storage.layout import (
    CANDLE_FORMAT,
    CHUNK_SCHEMA,
    CLOCK_TOPIC,
    candles_root,
    metrics_format,
    metrics_root,
    raw_format,
    raw_root,
)
from scalper.storage.lock import DataDirLock
from scalper.storage.rows import candle_row, metrics_rows
from scalper.storage.segments import (
    JOURNAL_SUFFIX,
    PARTIAL_SUFFIX,
    SegmentFormat,
    SegmentWriter,
    recover_journal,
)
from scalper.storage.trading_tables import TABLES, stream_name, table_root

log = logging.getLogger(__name__)

_RAW: Final = "raw"
_CANDLES: Final = "candles"
_METRICS: Final = "metrics"
_NS_PER_DAY: Final = 86_400_000_000_000
_ARROW_POOLS: Final = {
    "system": pa.system_memory_pool,
    "jemalloc": pa.jemalloc_memory_pool,
    "mimalloc": pa.mimalloc_memory_pool,
}


class RecorderStats(msgspec.Struct):
    frames_recorded: int = 0
    frames_dropped: int = 0
    chunks_dropped: int = 0
    candles_recorded: int = 0
    metrics_rows_recorded: int = 0
    segments_written: int = 0
    segments_deleted: int = 0
    segments_recovered: int = 0
    write_errors: int = 0
    last_error: str = ""
    queue_depth: int = 0
    queue_capacity: int = 0
    writer_cpu_s: float = 0.0
    """CPU time of the writer thread so far."""
    buffered_rows: int = 0
    """Rows of the open segments waiting in memory for their row group (every stream)."""
    buffered_bytes: int = 0
    """Their Arrow bytes, as of the writer's last chunk."""
    rows_recorded: dict[str, int] = msgspec.field(default_factory=dict)
    """Rows written per trading stream (`trading/<table>`)."""
    rows_dropped: dict[str, int] = msgspec.field(default_factory=dict)
    """Rows of a trading stream lost: handed over while the queue was full, or failing to be
    written."""


class RawColumns:
    """Raw frame rows kept column by column: appending to six lists on the event loop is
    cheaper than a tuple per frame transposed by the writer (bench/recording.py)."""

    __slots__ = ("payload", "recv_ns", "seq", "symbol", "topic", "ts_ns")

    def __init__(self) -> None:
        self.seq: list[int] = []
        self.recv_ns: list[int] = []
        self.ts_ns: list[int] = []
        self.topic: list[str] = []
        self.symbol: list[str] = []
        self.payload: list[bytes] = []

    def __len__(self) -> int:
        return len(self.seq)

    def to_batch(self) -> pa.RecordBatch:
        """The rows as a CHUNK_SCHEMA batch (book frames are split later, a row group at once,
        by the segment format: see layout.encode_raw)."""
        int64 = pa.int64()
        return pa.RecordBatch.from_arrays(
            [
                pa.array(self.seq, int64),
                pa.array(self.recv_ns, int64),
                pa.array(self.ts_ns, int64),
                pa.array(self.topic, pa.string()),
                pa.array(self.symbol, pa.string()),
                binary_array(self.payload),
            ],
            schema=CHUNK_SCHEMA,
        )


def binary_array(values: list[bytes]) -> pa.Array:
    """A binary array built from one joined buffer: ~5x faster than pa.array(values) for
    frames of a few hundred bytes (bench/recording.py)."""
    offsets = array("i", [0])
    offsets.extend(accumulate(map(len, values)))
    data = b"".join(values)
    return pa.Array.from_buffers(
        pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


_Chunk = tuple[str, "RawColumns | list[tuple[object, ...]]"]

RecordedStreams = Literal["all", "frames", "derived"]
"""What a recorder writes: `all` (one process: frames, candles, metrics, trading tables),
`frames` (the raw frames of its source only: the recorder consumer of `--workers N`) or
`derived` (all but the raw frames: the engine's process when that consumer records them)."""


def rows_to_batch(rows: list[tuple[object, ...]], schema: pa.Schema) -> pa.RecordBatch:
    """Row tuples (in the schema's column order) as one Arrow batch."""
    columns = zip(*rows, strict=True)
    return pa.RecordBatch.from_arrays(
        [pa.array(column, field.type) for column, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


class Recorder:
    """Records one source's frames (e.g. `bybit-linear`) plus candles and metrics under a dir.

    `codec`: the venue's way to store its frames compactly (None: every frame whole, or when
    `settings.split_book_frames` is off). `flow_windows`: the engine's, recorded per second in
    the metrics stream. `streams`: what it writes (`RecordedStreams`); two recorders with
    disjoint streams may share a data dir, each locking and recovering only its own part."""

    def __init__(
        self,
        data_dir: Path,
        settings: RecorderSettings | None = None,
        source: str = "bybit-linear",
        clock: Callable[[], int] = time.time_ns,
        codec: FrameCodec | None = None,
        flow_windows: tuple[str, ...] = EngineSettings().flow_windows,
        streams: RecordedStreams = "all",
    ) -> None:
        self.data_dir = data_dir
        self.streams = streams
        self.settings = settings or RecorderSettings()
        self.source = source
        self.stats = RecorderStats(queue_capacity=self.settings.queue_chunks)
        self._clock = clock
        self._queue: queue.Queue[_Chunk | None] = queue.Queue(self.settings.queue_chunks)
        self._raw = RawColumns()
        self._candle_rows: list[tuple[object, ...]] = []
        self._seq = 0
        cap = self.settings.segment_cap
        self._formats: dict[str, SegmentFormat] = {
            _RAW: raw_format(
                codec if self.settings.split_book_frames else None,
                self.settings.zstd_level,
                self.settings.sort_by_topic,
            ),
            _CANDLES: CANDLE_FORMAT,
            _METRICS: metrics_format(flow_windows),
            **{stream_name(name): table.format() for name, table in TABLES.items()},
        }
        writers = {
            _RAW: SegmentWriter(raw_root(data_dir, source), self._formats[_RAW], cap),
            _CANDLES: SegmentWriter(candles_root(data_dir), CANDLE_FORMAT, cap),
            _METRICS: SegmentWriter(metrics_root(data_dir), self._formats[_METRICS], cap),
            **{
                stream_name(name): SegmentWriter(
                    table_root(data_dir, name), self._formats[stream_name(name)], cap
                )
                for name in TABLES
            },
        }
        self._writers = {
            stream: writer
            for stream, writer in writers.items()
            if streams == "all" or (stream == _RAW) == (streams == "frames")
        }
        self._usage = DiskUsage(0, 0, 0, self.settings.max_disk_bytes)
        self._thread: threading.Thread | None = None
        self._lock: DataDirLock | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Take the data dir's lock, recover what a crash left, apply the budget, start the
        writer thread. ConfigError if another process records into the same dir: its open
        journals would look like a crash's and be "recovered" under it."""
        root = self._root
        root.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(root)
        if self.settings.map_blocks_from_bytes is not None:
            map_large_blocks(self.settings.map_blocks_from_bytes)
        pa.set_memory_pool(_ARROW_POOLS[self.settings.arrow_memory_pool]())
        self.recover()
        self._enforce_budget()
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Hand over what is pending, then close every segment (complete and visible)."""
        if self._thread is None:
            return
        self.flush()
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def drain(self) -> None:
        """Wait until the writer has handled (written, budget checked) every chunk handed over
        so far."""
        if self._thread is not None:
            self._queue.join()

    @property
    def _root(self) -> Path:
        """The folder this recorder locks and recovers: the data dir, or its source's raw
        folder when it records the frames alone."""
        if self.streams == "frames":
            return raw_root(self.data_dir, self.source)
        return self.data_dir

    def _left_by_crash(self, suffix: str) -> list[Path]:
        """Files of this recorder's streams with `suffix` (a `derived` recorder leaves the raw
        folder to the process recording the frames)."""
        raw = self.data_dir / _RAW
        return sorted(
            path
            for path in self._root.rglob(f"*{suffix}")
            if self.streams != "derived" or not path.is_relative_to(raw)
        )

    def recover(self) -> int:
        """Turn journals left by a crash into segments; returns how many were recovered."""
        recovered = 0
        for journal in self._left_by_crash(JOURNAL_SUFFIX):
            fmt = self._format_of(journal)
            segment, rows, torn = recover_journal(journal, fmt)
            recovered += segment is not None
            log.warning(
                "recovered %s after a crash: %d rows%s",
                segment or journal,
                rows,
                " (a torn last chunk was dropped)" if torn else "",
            )
        for partial in self._left_by_crash(PARTIAL_SUFFIX):
            log.warning("removing %s: an unfinished segment without its journal", partial)
            partial.unlink(missing_ok=True)
        self.stats.segments_recovered += recovered
        return recovered

    def _format_of(self, path: Path) -> SegmentFormat:
        parts = path.relative_to(self.data_dir).parts
        return self._formats.get(
            "/".join(parts[:2]), self._formats.get(parts[0], self._formats[_RAW])
        )

    # -- the event-loop side -------------------------------------------------------------------

    def record_frame(self, raw: bytes, recv_ns: int, ts_ns: int, topic: str, symbol: str) -> None:
        """Keep one frame as received (before it is applied, so the order is the engine's):
        `ts_ns` its venue time (0 if none), `topic` the venue's name of its stream ("" for a
        reply that is not market data), `symbol` "" if none."""
        columns = self._raw
        columns.seq.append(self._seq)
        columns.recv_ns.append(recv_ns)
        columns.ts_ns.append(ts_ns)
        columns.topic.append(topic)
        columns.symbol.append(symbol)
        columns.payload.append(raw)
        self._seq += 1
        if len(columns.seq) >= self.settings.chunk_rows:
            self._hand_over(_RAW, columns)
            self._raw = RawColumns()

    def record_frames(
        self,
        raws: list[bytes],
        recv_ns: int,
        ts_ns: list[int],
        topics: list[str],
        symbols: list[str],
    ) -> None:
        """Keep the frames of one read of the socket, which share their receive time, as
        `record_frame` keeps each: one call per read instead of one per frame (a chunk may
        pass `chunk_rows` by the frames of one read)."""
        count = len(raws)
        columns = self._raw
        columns.seq.extend(range(self._seq, self._seq + count))
        columns.recv_ns.extend(repeat(recv_ns, count))
        columns.ts_ns.extend(ts_ns)
        columns.topic.extend(topics)
        columns.symbol.extend(symbols)
        columns.payload.extend(raws)
        self._seq += count
        if len(columns.seq) >= self.settings.chunk_rows:
            self._hand_over(_RAW, columns)
            self._raw = RawColumns()

    def record_clock(self, until_ns: int, now_ns: int) -> None:
        """Keep a wall-clock candle close, so a replay closes the same candles."""
        columns = self._raw
        columns.seq.append(self._seq)
        columns.recv_ns.append(now_ns)
        columns.ts_ns.append(until_ns)
        columns.topic.append(CLOCK_TOPIC)
        columns.symbol.append("")
        columns.payload.append(b"")
        self._seq += 1

    def on_notification(self, notification: Notification) -> None:
        """Engine subscriber: closed candles go to the candles stream."""
        if type(notification) is CandleClosed:
            self._candle_rows.append(
                candle_row(
                    self._clock(),
                    notification.symbol,  # type: ignore[union-attr]
                    notification.timeframe,  # type: ignore[union-attr]
                    notification.candle,  # type: ignore[union-attr]
                )
            )

    def record_metrics(self, engine: Engine, ts_ns: int) -> None:
        """One metrics row per symbol as of now (call once a second)."""
        rows = metrics_rows(engine, ts_ns)
        if rows:
            self._hand_over(_METRICS, rows)

    def flush(self) -> None:
        """Hand every pending row to the writer (call a few times a second)."""
        if len(self._raw):
            self._hand_over(_RAW, self._raw)
            self._raw = RawColumns()
        if self._candle_rows:
            self._hand_over(_CANDLES, self._candle_rows)
            self._candle_rows = []

    def record_rows(self, stream: str, rows: list[tuple[object, ...]], block: bool = False) -> bool:
        """Hand rows of a trading stream (`trading/<table>`, in its schema's column order) to
        the writer. When the queue is full they are dropped and counted (False), unless `block`:
        then this waits for room (for a last hand-over on stop, never on the event loop)."""
        if stream not in self._writers or stream in (_RAW, _CANDLES, _METRICS):
            raise ValueError(f"no trading stream {stream!r}")
        return self._hand_over(stream, rows, block)

    def _hand_over(
        self, stream: str, rows: RawColumns | list[tuple[object, ...]], block: bool = False
    ) -> bool:
        try:
            if block and self._thread is not None:
                self._queue.put((stream, rows))
            else:
                self._queue.put_nowait((stream, rows))
        except queue.Full:
            self.stats.chunks_dropped += 1
            if stream == _RAW:
                self.stats.frames_dropped += len(rows)
            elif stream not in (_CANDLES, _METRICS):
                self._count(self.stats.rows_dropped, stream, len(rows))
            log.warning(
                "recorder queue full: dropped %d %s rows (disk too slow?)", len(rows), stream
            )
            return False
        return True

    @staticmethod
    def _count(counts: dict[str, int], stream: str, rows: int) -> None:
        counts[stream] = counts.get(stream, 0) + rows

    # -- health ------------------------------------------------------------------------------

    @property
    def usage(self) -> DiskUsage:
        """Disk usage as of the writer's last check (every `budget_every_s`)."""
        return self._usage

    def buffered_bytes(self) -> dict[str, int]:
        """Arrow bytes each stream's open segment holds for its next row group (read from
        another thread: a figure of the writer's last chunk)."""
        return {stream: writer.buffered_bytes for stream, writer in self._writers.items()}

    def refresh_stats(self) -> RecorderStats:
        self.stats.queue_depth = self._queue.qsize()
        return self.stats

    # -- the writer thread -------------------------------------------------------------------

    def _write_loop(self) -> None:
        settings = self.settings
        last_sync = last_budget = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=settings.sync_every_s)
            except queue.Empty:
                item = ("", [])
            if item is None:
                self._queue.task_done()
                break
            try:
                if len(item[1]):
                    self._write(*item)
                now = time.monotonic()
                if now - last_sync >= settings.sync_every_s:
                    last_sync = now
                    self._guarded(self._sync)
                if now - last_budget >= settings.budget_every_s:
                    last_budget = now
                    self._enforce_budget()
                self.stats.writer_cpu_s = time.thread_time()
            finally:
                if item[0]:  # a chunk from the queue (not the timeout's empty item)
                    self._queue.task_done()
        for writer in self._writers.values():
            self._guarded(writer.close)
        self.stats.segments_written = sum(w.segments_written for w in self._writers.values())
        self._enforce_budget()
        self.stats.writer_cpu_s = time.thread_time()

    def _write(self, stream: str, rows: RawColumns | list[tuple[object, ...]]) -> None:
        writer = self._writers[stream]
        if isinstance(rows, RawColumns):
            batch = rows.to_batch()
        else:
            batch = rows_to_batch(rows, writer.fmt.schema)
        closed = self._guarded(lambda: writer.append(batch))
        if closed is False:  # the chunk is lost: its frames count as dropped too
            if stream == _RAW:
                self.stats.frames_dropped += len(rows)
            elif stream not in (_CANDLES, _METRICS):
                self._count(self.stats.rows_dropped, stream, len(rows))
            return
        self.stats.buffered_rows = sum(w.buffered_rows for w in self._writers.values())
        self.stats.buffered_bytes = sum(w.buffered_bytes for w in self._writers.values())
        if stream == _RAW:
            self.stats.frames_recorded += len(rows)
        elif stream == _CANDLES:
            self.stats.candles_recorded += len(rows)
        elif stream == _METRICS:
            self.stats.metrics_rows_recorded += len(rows)
        else:
            self._count(self.stats.rows_recorded, stream, len(rows))
        if closed is not None:
            self.stats.segments_written = sum(w.segments_written for w in self._writers.values())
            self._enforce_budget()

    def _sync(self) -> None:
        for writer in self._writers.values():
            writer.sync()

    def _guarded(self, action: Callable[[], object]) -> object:
        """Run a disk action; a failure is counted and logged, never raised (returns False)."""
        try:
            return action()
        except (OSError, pa.ArrowException) as exc:
            self.stats.write_errors += 1
            self.stats.last_error = str(exc)
            log.error("recorder write failed: %s", exc)
            return False

    def _enforce_budget(self) -> None:
        settings = self.settings
        # Room for the raw segment being written to reach its cap, and for its close, when its
        # last rows go into the Parquet file while the journal holding them is still on disk
        # (up to one cap more, briefly); candles and metrics segments close every 15 minutes
        # and stay small.
        cap = settings.segment_cap
        raw_writer = self._writers.get(_RAW)
        raw = raw_writer.current if raw_writer is not None else None
        reserve = 0 if cap is None else max(0, 2 * cap - (raw.bytes_on_disk if raw else 0))
        retention = (
            None if settings.retention_days is None else int(settings.retention_days * _NS_PER_DAY)
        )
        try:
            deleted = enforce_budget(
                self.data_dir, settings.max_disk_bytes, retention, self._clock(), reserve
            )
            self.stats.segments_deleted += len(deleted)
            self._usage = disk_usage(self.data_dir, settings.max_disk_bytes)
        except OSError as exc:
            self.stats.write_errors += 1
            self.stats.last_error = str(exc)
            log.error("disk budget check failed: %s", exc)
            return
        if self._usage.warning:
            log.warning(
                "data dir %s at %.0f%% of its %d-byte budget",
                self.data_dir,
                100 * (self._usage.share or 0.0),
                settings.max_disk_bytes,
            )
