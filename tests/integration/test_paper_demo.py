"""`scalper demo` paper-trades by default, as a user runs it (a real subprocess over loopback):
within a minute it closes trades, says so in its log, and records every trading row next to the
market data, where `scalper query` finds them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scalper.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def count(data_dir: Path, sql: str) -> int:
    answer = cli("query", sql, "--data-dir", str(data_dir), "--csv", timeout=120)
    assert answer.returncode == 0, answer.stderr
    return int(answer.stdout.strip().splitlines()[-1])


def test_the_demo_paper_trades_within_a_minute_and_records_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    run = cli(
        "demo",
        "--symbols",
        "12",
        "--duration",
        "60",
        "--no-api",
        "--data-dir",
        str(data_dir),
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stderr + run.stdout
    assert "paper trading every symbol with the reference strategy" in log
    summary = re.search(r"paper trading: (\d+) trades \((\d+) won\), net (-?[\d.]+)", log)
    assert summary is not None, log[-3000:]
    trades = int(summary.group(1))
    assert trades >= 1

    assert count(data_dir, "select count(*) from trading_trades") == trades
    fills = count(data_dir, "select count(*) from trading_fills")
    assert fills >= 2 * trades
    assert count(data_dir, "select count(distinct client_id) from trading_orders") >= 2 * trades
    assert count(data_dir, "select count(*) from trading_audit where state = 'in_position'") >= 1
    assert count(data_dir, "select count(*) from trading_equity") >= 30
    assert (data_dir / "api-token").exists() is False  # no API, no token
