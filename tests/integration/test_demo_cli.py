"""`scalper demo --offline` as a user runs it: a real subprocess of the CLI, no sockets.

It proves the offline demo exits 0, writes a JSON state in which every symbol has a book in
sync, trades and contiguous closed candles that end where the symbol's last event begins its
candle, prints a summary table with one row per symbol, and is deterministic: the same command
twice gives byte-identical JSON and the same table.

The command is the one the brief names plus `--set engine.timeframes=1s,5s`: ten seconds of
market time close no candle of the default 15s/1m/5m timeframes, so without it the JSON's
candle lists are all empty (checked below too).
"""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import msgspec

SYMBOLS = [f"SYM{i:03d}USDT" for i in range(5)]
SECOND_NS = 1_000_000_000


def demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scalper.cli",
            "demo",
            "--offline",
            "--symbols",
            "5",
            "--seconds",
            "10",
            "--json",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's rows, by symbol: the lines that start with a symbol (with or without
    rich's box drawing), split into their cells."""
    rows = {}
    for line in stdout.splitlines():
        cells = line.replace("│", " ").split()
        if cells and cells[0] in SYMBOLS:
            rows[cells[0]] = cells
    return rows


def test_offline_demo_writes_every_symbol_in_sync_and_is_deterministic(tmp_path: Path) -> None:
    first = demo(tmp_path / "first.json", "--set", "engine.timeframes=1s,5s")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr

    state = msgspec.json.decode((tmp_path / "first.json").read_bytes())
    assert sorted(state["symbols"]) == SYMBOLS
    assert state["frames"] == sum(s["counters"]["frames"] for s in state["symbols"].values())
    for symbol, view in state["symbols"].items():
        counters, flow = view["counters"], view["cumulative"]
        assert view["book"]["state"] == "in_sync", symbol
        assert view["book"]["best_bid"][0] < view["book"]["best_ask"][0], symbol
        assert counters["trades"] > 0 and counters["gaps"] == 0, symbol
        # Two counts kept apart by the engine: the router's per-symbol counter and the flow's
        # totals by side (every synthetic trade has a side).
        assert flow["buy_count"] + flow["sell_count"] == counters["trades"], symbol
        for timeframe, interval in (("1s", SECOND_NS), ("5s", 5 * SECOND_NS)):
            starts = [candle["start_ns"] for candle in view["candles"][timeframe]]
            assert starts, (symbol, timeframe)
            assert all(b - a == interval for a, b in pairwise(starts)), (symbol, starts)
            # Closed up to the candle the symbol's last event is forming, not one more or less.
            forming_start = view["last_event_ns"] - view["last_event_ns"] % interval
            assert starts[-1] == forming_start - interval, (symbol, timeframe)
        assert sum(c["trades"] for c in view["candles"]["1s"]) <= counters["trades"]

    rows = table_rows(first.stdout)
    assert sorted(rows) == SYMBOLS, first.stdout
    for symbol, cells in rows.items():
        assert "in_sync" in cells, cells
        frames = str(state["symbols"][symbol]["counters"]["frames"])
        assert frames in (cell.replace(",", "") for cell in cells), (frames, cells)

    second = demo(tmp_path / "second.json", "--set", "engine.timeframes=1s,5s")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "second.json").read_bytes() == (tmp_path / "first.json").read_bytes()
    assert second.stdout == first.stdout  # the timing line goes to stderr only


def test_offline_demo_of_ten_seconds_closes_no_default_candle(tmp_path: Path) -> None:
    """The brief's command as it stands: 15 s is the shortest default timeframe, so ten seconds
    of market time leave every candle forming, and the JSON lists closed candles only."""
    plain = demo(tmp_path / "plain.json")
    assert plain.returncode == 0, plain.stderr
    state = msgspec.json.decode((tmp_path / "plain.json").read_bytes())
    assert sorted(state["symbols"]) == SYMBOLS
    for view in state["symbols"].values():
        assert view["counters"]["trades"] > 0 and view["book"]["state"] == "in_sync"
        assert view["candles"] == {"15s": [], "1m": [], "5m": []}
    assert sorted(table_rows(plain.stdout)) == SYMBOLS
