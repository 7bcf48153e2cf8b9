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

from scalper.storage.segments import SegmentFormat

CLOCK_TOPIC: Final = "@close_candles"
"""Topic of a raw row that is not a frame: the feed's wall-clock candle close, replayed as
`Engine.close_candles_until(ts_ns)` so a replay closes exactly the candles the live run did."""

RAW_SCHEMA: Final = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("recv_ns", pa.int64(), nullable=False),
        pa.field("ts_ns", pa.int64(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("payload", pa.binary(), nullable=False),
        pa.field("book_type", pa.string()),
        pa.field("book_ts", pa.int64()),
        pa.field("bids", pa.binary()),
        pa.field("asks", pa.binary()),
        pa.field("book_u", pa.int64()),
        pa.field("book_seq", pa.int64()),
        pa.field("book_cts", pa.int64()),
    ]
)
"""`seq` is the receive order within a run; `ts_ns` the venue's event time (0 if none). An
order-book frame may be stored split (book_frames.py): `payload` empty, the `book_*`, `bids`
and `asks` columns set; readers join it back to the exact bytes."""

BOOK_COLUMNS: Final = ("book_type", "book_ts", "bids", "asks", "book_u", "book_seq", "book_cts")
"""The split parts of a book frame, in BookParts order."""

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


def raw_format(zstd_level: int = 6, sort_by_topic: bool = True) -> SegmentFormat:
    return SegmentFormat(
        RAW_SCHEMA,
        time_column="recv_ns",
        group_by="topic" if sort_by_topic else None,
        zstd_level=zstd_level,
        dictionary_columns=("topic", "symbol", "book_type"),
        delta_columns=("seq", "ts_ns", "book_ts", "book_u", "book_seq", "book_cts"),
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
