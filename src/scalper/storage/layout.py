"""What a data directory holds: the streams, their columns and where their segments live.

```
DATA_DIR/raw/<source>/date=YYYY-MM-DD/<first recv ns>.parquet    every frame as received
DATA_DIR/candles/date=YYYY-MM-DD/<first ns>.parquet              closed candles
DATA_DIR/metrics/date=YYYY-MM-DD/<first ns>.parquet              per-second metrics per symbol
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from scalper.storage.book_frames import SPLIT_FIELDS, split_book_frames
from scalper.storage.segments import SegmentFormat

CLOCK_TOPIC: Final = "@close_candles"
"""Topic of a raw row that is not a frame: the feed's wall-clock candle close, replayed as
`Engine.close_candles_until(ts_ns)` so a replay closes exactly the candles the live run did."""

CHUNK_SCHEMA: Final = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("recv_ns", pa.int64(), nullable=False),
        pa.field("ts_ns", pa.int64(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("payload", pa.binary(), nullable=False),
    ]
)
"""Raw rows as the recorder hands them to the writer and journals them: every frame whole, in
receive order. `seq` is the receive order within a run; `ts_ns` the venue's event time (0 if
none)."""

RAW_SCHEMA: Final = pa.schema(
    [
        pa.field("seq", pa.int64()),
        *(field for field in CHUNK_SCHEMA if field.name != "seq"),
        *SPLIT_FIELDS,
    ]
)
"""Raw rows as stored in a segment (see `encode_raw`): an order-book frame may be stored split
(book_frames.py: `payload` empty, the split columns set; readers join it back to the exact
bytes), and `seq` is null in a row group whose `recv_ns` already give the receive order."""


CANDLE_SCHEMA: Final = pa.schema(
    [
        pa.field("recorded_ns", pa.int64(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("timeframe", pa.string(), nullable=False),
        pa.field("start_ns", pa.int64(), nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("turnover", pa.float64(), nullable=False),
        pa.field("trades", pa.int64(), nullable=False),
        pa.field("buy_volume", pa.float64(), nullable=False),
        pa.field("sell_volume", pa.float64(), nullable=False),
        pa.field("ofi", pa.float64(), nullable=False),
    ]
)

METRIC_FIELDS: Final = (
    "best_bid",
    "best_ask",
    "mid",
    "spread_bps",
    "microprice",
    "imbalance_book",
    "imbalance_top1",
    "imbalance_top5",
    "imbalance_top10",
    "imbalance_top25",
    "imbalance_bps10",
    "imbalance_bps25",
    "imbalance_bps50",
    "delta_10s",
    "delta_1m",
    "delta_5m",
    "volume_1m",
    "cumulative_delta",
    "last_price",
)
"""Float columns of the metrics stream, in order (null when the book or trades are missing)."""

METRICS_SCHEMA: Final = pa.schema(
    [
        pa.field("ts_ns", pa.int64(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("event_ns", pa.int64(), nullable=False),
        pa.field("book_state", pa.string(), nullable=False),
        *(pa.field(name, pa.float64()) for name in METRIC_FIELDS),
    ]
)
"""`ts_ns`: the wall-clock second of the snapshot; `event_ns`: the symbol's last venue time."""


_COUNTERS: Final = ("seq", "ts_ns", "book_ts", "book_u", "book_seq", "book_cts")
"""Columns that grow by small steps from row to row of a topic: delta-encoded."""
_LEVEL_DIGITS: Final = tuple(
    f"{side}_{kind}.list.element" for side in ("bid", "ask") for kind in ("prices", "sizes")
)
"""Level digits: byte-stream split (the bytes of equal weight side by side) compresses them
~15 % smaller than plain: 31.5 -> 29.3 B a frame in all (bench/recording.py's stream)."""


_SPLIT_ROWS: Final = 8192
"""Book frames are split this many rows at a time: a split's Arrow temporaries are several
times its rows' bytes, and smaller ones keep the writer's memory peaks (and the heap
fragmentation they leave) low. The bytes on disk are the same: rows are grouped after."""


def encode_raw(chunk: pa.Table, after_ns: int | None, split_books: bool = True) -> pa.Table:
    """A row group of CHUNK_SCHEMA rows (receive order) as RAW_SCHEMA rows.

    `seq` is dropped (null) when `recv_ns` strictly increases in receive order, from the
    segment's previous row group (last at `after_ns`) on, as it does from a live feed: the
    receive times then give the order, and `seq` would only add bytes (~1.8 B a frame once
    rows are grouped by topic, bench/recording.py)."""
    recv = chunk["recv_ns"].combine_chunks()
    ordered = (after_ns is None or recv[0].as_py() > after_ns) and (
        len(recv) < 2 or pc.all(pc.greater(recv[1:], recv[:-1])).as_py()
    )
    table = chunk
    if split_books:
        table = pa.concat_tables(
            split_book_frames(chunk.slice(start, _SPLIT_ROWS))
            for start in range(0, len(chunk), _SPLIT_ROWS)
        )
    if ordered:
        table = table.set_column(0, RAW_SCHEMA.field("seq"), pa.nulls(len(table), pa.int64()))
    for spec in RAW_SCHEMA:
        if spec.name not in table.column_names:
            table = table.append_column(spec, pa.nulls(len(table), spec.type))
    return table.select(RAW_SCHEMA.names).cast(RAW_SCHEMA)


def raw_order(table: pa.Table) -> pa.Table:
    """A stored raw row group back in receive order."""
    key = "recv_ns" if table["seq"].null_count else "seq"
    return table.take(pc.sort_indices(table[key]))


def raw_format(
    zstd_level: int = 6, sort_by_topic: bool = True, split_books: bool = True
) -> SegmentFormat:
    return SegmentFormat(
        RAW_SCHEMA,
        input_schema=CHUNK_SCHEMA,
        encode=lambda chunk, after_ns: encode_raw(chunk, after_ns, split_books),
        time_column="recv_ns",
        group_by="topic" if sort_by_topic else None,
        zstd_level=zstd_level,
        dictionary_columns=("topic", "symbol", "book_type", "price_scale", "size_scale"),
        column_encoding={
            **dict.fromkeys(_COUNTERS, "DELTA_BINARY_PACKED"),
            **dict.fromkeys(_LEVEL_DIGITS, "BYTE_STREAM_SPLIT"),
        },
    )


DERIVED_ROLL_NS: Final = 15 * 60 * 1_000_000_000
"""Candles and metrics segments close every 15 minutes, so queries see them soon (4 an hour)."""

CANDLE_FORMAT: Final = SegmentFormat(
    CANDLE_SCHEMA,
    time_column="recorded_ns",
    dictionary_columns=("symbol", "timeframe"),
    roll_ns=DERIVED_ROLL_NS,
)
METRICS_FORMAT: Final = SegmentFormat(
    METRICS_SCHEMA,
    time_column="ts_ns",
    group_by="symbol",
    dictionary_columns=("symbol", "book_state"),
    roll_ns=DERIVED_ROLL_NS,
)


def raw_root(data_dir: Path, source: str) -> Path:
    return data_dir / "raw" / source


def raw_sources(data_dir: Path) -> list[str]:
    root = data_dir / "raw"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def candles_root(data_dir: Path) -> Path:
    return data_dir / "candles"


def metrics_root(data_dir: Path) -> Path:
    return data_dir / "metrics"
