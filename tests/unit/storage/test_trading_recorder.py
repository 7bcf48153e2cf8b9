"""The trading tables on disk: real rows of the trading classes written and read back
identical, flushes on time and size, no row lost on stop, drops counted, the `scalper query`
views, crash recovery, retention and the disk budget."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from scalper.events import Instrument
from scalper.settings import RecorderSettings, RiskSettings
from scalper.storage.query import run_query
from scalper.storage.recorder import Recorder
from scalper.storage.segments import HOUR_NS, JOURNAL_SUFFIX, SEGMENT_SUFFIX
from scalper.storage.trading_reader import read_audit, read_records, read_table
from scalper.storage.trading_recorder import TradingRecorder
from scalper.storage.trading_tables import (
    TABLES,
    RiskEvent,
    risk_event_of_change,
    risk_event_of_refusal,
    table_root,
)
from scalper.trading.audit import AuditLog, AuditRecord, BookTop, DecisionInputs
from scalper.trading.intents import EnterIntent, ExitIntent
from scalper.trading.machine import MachineState, SymbolMachine
from scalper.trading.orders import (
    BUY,
    Fill,
    FundingPayment,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from scalper.trading.portfolio import Portfolio
from scalper.trading.risk import (
    Approved,
    BookState,
    Refused,
    RiskContext,
    RiskEngine,
)

S = 1_000_000_000
T0 = 1_764_000_000 * S - (1_764_000_000 * S) % HOUR_NS  # an hour boundary
BTC = Instrument("BTCUSDT", "Trading", "USDT", tick_size="0.10", qty_step="0.001", min_qty="0.001")


def small(**overrides: object) -> RecorderSettings:
    settings: dict[str, object] = {"max_disk_bytes": None, "retention_days": None}
    settings.update(overrides)
    return RecorderSettings(**settings)  # type: ignore[arg-type]


def one_trade(t0: int = T0) -> dict[str, list[Any]]:
    """Every table's rows from one losing trade driven through the real risk engine, machine
    and portfolio (the trading core's call order), plus funding, a refusal and a halt."""
    risk = RiskEngine(RiskSettings(max_notional_per_symbol=20_000.0))
    portfolio = Portfolio(10_000.0)
    machine = SymbolMachine("BTCUSDT", AuditLog(100), cooldown_ns=60 * S)
    rows: dict[str, list[Any]] = {name: [] for name in TABLES}
    machine.start(t0)
    risk.on_equity(t0, portfolio.equity)

    def context(ts: int, bid: float, ask: float) -> RiskContext:
        return RiskContext(
            ts_ns=ts,
            equity=portfolio.equity,
            instrument=BTC,
            book=BookState(bid=bid, ask=ask, in_sync=True, last_update_ns=ts),
            positions=portfolio.exposures(),
        )

    top = BookTop(bid=64_999.9, ask=65_000.0, bid_qty=2.0, ask_qty=1.5)
    regimes = {"trend": "up", "volatility": "normal"}
    inputs = DecisionInputs(score=0.7, regimes=regimes, book=top, wall_ns=t0 + 123)
    machine.on_signal(t0, BUY, "score 0.7", inputs)
    intent = EnterIntent(
        client_id="e1",
        symbol="BTCUSDT",
        side=BUY,
        stop_price=64_870.0,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        decided_ns=t0,
    )
    decision = risk.check(intent, context(t0, 64_999.9, 65_000.0))
    assert isinstance(decision, Approved) and decision.stop_price is not None
    request = decision.request
    machine.on_entry_submitted(
        t0, request, decision.stop_price, DecisionInputs(score=0.7, book=top, risk=decision.label)
    )
    rows["orders"].append(OrderUpdate(order=Order(request=request, updated_ns=t0), ts_ns=t0))
    fill = Fill(
        client_id="e1",
        symbol="BTCUSDT",
        side=BUY,
        price=65_000.0,
        qty=request.qty,
        fee=6.864,
        liquidity=Liquidity.TAKER,
        ts_ns=t0 + S,
        exec_id="x-1",
    )
    rows["fills"].append(fill)
    risk.on_fill(fill.ts_ns, fill)
    portfolio.apply_fill(fill, decision_mid=request.decision_mid)
    machine.on_fill(fill.ts_ns, fill)
    filled = Order(
        request=request,
        status=OrderStatus.FILLED,
        filled_qty=request.qty,
        avg_price=65_000.0,
        venue_id="v-1",
        updated_ns=t0 + S,
    )
    rows["orders"].append(OrderUpdate(order=filled, ts_ns=t0 + S))
    risk.on_order_update(t0 + S, filled)
    machine.on_order_update(t0 + S, filled)
    assert machine.state is MachineState.IN_POSITION

    funding = FundingPayment(
        symbol="BTCUSDT",
        amount=0.5,
        rate=0.0001,
        position_qty=request.qty,
        mark_price=65_000.0,
        ts_ns=t0 + 2 * S,
    )
    rows["funding"].append(funding)
    portfolio.apply_funding(funding)
    portfolio.mark("BTCUSDT", 64_869.95, t0 + 5 * S)
    risk.on_equity(t0 + 5 * S, portfolio.equity)
    exit_intent = ExitIntent(client_id="x1", symbol="BTCUSDT", decided_ns=t0 + 5 * S, reason="stop")
    exit_decision = risk.check(exit_intent, context(t0 + 5 * S, 64_869.9, 64_870.0))
    assert isinstance(exit_decision, Approved)
    machine.on_exit_submitted(t0 + 5 * S, exit_decision.request, "stop")
    exit_fill = Fill(
        client_id="x1",
        symbol="BTCUSDT",
        side=exit_decision.request.side,
        price=64_869.9,
        qty=request.qty,
        fee=6.8502,
        liquidity=Liquidity.TAKER,
        ts_ns=t0 + 6 * S,
    )
    rows["fills"].append(exit_fill)
    trade = portfolio.apply_fill(exit_fill, decision_mid=exit_decision.request.decision_mid)
    machine.on_fill(exit_fill.ts_ns, exit_fill)
    assert trade is not None
    risk.on_trade_closed(trade.exit_ns, trade.symbol, trade.net_pnl)

    # A refusal, then the kill switch: a trading-state change.
    again = EnterIntent(
        client_id="e2",
        symbol="BTCUSDT",
        side=BUY,
        stop_price=64_870.0,
        order_type=OrderType.MARKET,
        decided_ns=t0 + 70 * S,
    )
    refused = risk.check(again, context(t0 + 70 * S, 64_999.9, 65_000.0))
    assert isinstance(refused, Refused)
    rows["risk"].append(risk_event_of_refusal(t0 + 70 * S, again, refused, risk.state))
    risk.halt(t0 + 71 * S, "test")
    machine.halt(t0 + 71 * S, "kill switch")
    portfolio.sample(t0 + 72 * S)

    rows["audit"] = machine.audit.drain()
    rows["trades"] = portfolio.trades.drain()
    rows["equity"] = list(portfolio.equity_curve)
    rows["risk"] += [risk_event_of_change(change) for change in risk.changes.drain()]
    rows["risk"].sort(key=lambda event: event.ts_ns)
    assert all(rows.values()), {name: len(r) for name, r in rows.items()}
    return rows


def append_all(recorder: TradingRecorder, rows: dict[str, list[Any]]) -> None:
    recorder.append_audit(rows["audit"])
    recorder.append_orders(rows["orders"])
    recorder.append_fills(rows["fills"])
    recorder.append_funding(rows["funding"])
    recorder.append_trades(rows["trades"])
    recorder.append_equity_curve(rows["equity"])
    recorder.append_risk(rows["risk"])


def test_real_rows_of_every_table_read_back_identical(tmp_path: Path) -> None:
    rows = one_trade()
    assert {type(r).__name__ for r in rows["audit"]} == {"AuditRecord"}
    assert any(r.regimes for r in rows["audit"]) and any(r.bid for r in rows["audit"])
    recorder = TradingRecorder.standalone(tmp_path, small())
    append_all(recorder, rows)
    recorder.drain()
    for table in TABLES:  # journaled, the segment still open
        assert read_records(tmp_path, table) == rows[table], table
    recorder.stop()
    assert not list(tmp_path.rglob(f"*{JOURNAL_SUFFIX}"))
    for table, spec in TABLES.items():  # complete segments
        assert list(table_root(tmp_path, table).glob(f"date=*/*{SEGMENT_SUFFIX}")), table
        back = read_records(tmp_path, table)
        assert back == rows[table], table
        assert [type(r) for r in back] == [spec.struct] * len(back)
        assert read_table(tmp_path, table).schema.equals(spec.schema)
    assert recorder.recorder.stats.rows_recorded == {
        f"trading/{table}": len(rows[table]) for table in TABLES
    }


def test_every_column_typed_and_flattened() -> None:
    audit = TABLES["audit"].schema
    assert audit.names[0] == "ts_ns"
    assert str(audit.field("regimes").type) == "map<string, string>"
    orders = TABLES["orders"].schema
    assert {"client_id", "qty", "order_type", "status", "filled_qty"} <= set(orders.names)
    assert str(orders.field("order_type").type) == "string"
    assert TABLES["trades"].schema.names[0] == "exit_ns"
    assert orders.field("price").nullable and not orders.field("qty").nullable


def test_read_audit_by_symbol_and_time_range(tmp_path: Path) -> None:
    def record(ts: int, symbol: str, reason: str) -> AuditRecord:
        return AuditRecord(
            ts_ns=ts, symbol=symbol, previous="idle", state="scanning", trigger="t", reason=reason
        )

    records = [record(T0 + i * S, "BTCUSDT" if i % 2 else "ETHUSDT", str(i)) for i in range(10)]
    records.append(record(T0 + 3 * S, "BTCUSDT", "same time, later"))
    later = [record(T0 + HOUR_NS + i * S, "BTCUSDT", f"h{i}") for i in range(3)]
    recorder = TradingRecorder.standalone(tmp_path, small())
    recorder.append_audit(records)
    recorder.flush()  # a chunk goes to the segment of its first row's hour
    recorder.append_audit(later)
    recorder.stop()
    assert len(list(table_root(tmp_path, "audit").rglob(f"*{SEGMENT_SUFFIX}"))) == 2
    got = read_audit(tmp_path, "BTCUSDT", T0 + 3 * S, T0 + HOUR_NS + S)
    assert [r.reason for r in got] == ["3", "same time, later", "5", "7", "9", "h0"]
    assert len(read_audit(tmp_path)) == 14


def test_flush_on_time(tmp_path: Path) -> None:
    now = [0]
    recorder = Recorder(tmp_path, small(trading_flush_s=1.0, trading_chunk_rows=100), "none")
    recorder.start()
    trading = TradingRecorder(recorder, clock=lambda: now[0])
    rows = one_trade()["audit"]
    trading.append_audit(rows[:1])
    now[0] += S // 2
    trading.flush_due()
    recorder.drain()
    assert read_audit(tmp_path) == []  # waited half a second: still pending
    now[0] += S // 2
    trading.flush_due()
    recorder.drain()
    assert read_audit(tmp_path) == rows[:1]
    trading.append_audit(rows[1:2])
    now[0] += S
    trading.append_audit(rows[2:3])  # an append finds the table due as well
    recorder.drain()
    assert read_audit(tmp_path) == rows[:3]
    trading.stop()
    recorder.stop()


def test_flush_on_size(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, small(trading_flush_s=3600.0, trading_chunk_rows=3), "none")
    recorder.start()
    trading = TradingRecorder(recorder)
    rows = one_trade()["audit"]
    trading.append_audit(rows[:2])
    recorder.drain()
    assert read_audit(tmp_path) == []
    trading.append_audit(rows[2:3])
    recorder.drain()
    assert read_audit(tmp_path) == rows[:3]
    trading.stop()
    recorder.stop()


def slow_writer(monkeypatch: pytest.MonkeyPatch, gate: threading.Event) -> None:
    """The writer waits for `gate` before each chunk (a disk that stalls)."""
    write = Recorder._write

    def stalled(self: Recorder, stream: str, rows: Any) -> None:
        gate.wait(30)
        write(self, stream, rows)

    monkeypatch.setattr(Recorder, "_write", stalled)


def test_stop_waits_for_room_and_loses_no_row(tmp_path: Path, monkeypatch) -> None:
    gate = threading.Event()
    slow_writer(monkeypatch, gate)
    recorder = Recorder(tmp_path, small(queue_chunks=1, trading_flush_s=3600.0), "none")
    recorder.start()
    trading = TradingRecorder(recorder)
    rows = one_trade()
    append_all(trading, rows)
    stopping = threading.Thread(target=lambda: (trading.stop(), recorder.stop()))
    stopping.start()
    time.sleep(0.3)
    assert stopping.is_alive()  # the queue (one chunk) is full: stop waits, drops nothing
    gate.set()
    stopping.join(30)
    assert not stopping.is_alive()
    assert trading.dropped == dict.fromkeys(TABLES, 0)
    for table in TABLES:
        assert read_records(tmp_path, table) == rows[table], table


def test_a_full_queue_drops_rows_and_counts_them(tmp_path: Path, monkeypatch) -> None:
    gate = threading.Event()
    slow_writer(monkeypatch, gate)
    recorder = Recorder(tmp_path, small(queue_chunks=1, trading_chunk_rows=1), "none")
    recorder.start()
    trading = TradingRecorder(recorder)
    records = one_trade()["audit"]
    for record in records:  # a chunk each: the first two wait, the others are dropped
        trading.append_audit([record])
    dropped = trading.dropped["audit"]
    assert dropped >= len(records) - 2
    assert recorder.stats.rows_dropped == {"trading/audit": dropped}
    gate.set()
    trading.stop()
    recorder.stop()
    assert len(read_audit(tmp_path)) == len(records) - dropped
    assert recorder.stats.rows_recorded["trading/audit"] == len(records) - dropped


def cli_query(data_dir: Path, sql: str) -> list[list[str]]:
    """The rows `scalper query --csv` prints."""
    done = subprocess.run(
        [sys.executable, "-m", "scalper.cli", "query", sql, "--data-dir", str(data_dir), "--csv"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(done.stdout)))


COUNTS = " union all ".join(f"select '{t}', count(*) from trading_{t}" for t in TABLES)


def test_query_views_via_the_cli(tmp_path: Path) -> None:
    tmp_path.joinpath("empty").mkdir()
    columns = cli_query(  # nothing recorded: empty views of the right columns, no error
        tmp_path / "empty",
        "select table_name, string_agg(column_name, ' ' order by ordinal_position) "
        "from information_schema.columns where table_schema = 'main' and table_name like "
        "'trading_%' group by 1",
    )
    assert sorted(columns[1:]) == sorted(
        [f"trading_{t}", " ".join([*TABLES[t].schema.names, "date"])] for t in TABLES
    )
    assert sorted(cli_query(tmp_path / "empty", COUNTS)[1:]) == sorted([t, "0"] for t in TABLES)
    rows = one_trade()
    recorder = TradingRecorder.standalone(tmp_path / "data", small())
    append_all(recorder, rows)
    recorder.drain()
    expected = sorted([t, str(len(rows[t]))] for t in TABLES)
    assert sorted(cli_query(tmp_path / "data", COUNTS)[1:]) == expected  # journaled
    recorder.stop()
    assert sorted(cli_query(tmp_path / "data", COUNTS)[1:]) == expected  # segments
    out = cli_query(
        tmp_path / "data",
        "select state, regimes['trend'], risk, date from trading_audit where score is not null "
        "order by ts_ns limit 1",
    )
    assert out[1] == ["signal_detected", "up", "", "2025-11-24"]
    _, found = run_query(
        tmp_path / "data",
        "select status, liquidity from trading_orders join trading_fills "
        "using (client_id) where client_id = 'e1' order by trading_orders.ts_ns",
    )
    assert found == [("pending", "taker"), ("filled", "taker")]


def test_a_crash_journal_is_recovered_as_a_trading_segment(tmp_path: Path) -> None:
    rows = one_trade()
    recorder = TradingRecorder.standalone(tmp_path / "live", small())
    append_all(recorder, rows)
    recorder.drain()
    shutil.copytree(tmp_path / "live", tmp_path / "crashed")  # as a SIGKILL leaves it
    recorder.stop()
    (tmp_path / "crashed" / ".lock").unlink()
    journals = list((tmp_path / "crashed").rglob(f"*{JOURNAL_SUFFIX}"))
    assert len(journals) == len(TABLES)
    for table in TABLES:  # readable before the recovery, from the journals
        assert read_records(tmp_path / "crashed", table) == rows[table]
    again = Recorder(tmp_path / "crashed", small(), "none")
    again.start()
    again.stop()
    assert again.stats.segments_recovered == len(TABLES)
    assert not list((tmp_path / "crashed").rglob(f"*{JOURNAL_SUFFIX}"))
    for table in TABLES:
        assert read_records(tmp_path / "crashed", table) == rows[table]


def test_retention_and_budget_delete_old_trading_segments(tmp_path: Path) -> None:
    now = time.time_ns()
    old_t0 = now - 40 * 86_400 * S  # past the 30 days of retention
    recent_t0 = now - HOUR_NS
    recorder = TradingRecorder.standalone(tmp_path, small(retention_days=30.0))
    append_all(recorder, one_trade(old_t0))
    recorder.flush()
    append_all(recorder, one_trade(recent_t0))
    recorder.stop()  # closing applies the budget
    for table in TABLES:
        times = read_table(tmp_path, table)[TABLES[table].time_column].to_pylist()
        assert times and min(times) >= recent_t0, table
    assert recorder.recorder.stats.segments_deleted == len(TABLES)

    # Over a budget: the oldest go first, the newest stay.
    budget = tmp_path / "budget"
    recorder = TradingRecorder.standalone(budget, small())
    for hour in range(6):
        recorder.append_audit(one_trade(recent_t0 - (6 - hour) * HOUR_NS)["audit"])
        recorder.flush()
    recorder.stop()
    segments = sorted(table_root(budget, "audit").rglob(f"*{SEGMENT_SUFFIX}"))
    assert len(segments) == 6
    size = sum(p.stat().st_size for p in budget.rglob("*") if p.is_file())
    # (a segment cap of 1 byte: no room kept for a raw segment being written)
    recorder = TradingRecorder.standalone(
        budget, small(max_disk_bytes=size // 2, max_segment_bytes=1)
    )
    recorder.stop()
    kept = sorted(table_root(budget, "audit").rglob(f"*{SEGMENT_SUFFIX}"))
    assert 0 < len(kept) < 6 and kept == segments[-len(kept) :]


def test_risk_rows_of_changes_and_refusals() -> None:
    rows = one_trade()["risk"]
    assert [(r.kind, r.state) for r in rows] == [("refusal", "active"), ("state", "halted")]
    refusal, change = rows
    assert refusal.reason == "cooldown_after_loss" and refusal.intent == "enter"
    assert change.previous == "active" and change.reason == "manual: test"
    assert isinstance(refusal, RiskEvent)


def test_an_equity_curve_is_recorded_once_point_by_point(tmp_path: Path) -> None:
    portfolio = Portfolio(10_000.0)
    recorder = TradingRecorder.standalone(tmp_path, small())
    for second in range(5):
        portfolio.mark("BTCUSDT", 65_000.0 + second, T0 + second * S)
        recorder.append_equity_curve(portfolio.equity_curve)
        recorder.append_equity_curve(portfolio.equity_curve)  # nothing new: nothing added
    recorder.stop()
    assert read_records(tmp_path, "equity") == list(portfolio.equity_curve)
    assert len(portfolio.equity_curve) == 5
