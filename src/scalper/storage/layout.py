"""What a data directory holds: the streams, their columns and where their segments live.

```
DATA_DIR/raw/<source>/date=YYYY-MM-DD/<first recv ns>.parquet    every frame as received
DATA_DIR/candles/date=YYYY-MM-DD/<first ns>.parquet              closed candles
DATA_DIR/metrics/date=YYYY-MM-DD/<first ns>.parquet              per-second metrics per symbol
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from scalper.storage.codec import CODEC_METADATA_KEY, FrameCodec
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
    [pa.field("seq", pa.int64()), *(field for field in CHUNK_SCHEMA if field.name != "seq")]
)
"""Raw rows as stored in a segment without a codec (see `encode_raw`): `seq` is null in a row
group whose `recv_ns` already give the receive order."""


def raw_schema(codec: FrameCodec | None) -> pa.Schema:
    """RAW_SCHEMA plus the codec's columns, named in the schema's metadata: a frame the codec
    split has an empty `payload` and its columns set; readers join it back to the exact bytes."""
    if codec is None:
        return RAW_SCHEMA
    schema = pa.schema([*RAW_SCHEMA, *codec.fields])
    return schema.with_metadata({CODEC_METADATA_KEY: codec.name.encode()})


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
        # Trades' notional by aggressor side (null in recordings made before they were added).
        pa.field("buy_turnover", pa.float64()),
        pa.field("sell_turnover", pa.float64()),
    ]
)

BOOK_METRIC_FIELDS: Final = (
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
)
"""Float columns of the metrics stream read from the book (null when it has no book)."""


def metric_fields(flow_windows: Sequence[str]) -> tuple[str, ...]:
    """Float columns of the metrics stream, in order: the book's, then `delta_<window>` and
    `volume_<window>` of every configured flow window (coin units), the cumulative delta and the
    last trade price (null when missing), then the same flows in quote currency (USD notional):
    `delta_quote_<window>`, `volume_quote_<window>`, `cumulative_delta_quote`."""
    return (
        *BOOK_METRIC_FIELDS,
        *(f"delta_{window}" for window in flow_windows),
        *(f"volume_{window}" for window in flow_windows),
        "cumulative_delta",
        "last_price",
        *(f"delta_quote_{window}" for window in flow_windows),
        *(f"volume_quote_{window}" for window in flow_windows),
        "cumulative_delta_quote",
    )


def metrics_schema(flow_windows: Sequence[str]) -> pa.Schema:
    """`ts_ns`: the wall-clock second of the snapshot; `event_ns`: the symbol's last venue time.
    Segments of runs with other windows differ in those columns only (queries union by name)."""
    return pa.schema(
        [
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("symbol", pa.string(), nullable=False),
            pa.field("event_ns", pa.int64(), nullable=False),
            pa.field("book_state", pa.string(), nullable=False),
            *(pa.field(name, pa.float64()) for name in metric_fields(flow_windows)),
        ]
    )


_COUNTERS: Final = ("seq", "ts_ns")
"""Columns that grow by small steps from row to row of a topic: delta-encoded."""


_SPLIT_ROWS: Final = 8192
"""Frames are split this many rows at a time: a split's Arrow temporaries are several times its
rows' bytes, and smaller ones keep the writer's memory peaks (and the heap fragmentation they
leave) low. The bytes on disk are the same: rows are grouped after."""


def encode_raw(chunk: pa.Table, after_ns: int | None, codec: FrameCodec | None) -> pa.Table:
    """A row group of CHUNK_SCHEMA rows (receive order) as stored rows (`raw_schema(codec)`).

    `seq` is dropped (null) when `recv_ns` strictly increases in receive order, from the
    segment's previous row group (last at `after_ns`) on, as it does from a live feed: the
    receive times then give the order, and `seq` would only add bytes (~1.8 B a frame once
    rows are grouped by topic, bench/recording.py)."""
    recv = chunk["recv_ns"].combine_chunks()
    ordered = (after_ns is None or recv[0].as_py() > after_ns) and (
        len(recv) < 2 or pc.all(pc.greater(recv[1:], recv[:-1])).as_py()
    )
    table = chunk
    schema = raw_schema(codec)
    if codec is not None:
        table = pa.concat_tables(
            codec.split(chunk.slice(start, _SPLIT_ROWS))
            for start in range(0, len(chunk), _SPLIT_ROWS)
        )
    if ordered:
        table = table.set_column(0, schema.field("seq"), pa.nulls(len(table), pa.int64()))
    for spec in schema:
        if spec.name not in table.column_names:
            table = table.append_column(spec, pa.nulls(len(table), spec.type))
    return table.select(schema.names).cast(schema)


def raw_order(table: pa.Table) -> pa.Table:
    """A stored raw row group back in receive order."""
    return table.take(raw_order_indices(table))


def raw_order_indices(table: pa.Table) -> pa.Array:
    """The rows of a stored raw row group in receive order (indices; a stable sort)."""
    key = "recv_ns" if table["seq"].null_count else "seq"
    return pc.sort_indices(table[key])


def raw_format(
    codec: FrameCodec | None = None, zstd_level: int = 6, sort_by_topic: bool = True
) -> SegmentFormat:
    """Raw segments, with the venue's codec splitting what it can (None: every frame whole)."""
    return SegmentFormat(
        raw_schema(codec),
        input_schema=CHUNK_SCHEMA,
        encode=lambda chunk, after_ns: encode_raw(chunk, after_ns, codec),
        time_column="recv_ns",
        group_by="topic" if sort_by_topic else None,
        zstd_level=zstd_level,
        dictionary_columns=("topic", "symbol", *(codec.dictionary_columns if codec else ())),
        column_encoding={
            **dict.fromkeys(_COUNTERS, "DELTA_BINARY_PACKED"),
            **(codec.column_encoding if codec else {}),
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


def metrics_format(flow_windows: Sequence[str]) -> SegmentFormat:
    return SegmentFormat(
        metrics_schema(flow_windows),
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
