"""Where a recording's bytes go: compressed bytes per frame of each column of the raw segments.

    .venv/bin/python -m bench.recording_columns [--frames 500000 --symbols 300 --seconds 60]
    .venv/bin/python -m bench.recording_columns --data-dir DIR

Without `--data-dir` it records the first `--frames` frames of `make bench`'s market (seed 1)
with the default settings, as the recorder section of `make bench` does, into a temporary
directory (removed after). It then reads the Parquet footers of every raw segment (no data is
decompressed) and prints each column's compressed bytes divided by the frames recorded, largest
first: `payload` holds the frames stored whole (trades, tickers, control replies and any book
frame that could not be split), the codec's columns the split book frames.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections import Counter
from itertools import islice
from pathlib import Path

import pyarrow.parquet as pq

from bench.replay import record
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket


def column_bytes(data_dir: Path) -> tuple[Counter[str], int]:
    """(compressed bytes by column, rows) of the raw segments."""
    by_column: Counter[str] = Counter()
    rows = 0
    for path in sorted((data_dir / "raw").rglob("*.parquet")):
        metadata = pq.ParquetFile(path).metadata
        rows += metadata.num_rows
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for index in range(row_group.num_columns):
                chunk = row_group.column(index)
                by_column[chunk.path_in_schema] += chunk.total_compressed_size
    return by_column, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.recording_columns", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, help="a recorded data dir (else one is made)")
    parser.add_argument("--frames", type=int, default=500_000)
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    made = args.data_dir is None
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="scalper-bench-columns-"))
    json_bytes = 0
    try:
        if made:
            config = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
            frames = list(islice(SyntheticMarket(config).frames(), args.frames))
            json_bytes = sum(len(raw) for _, raw in frames)
            record(iter(frames), data_dir)
        by_column, rows = column_bytes(data_dir)
    finally:
        if made:
            shutil.rmtree(data_dir, ignore_errors=True)
    if not rows:
        print(f"no raw segment under {data_dir}")
        return 1
    total = sum(by_column.values())
    print(f"{rows:,} frames, {total / rows:.1f} B/frame on disk in column chunks", end="")
    print(f" ({total / json_bytes:.1%} of the JSON)" if json_bytes else "")
    for column, size in by_column.most_common():
        print(f"  {column:<32} {size / rows:7.2f} B/frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
