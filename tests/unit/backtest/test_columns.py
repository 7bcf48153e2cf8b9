"""The backtest's columnar path (book frames from their integer columns, each handed to the
trader as live) makes exactly the run the JSON path makes: the same fills, audit, trades,
equity, report.json byte for byte, and the same engine state."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from scalper.backtest.runner import (
    Collected,
    build_trader,
    recorded_instruments,
    run_backtest,
    write_run_context,
)
from scalper.cli import main
from scalper.engine import Engine, TradeTap
from scalper.replay import Decode
from scalper.settings import RecorderSettings, Settings
from scalper.settings_sources import load_settings
from scalper.storage.recorder import Recorder
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.frames import record_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket, generate_frames
from scalper.views import engine_view

DEMO_LIKE = {
    "engine.timeframes": ["15s", "1m", "5m"],
    "signals.regimes.timeframe": "15s",
    "signals.regimes.trend_confirm_timeframe": "1m",
    "trading.strategy.allowed_volatility": ["warming_up", "low", "normal", "high"],
    "trading.strategy.allowed_volume": ["warming_up", "quiet", "normal", "active", "surge"],
}


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six symbols for 60 s, in row groups of 3,000 rows (so that the 4,096-row drains fall
    inside row groups as well as between them)."""
    data_dir = tmp_path_factory.mktemp("recording")
    market = MarketConfig(symbols=6, seconds=60, seed=4)
    recorder = Recorder(
        data_dir,
        RecorderSettings(max_disk_bytes=None, retention_days=None),
        source="test",
        codec=BOOK_CODEC,
    )
    recorder._writers["raw"].fmt.row_group_rows = 3000
    recorder.start()
    for recv_ns, raw in generate_frames(market):
        record_frame(recorder, raw, recv_ns)
    recorder.stop()
    instruments = {c.symbol: c.instrument for c in SyntheticMarket(market).instruments.values()}
    write_run_context(data_dir, demo_like(), instruments)
    return data_dir


def demo_like() -> Settings:
    return load_settings(env={}, command_defaults=DEMO_LIKE).settings


def everything(trader: Trader, rows: Collected) -> bytes:
    """The whole run as bytes: every collected row, the account and the engine's view."""
    return msgspec.json.encode(
        {
            "audit": rows.audit,
            "orders": rows.orders,
            "fills": rows.fills,
            "funding": rows.funding,
            "trades": rows.trades,
            "equity": rows.equity,
            "risk": rows.risk_changes,
            "refusals": rows.refusals,
            "pnl": trader.portfolio.pnl(),
            "now": trader.now_ns,
            "view": engine_view(trader.engine, levels=100_000),
        }
    )


def backtested(data_dir: Path, decode: Decode, **options: object) -> tuple[bytes, int, int]:
    trader = build_trader(demo_like(), recorded_instruments(data_dir))
    run, rows = run_backtest(trader, data_dir, decode=decode, **options)  # type: ignore[arg-type]
    return everything(trader, rows), len(rows.fills), run.rows


def test_both_paths_make_the_same_backtest(recording: Path) -> None:
    by_json, fills, json_rows = backtested(recording, "json")
    by_columns, _, column_rows = backtested(recording, "columns")
    assert fills > 0, "the market must trade for the comparison to mean something"
    assert column_rows == json_rows
    assert by_columns == by_json


def test_both_paths_agree_from_a_time_and_for_some_symbols(recording: Path) -> None:
    from scalper.storage.reader import recorded_span

    first, last = recorded_span(recording)  # type: ignore[misc]
    middle = (first + last) // 2
    symbols = sorted(recorded_instruments(recording))[:3]
    for options in ({"from_ns": middle}, {"to_ns": middle, "symbols": symbols}):
        assert backtested(recording, "columns", **options) == backtested(
            recording, "json", **options
        )


def test_an_uncompiled_tap_sees_the_same_events(recording: Path) -> None:
    """A tap that is not an `EventTap` (here the trader's own on_event) gets every book row as
    its event."""
    settings = demo_like()
    instruments = recorded_instruments(recording)

    def uncompiled() -> Trader:
        from scalper.signals import SignalEngine
        from scalper.trading.paper import PaperBroker

        engine = Engine(settings.engine)
        trading = settings.trading
        return Trader(
            engine,
            SignalEngine(engine, settings.signals),
            ReferenceStrategy(trading.strategy),
            PaperBroker(trading.paper, instruments),
            trading,
            instruments,
            trading.paper.starting_equity,
            compiled_tap=False,
        )

    runs = []
    for decode in ("json", "columns"):
        trader = uncompiled()
        _, rows = run_backtest(trader, recording, decode=decode)  # type: ignore[arg-type]
        runs.append(everything(trader, rows))
    assert runs[0] == runs[1]
    assert runs[1] == backtested(recording, "columns")[0]


def test_a_second_compiled_tap_changes_nothing_and_sees_every_trade(recording: Path) -> None:
    """The footprints' `TradeTap` beside the trader's tap: one compiled `EventTaps` on both
    paths; the trader's run is the one it makes alone, and the footprints are the same."""
    from scalper.footprint import Footprints

    settings = demo_like()
    instruments = recorded_instruments(recording)
    ticks = {symbol: instrument.tick_size for symbol, instrument in instruments.items()}
    alone = backtested(recording, "columns")[0]
    footprints_by_path = []
    for decode in ("json", "columns"):
        trader = build_trader(settings, instruments)
        footprints = Footprints(settings.footprint, ticks)
        trader.engine.add_tap(TradeTap(footprints.on_trades))
        _, rows = run_backtest(trader, recording, decode=decode)  # type: ignore[arg-type]
        assert everything(trader, rows) == alone, decode
        views = [footprints.view(symbol, 1_000, trader.now_ns) for symbol in sorted(ticks)]
        assert all(view is not None and view.candles for view in views)
        footprints_by_path.append(msgspec.json.encode(views))
    assert footprints_by_path[0] == footprints_by_path[1]


def test_the_command_writes_the_same_report_either_way(recording: Path, tmp_path: Path) -> None:
    outputs = {}
    for decode in ("json", "columns"):
        out = tmp_path / decode
        code = main(
            ["backtest", str(recording), "--out", str(out), "--decode", decode, "--no-progress"]
        )
        assert code == 0
        outputs[decode] = out
    json_out, column_out = outputs["json"], outputs["columns"]
    for name in ("report.json", "fills.jsonl", "audit.jsonl"):
        assert (column_out / name).read_bytes() == (json_out / name).read_bytes(), name
    assert (json_out / "fills.jsonl").read_bytes().count(b"\n") > 0
    for name in ("trades.parquet", "equity.parquet"):
        assert pq.read_table(column_out / name).equals(pq.read_table(json_out / name)), name
