"""Replay raw frames through the engine: from a frame file, or from a recorder's data directory.

A frame file holds one raw venue frame per line, plain, gzip (`.gz`) or zstd (`.zst`). A line may
start with the local receive time in nanoseconds and a space (`<recv_ns> {...}`); without it the
receive time is unknown and set to 0. The engine only uses venue time, so either way the same
file always gives the same state. Frames are Bybit v5's (the venue whose recordings we hold):
`venues.bybit.frames.FrameApplier` decodes them.
"""

from __future__ import annotations

import gc
import gzip
import io
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Final, Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import zstandard

from scalper.errors import InputError
from scalper.events import Instrument
from scalper.feed_status import ConnectionStats, SymbolFeedStats
from scalper.storage.codec import FrameCodec
from scalper.storage.layout import CLOCK_TOPIC, raw_sources
from scalper.storage.reader import (
    Record,
    frame_payloads,
    iter_recorded,
    iter_recorded_tables,
    table_records,
)
from scalper.venues.bybit._wire import decode_rows
from scalper.venues.bybit.book_columns import BookEvents, book_columns, no_book_columns
from scalper.venues.bybit.frames import CODECS, FrameApplier
from scalper.venues.bybit.row_topics import RowTopics, row_topics
from scalper.venues.bybit.ticker_columns import TickerColumns, has_ticker_columns
from scalper.venues.bybit.topics import BOOK
from scalper.venues.bybit.trade_columns import TradeColumns, has_trade_columns
from scalper.venues.bybit.wire import Decoded, decode_frame

ProgressCallback = Callable[[int], None]
"""Called with the number of (compressed) file bytes consumed so far."""


