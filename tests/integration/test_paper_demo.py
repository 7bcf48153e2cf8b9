"""`scalper demo` paper-trades by default, as a user runs it (a real subprocess over loopback):
within a minute it closes trades, says so in its log, and records every trading row next to the
market data, where `scalper query` finds them. Then `scalper backtest` over that recording, in
another process, makes exactly the same fills and the same state-machine transitions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import msgspec

from scalper.storage.trading_reader import read_audit, read_records
from scalper.trading.audit import AuditRecord
from scalper.trading.orders import Fill


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

    out = tmp_path / "backtest"
    backtest = cli("backtest", str(data_dir), "--out", str(out), "--no-progress", timeout=240)
    assert backtest.returncode == 0, backtest.stderr[-3000:]
    assert f"{trades} trades" in backtest.stdout
    assert (out / "report.html").exists() and (out / "report.json").exists()
    again = cli("backtest", str(data_dir), "--out", str(tmp_path / "again"), timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    for name in ("report.json", "report.html", "fills.jsonl", "audit.jsonl"):  # byte for byte
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name

    def unstamped(client_id: str) -> str:
        """The live run's ids start with its start stamp (`<base36>-`); the backtest's not."""
        return client_id.split("-", 1)[1] if client_id.count("-") > 1 else client_id

    live_fills = [
        msgspec.structs.replace(fill, client_id=unstamped(fill.client_id))
        for fill in read_records(data_dir, "fills")
    ]
    replayed = [
        msgspec.json.decode(line, type=Fill)
        for line in (out / "fills.jsonl").read_bytes().splitlines()
    ]
    assert replayed == live_fills

    def decisions(records: list[AuditRecord]) -> list[AuditRecord]:
        return [
            msgspec.structs.replace(r, wall_ns=None, client_id=unstamped(r.client_id))
            for r in records
        ]

    # read_audit gives the recorded rows in time order (a stable sort: rows of one time in the
    # order recorded); audit.jsonl keeps the order of emission. They differ where a record's
    # time is behind an earlier one's: a symbol's first record is stamped with the engine's
    # clock, which the wall-clock candle close (now - grace) moves ahead of the next frames'
    # event times when the feed lags by more than the grace (seen under load). Compare both
    # in the reader's order.
    live_audit = decisions(read_audit(data_dir))
    replayed_audit = decisions(
        sorted(
            (
                msgspec.json.decode(line, type=AuditRecord)
                for line in (out / "audit.jsonl").read_bytes().splitlines()
            ),
            key=lambda record: record.ts_ns,
        )
    )
    assert replayed_audit == live_audit


def test_the_demo_trades_through_the_local_exchanges_private_api(tmp_path: Path) -> None:
    """`--execution exchange`: the trader's orders go through the Bybit client over loopback
    to the simulator's private API (its demo keys), and come back filled."""
    run = cli(
        "demo",
        "--symbols",
        "12",
        "--duration",
        "60",
        "--no-api",
        "--data-dir",
        str(tmp_path / "demo"),
        "--execution",
        "exchange",
        "--set",
        "trading.restore=false",
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    log = run.stderr + run.stdout
    assert "exchange trading every symbol with the reference strategy" in log
    assert "Bybit private stream authenticated" in log
    summary = re.search(r"exchange trading: (\d+) trades \((\d+) won\), net (-?[\d.]+)", log)
    assert summary is not None, log[-3000:]
    assert int(summary.group(1)) >= 1
    assert "Traceback" not in log
