"""The small bench scripts that reproduce README figures run end to end on tiny inputs, and what
they count is right where it can be counted exactly (frames, candles, columns)."""

from __future__ import annotations

import re
from itertools import islice
from pathlib import Path

from bench import ab_trading, recording_columns, signals_baseline, state_read, websockets_floor
from bench.replay import record

from scalper.venues.simulator.market import MarketConfig, SyntheticMarket


def test_websockets_floor_receives_every_frame(capsys) -> None:
    assert websockets_floor.main(["--frames", "300", "--size", "200", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("µs of CPU per frame (both ends)") == 2
    assert "websockets alone, 200-byte frames, best of 2:" in out


def test_ab_trading_times_both_rows_of_both_checkouts_in_every_round(capsys) -> None:
    """This checkout against itself: both children run both rows over the same frames."""
    root = Path(__file__).resolve().parents[3]
    assert ab_trading.main([str(root), "--symbols", "3", "--seconds", "3", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("this", "other"):
        for round_ in (1, 2):
            assert re.search(rf"round {round_} {name}: {{'engine\+signals': \d", out), out
    assert out.count(str(root)) >= 2  # both table rows name the checkout
    assert re.search(r"[+-]\d+\.\d%", out), out


def test_state_read_reads_every_symbol_in_sync(capsys) -> None:
    assert state_read.main(["--symbols", "4", "--seconds", "3", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "of 4 symbols x 3 s" in out
    assert re.search(r"^4 symbols x 10 ticks a second", out, re.MULTILINE), out


def test_signals_baseline_feeds_every_candle_of_every_symbol(capsys) -> None:
    """Through `main`, so the children (which collect garbage) are processes of their own."""
    assert signals_baseline.main(["--symbols", "2", "--hours", "2"]) == 0
    out = capsys.readouterr().out
    # 2 h: 120 one-minute and 24 five-minute candles a symbol
    assert out.startswith("2 symbols, 2 h of 1m and 5m candles each (288 candles)"), out
    assert "the signals add" in out and "s of CPU" in out


def test_recording_columns_add_up_to_the_segments_bytes(tmp_path: Path, capsys) -> None:
    config = MarketConfig(symbols=3, seconds=5.0, seed=1)
    count = record(islice(SyntheticMarket(config).frames(), 2000), tmp_path)

    by_column, rows = recording_columns.column_bytes(tmp_path)
    assert rows == count
    segments = sorted((tmp_path / "raw").rglob("*.parquet"))
    assert segments
    # the column chunks are the files but for their footers and magic bytes
    on_disk = sum(path.stat().st_size for path in segments)
    assert 0.5 * on_disk < sum(by_column.values()) < on_disk
    assert {"payload", "recv_ns"} <= set(by_column)

    assert recording_columns.main(["--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{count:,} frames, ")
    assert re.search(r"^  payload +\d+\.\d\d B/frame$", out, re.MULTILINE), out