def open_frames(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """Open a frame file; returns (decompressed line stream, underlying raw file)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror}") from exc
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    if path.suffix == ".zst":
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        return io.BufferedReader(reader), raw  # type: ignore[arg-type]
    return raw, raw


def split_line(line: bytes) -> tuple[int, bytes] | None:
    """(recv_ns, frame) of one line, or None for a blank line."""
    line = line.strip()
    if not line:
        return None
    if line[:1].isdigit():
        stamp, _, frame = line.partition(b" ")
        if stamp.isdigit():
            return int(stamp), frame
    return 0, line


def iter_frames(
    path: Path, progress: ProgressCallback | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield (recv_ns, frame) for every non-blank line of a frame file."""
    stream, raw = open_frames(path)
    with raw, stream:
        try:
            for count, line in enumerate(stream, 1):
                item = split_line(line)
                if item is not None:
                    yield item
                if progress is not None and count % 4096 == 0:
                    progress(raw.tell())
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            raise InputError(f"{path}: unreadable after {raw.tell()} bytes: {exc}") from exc
    if progress is not None:
        progress(path.stat().st_size)


def replay_file(applier: FrameApplier, path: Path, progress: ProgressCallback | None = None) -> int:
    """Feed every frame of `path` to the applier's engine; returns the number of frames."""
    count = 0
    for recv_ns, frame in iter_frames(path, progress):
        applier(frame, recv_ns)
        count += 1
    return count


def apply_record(applier: FrameApplier, record: Record) -> None:
    """Apply one recorded row: a frame, or the live feed's wall-clock candle close."""
    recv_ns, ts_ns, topic, payload = record
    if topic == CLOCK_TOPIC:
        applier.engine.close_candles_until(ts_ns)
    else:
        applier(payload, recv_ns)


def recorded_records(
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
) -> Iterator[Record]:
    """The recorded rows of a data dir in receive order, Bybit's book frames joined back."""
    return iter_recorded(data_dir, from_ns, to_ns, symbols, CODECS)


Decode = Literal["columns", "json"]
"""How recorded frames reach the engine: `columns` applies the book frames' integer level columns
and builds the trade and ticker frames' events from their columns, as the recorder split them
(`venues.bybit.book_columns`, `trade_columns`, `ticker_columns`; every other row is decoded from
its JSON),
`json` joins every frame back to its bytes and decodes it, as the live feed did."""


def preroll_books(
    applier: FrameApplier,
    data_dir: Path,
    until_ns: int,
    symbols: list[str] | None = None,
    decode: Decode = "json",
) -> int:
    """Bring every book to its state at `until_ns` from the book frames recorded before it
    (only them, and only into the books: trades, tickers and candles start at `until_ns`), so
    a replay from a time has books in sync at once. Returns the frames applied. `decode`: as
    in `replay_recording` (columns: a one-source data dir's split frames from their columns)."""
    prefix = f"{BOOK}."
    if decode == "columns" and len(raw_sources(data_dir)) <= 1:
        return _preroll_columns(applier, data_dir, until_ns, symbols, prefix)
    count = 0
    for recv_ns, _, _, payload in iter_recorded(
        data_dir, None, until_ns, symbols, CODECS, topic_prefix=prefix
    ):
        applier.preroll_book(payload, recv_ns)
        count += 1
    return count


def _preroll_columns(
    applier: FrameApplier, data_dir: Path, until_ns: int, symbols: list[str] | None, prefix: str
) -> int:
    count = 0
    parts = iter_recorded_tables(data_dir, None, until_ns, symbols, CODECS, topic_prefix=prefix)
    for table, codec, rows in parts:
        columns = (
            book_columns(table, rows) if _has_book_columns(table) else no_book_columns(len(rows))
        )
        others = _joined(table, codec, rows[columns.other_rows])
        payloads = frame_payloads(others, codec).to_pylist()
        frames = list(zip(payloads, others["recv_ns"].to_pylist(), strict=True))
        applier.engine.apply_book_columns(
            *columns, frames, lambda frame: applier.preroll_book(*frame), books_only=True
        )
        count += len(rows)
    return count


def replay_recording(
    applier: FrameApplier,
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    decode: Decode = "columns",
) -> int:
    """Feed a data directory's recorded frames to the applier's engine in receive order;
    returns the count. `progress` is called now and then with the number of rows applied.
    From `from_ns` on, with every book first brought to its state then (`preroll_books`).
    Both `decode`s leave the engine, and whatever taps it (the trading core), in the same
    state."""
    if from_ns is not None:
        preroll_books(applier, data_dir, from_ns, symbols, decode)
    if decode == "columns" and len(raw_sources(data_dir)) <= 1:
        rows = replay_columns(applier, data_dir, from_ns, to_ns, symbols)
    else:
        rows = _replay_records(applier, data_dir, from_ns, to_ns, symbols)
    count = 0
    for applied in rows:
        count += applied
        if progress is not None:
            progress(count)
    return count


def _replay_records(
    applier: FrameApplier,
    data_dir: Path,
    from_ns: int | None,
    to_ns: int | None,
    symbols: list[str] | None,
) -> Iterator[int]:
    count = 0
    for record in recorded_records(data_dir, from_ns, to_ns, symbols):
        apply_record(applier, record)
        count += 1
        if count == 8192:
            yield count
            count = 0
    yield count


def replay_columns(
    applier: FrameApplier,
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
) -> Iterator[int]:
    """Apply a one-source data dir's rows in receive order, a row group at a time, its book
    frames from their columns; yields the rows each row group applied (`column_steps`)."""
    for step in column_steps(applier, data_dir, from_ns, to_ns, symbols):
        yield step.rows


class Step(NamedTuple):
    """Rows `column_steps` applied in one go."""

    rows: int
    first_recv_ns: int
    last_recv_ns: int


def column_steps(
    applier: FrameApplier,
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
    every: int | None = None,
) -> Iterator[Step]:
    """Apply a one-source data dir's rows in receive order, a row group at a time, its book
    frames from their columns, its other rows decoded from their JSON. Yields after each row
    group and, with `every`, also whenever the count of rows applied reaches a multiple of it
    (where the JSON path's loop would stop for the same count). Between two steps the engine
    and its taps are in a state the JSON path passes through too: the taps (the trading core)
    see every event as they do live (`Engine.column_tap`)."""
    engine = applier.engine
    tap = engine.column_tap()

    def apply_other(item: Decoded | CandleClose) -> None:
        if type(item) is CandleClose:
            engine.close_candles_until(item.until_ns)  # type: ignore[union-attr]
        else:
            applier.apply_decoded(item)  # type: ignore[arg-type]

    applied = 0
    for table, codec, rows in iter_recorded_tables(data_dir, from_ns, to_ns, symbols, CODECS):
        if not len(rows):
            continue
        topics = row_topics(table)
        columns = (
            book_columns(table, rows, topics)
            if _has_book_columns(table)
            else no_book_columns(len(rows))
        )
        recv_ns = table["recv_ns"].to_numpy()[rows]
        events = BookEvents(table, rows, columns, recv_ns) if tap is not None else None
        others = _OtherRows(table, codec, rows[columns.other_rows], topics)
        taken = np.concatenate(([0], np.cumsum(columns.other_rows)))
        with _collection_paused():
            for start, stop in itertools.pairwise(_step_bounds(applied, len(rows), every)):
                for first, end in _pieces(start, stop):
                    items = others.decoded(taken[first], taken[end])
                    if events is not None:
                        events.offset = first
                    engine.apply_book_columns(
                        *columns.rows(first, end), items, apply_other, tap=tap, book_event=events
                    )
                    del items
                applied += stop - start
                yield Step(stop - start, int(recv_ns[start]), int(recv_ns[stop - 1]))


_PIECE_ROWS: Final = 8192
"""Rows decoded and applied at a time: the engine then reads the events while the decoder's
objects are still in the CPU's caches (a whole row group's are tens of MB). 8,192 was the
fastest of 4,096, 8,192 and 16,384 on make bench's recording (commit 0f06506)."""


def _pieces(start: int, stop: int) -> Iterator[tuple[int, int]]:
    """[start, stop) in pieces of at most `_PIECE_ROWS` rows."""
    for first in range(start, stop, _PIECE_ROWS):
        yield first, min(first + _PIECE_ROWS, stop)


def _step_bounds(applied: int, rows: int, every: int | None) -> list[int]:
    """Where a row group of `rows` rows is cut, after `applied` rows: [0, ..., rows]."""
    if every is None:
        return [0, rows]
    first = every - applied % every
    return [0, *range(first, rows, every), rows]


@contextmanager
def _collection_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a row group's decoded rows live: they make no
    cycles, and the collector would otherwise walk the tens of thousands of them on every
    collection (a tenth of the columnar replay's CPU, bench/replay.py). It runs again after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _has_book_columns(table: pa.Table) -> bool:
    """Whether a stored raw row group holds a book frame split into columns."""
    return "book_u" in table.column_names and table["book_u"].null_count < len(table)


def _joined(table: pa.Table, codec: FrameCodec | None, rows: np.ndarray) -> pa.Table:
    """Rows of a stored row group with what it takes to join their frames (with `codec`)."""
    if codec is not None and _any_split(table, rows):
        return table.take(rows)  # a split frame among them: all its columns, to join it
    return table.select(_WHOLE_FRAME_COLUMNS).take(rows)


class _OtherRows:
    """The rows of a stored row group that are not applied from the book columns (`rows`, in
    the order to apply them): trade and ticker events built from their columns, events decoded
    from their JSON, wall-clock candle closes, a slice at a time: `decoded(start, stop)` is
    rows[start:stop]'s items."""

    def __init__(
        self, table: pa.Table, codec: FrameCodec | None, rows: np.ndarray, topics: RowTopics
    ) -> None:
        self._rows = np.ascontiguousarray(rows, np.int64)
        self._recv_ns = np.ascontiguousarray(table["recv_ns"].to_numpy(), np.int64)
        builders = (
            TradeColumns(table, self._recv_ns, topics) if has_trade_columns(table) else None,
            TickerColumns(table, self._recv_ns, topics) if has_ticker_columns(table) else None,
        )
        self._builders = [
            (builder, applied)
            for builder in builders
            if builder is not None and (applied := builder.applied[self._rows]).any()
        ]
        built = np.zeros(len(self._rows), bool)
        for _, applied in self._builders:
            built |= applied
        rest = self._rows[~built]
        self._joined = (
            _decoded_joined(table, codec, rows)
            if codec is not None and _any_split(table, rest)
            else None
        )
        self._data, self._offsets = _binary_buffers(table["payload"])
        clock = pc.equal(table["topic"], CLOCK_TOPIC).to_numpy(zero_copy_only=False)[self._rows]
        self._clock = clock if clock.any() else None
        self._ts_ns = table["ts_ns"].to_numpy() if self._clock is not None else None

    def decoded(self, start: int, stop: int) -> list[object]:
        if self._joined is not None:  # a split frame among them, joined back by the codec
            return self._joined[start:stop]
        rows = self._rows[start:stop]
        if self._clock is None and not self._builders:
            return decode_rows(self._data, self._offsets, rows, self._recv_ns)  # type: ignore[no-any-return]
        items: list[object] = [None] * len(rows)
        positions = np.arange(len(rows), dtype=np.int64)
        decoded = np.ones(len(rows), bool)
        for builder, applied in self._builders:
            built = applied[start:stop]
            builder.place(items, positions[built], rows[built])
            decoded &= ~built
        if self._clock is not None:
            clock = self._clock[start:stop]
            for position in np.flatnonzero(clock).tolist():
                items[position] = CandleClose(int(self._ts_ns[rows[position]]))  # type: ignore[index]
            decoded &= ~clock
        decode_rows(
            self._data, self._offsets, rows[decoded], self._recv_ns, items, positions[decoded]
        )
        return items


def _any_split(table: pa.Table, rows: np.ndarray) -> bool:
    """Whether a frame split into the codec's columns (its `book_u`, `trade_times` or
    `ticker_keys` set) is among `rows`."""
    return any(
        not table[column].is_null().to_numpy(zero_copy_only=False)[rows].all()
        for column in ("book_u", "trade_times", "ticker_keys")
        if column in table.column_names
    )


def _binary_buffers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets) of a binary column: row r's bytes are values[offsets[r]:offsets[r+1]],
    read in place (copied only when the column comes in several chunks, or with 64-bit
    offsets, which the recorder does not write)."""
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if array.type != pa.binary():
        array = array.cast(pa.binary())
    _, offsets, values = array.buffers()
    start = array.offset
    return (
        np.frombuffer(values, np.uint8) if values is not None else np.zeros(0, np.uint8),
        np.frombuffer(offsets, np.int32)[start : start + len(array) + 1],
    )


def _decoded_joined(table: pa.Table, codec: FrameCodec, rows: np.ndarray) -> list[object]:
    """The events of `rows` (as `_OtherRows.decoded` gives them) when a split frame among them
    is joined back by `codec`: all of them at once, each decoded on its own (a rare case)."""
    table = _joined(table, codec, rows)
    return [
        CandleClose(ts_ns) if topic == CLOCK_TOPIC else decode_frame(payload, recv_ns)
        for recv_ns, ts_ns, topic, payload in table_records(table, codec)
    ]


_WHOLE_FRAME_COLUMNS: Final = ("recv_ns", "ts_ns", "topic", "payload")


class CandleClose(NamedTuple):
    """A recorded wall-clock candle close, among the decoded rows of `replay_columns`."""

    until_ns: int


class ReplayClock:
    """The recording's time as a paced replay plays it: `speed` x the wall clock's pace from
    the first row's receive time. The API reads ages and staleness off it (`create_app(clock=...)`)
    so a replayed frame is as old as it was when it was recorded."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin_ns: int | None = None
        self._started_ns = 0

    def start(self, first_recv_ns: int) -> None:
        self._origin_ns = first_recv_ns
        self._started_ns = time.monotonic_ns()

    def __call__(self) -> int:
        """Now, in the recording's receive time (the wall clock before the first row)."""
        if self._origin_ns is None:
            return time.time_ns()
        return self._origin_ns + int((time.monotonic_ns() - self._started_ns) * self.speed)

    def due_in_s(self, recv_ns: int) -> float:
        """Seconds of wall clock until the row received at `recv_ns` is due."""
        return (recv_ns - self()) / 1e9 / self.speed


class ReplayFeed:
    """A paced replay seen as a feed (`scalper.feed_status.MarketFeed`): one "connection" open
    while it plays, per-symbol receive times and lags as recorded, so health and the dashboard
    say what the recording said rather than "no feed"."""

    def __init__(self, data_dir: Path) -> None:
        self.symbols: list[str] = []
        self.symbol_stats: dict[str, SymbolFeedStats] = {}
        self.connections = [_ReplayConnection(str(data_dir))]
        self.instruments: dict[str, Instrument] = {}
        """Not recorded: prices are shown with the decimals they carry."""
        self.recording_process = None

    def saw(self, symbol: str, recv_ns: int, ts_event_ns: int) -> None:
        """Account one replayed market row."""
        stats = self.symbol_stats.get(symbol)
        if stats is None:
            stats = self.symbol_stats[symbol] = SymbolFeedStats()
            self.symbols.append(symbol)
            self.connections[0].symbols.append(symbol)
        lag = recv_ns - ts_event_ns
        stats.frames += 1
        stats.last_recv_ns = recv_ns
        stats.last_lag_ns = lag
        stats.max_lag_ns = max(stats.max_lag_ns, lag)
        connection = self.connections[0].stats
        connection.frames += 1
        connection.last_frame_ns = recv_ns

    def finish(self) -> None:
        self.connections[0].stats.state = "stopped"


class _ReplayConnection:
    def __init__(self, source: str) -> None:
        self.name = "replay"
        self.symbols: list[str] = []
        self.stats = ConnectionStats("replay", source, 0, state="open")
