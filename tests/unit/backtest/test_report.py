"""The report's files: deterministic JSON, Parquet that reads back, a page with every metric."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from tests.unit.backtest.hand_built import (
    EQUITY,
    MINUTE,
    PRICES,
    START,
    TRADES,
    inputs,
)

from scalper.backtest import ReportInputs, compute_metrics, write_report
from scalper.backtest.report import (
    EQUITY_PARQUET,
    REPORT_HTML,
    REPORT_JSON,
    TRADES_PARQUET,
    Report,
)
from scalper.backtest.report_html import thin
from scalper.backtest.trade_list import trade_list
from scalper.settings import ReportSettings
from scalper.trading.orders import BUY, SELL, Fill, Liquidity
from scalper.trading.portfolio import Portfolio

FILES = (REPORT_JSON, REPORT_HTML, TRADES_PARQUET, EQUITY_PARQUET)


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    write_report(tmp_path / "a", inputs(), title="run", prices=PRICES)
    write_report(tmp_path / "b", inputs(), title="run", prices=PRICES)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(FILES)  # no leftovers


def test_report_json_has_sorted_keys_and_round_trip_floats(tmp_path: Path) -> None:
    metrics = write_report(tmp_path, inputs(), title="run")
    data = (tmp_path / REPORT_JSON).read_bytes()
    parsed = json.loads(data)
    # Python's encoder with sorted keys writes floats as repr: the same text, byte for byte.
    assert data == json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    report = msgspec.json.decode(data, type=Report)
    assert report.schema == "scalper.backtest.report/1" and report.title == "run"
    assert report.metrics == metrics == compute_metrics(inputs())
    assert report.trades == trade_list(TRADES, inputs().entries)
    first, last = parsed["trades"][0], parsed["trades"][-1]
    assert first["score"] == 0.9 and first["regimes"] == {"trend": "up", "volatility": "high"}
    assert first["holding_s"] == 1800.0 and first["net_pnl"] == 11.0
    assert last["score"] is None and last["regimes"] == {}  # no entry context


def test_parquet_files_hold_the_trades_and_the_curve(tmp_path: Path) -> None:
    write_report(tmp_path, inputs())
    trades = pq.read_table(tmp_path / TRADES_PARQUET).to_pylist()
    assert [t["net_pnl"] for t in trades] == [11.0, -5.0, -3.0, 8.0, 0.0]
    assert [t["regime_trend"] for t in trades] == ["up", "up", "down", None, None]
    assert [t["regime_volatility"] for t in trades] == ["high", "low", "high", "high", None]
    assert trades[2]["slippage_quote"] is None and trades[0]["entry_liquidity"] == "maker"
    equity = pq.read_table(tmp_path / EQUITY_PARQUET).to_pydict()
    assert equity["ts_ns"] == [p.ts_ns for p in EQUITY]
    assert equity["equity"] == [p.equity for p in EQUITY]
    assert min(equity["drawdown_frac"]) == -22 / 1012
    assert equity["drawdown_frac"][5] == 0.0  # the new peak


def test_an_empty_run_still_writes_every_file(tmp_path: Path) -> None:
    empty = ReportInputs(starting_equity=1000.0, trades=[], equity=[])
    metrics = write_report(tmp_path, empty)
    assert metrics.trades == 0
    assert pq.read_table(tmp_path / TRADES_PARQUET).num_rows == 0
    assert pq.read_table(tmp_path / EQUITY_PARQUET).num_rows == 0
    page = (tmp_path / REPORT_HTML).read_text()
    assert "no price series given" in page and 'data-metric="profit_factor"' in page


def test_the_page_shows_every_metric_and_draws_from_the_inputs_only(tmp_path: Path) -> None:
    metrics = write_report(tmp_path, inputs(), prices=PRICES)
    page = (tmp_path / REPORT_HTML).read_text()
    for name, value in msgspec.structs.asdict(metrics).items():
        if name == "latency":
            assert 'data-metric="latency.p99_ms"' in page
        elif name not in ("by_regime", "by_score_decile"):
            assert f'data-metric="{name}" data-value="{value!r}"' in page or value is None, name
    assert 'data-metric="profit_factor" data-value="2.375"' in page
    for reference in ("http://", "https://", "<script", "<link", "@import", "url("):
        if reference == "http://":
            # The only one: SVG's namespace name, an identifier that is never fetched.
            assert page.count(reference) == page.count('xmlns="http://www.w3.org/2000/svg"')
        else:
            assert reference not in page, reference


def test_a_long_run_is_bounded_on_the_page(tmp_path: Path) -> None:
    many = [
        Fill(
            client_id=str(i),
            symbol="BTCUSDT",
            side=BUY if i % 2 == 0 else SELL,
            price=100.0 + (i % 7),
            qty=1.0,
            fee=0.01,
            liquidity=Liquidity.TAKER,
            ts_ns=START + i * MINUTE,
        )
        for i in range(200)
    ]
    portfolio = Portfolio(1000.0, equity_interval_ns=MINUTE)
    for fill in many:
        portfolio.apply_fill(fill, decision_mid=fill.price)
    portfolio.sample(START + 300 * MINUTE)
    run = ReportInputs(
        starting_equity=1000.0,
        trades=portfolio.trades.latest(),
        equity=list(portfolio.equity_curve),
        fills=many,
    )
    metrics = write_report(tmp_path, run, settings=ReportSettings(chart_points=40, html_trades=7))
    assert metrics.trades == 100
    # The account's own figure, up to the rounding of each trade's exact P&L to a float.
    assert metrics.net_pnl == pytest.approx(portfolio.pnl().net, abs=1e-12)
    assert metrics.final_equity == portfolio.pnl().equity
    page = (tmp_path / REPORT_HTML).read_text()
    assert "7 of 100 trades shown" in page
    assert page.count("<tr><td>") == 7
    assert 'id="equity-chart" data-points="40"' in page


def test_thinning_keeps_each_stretchs_extremes_in_order() -> None:
    points = [(i, 0.0) for i in range(100)]
    points[37] = (37, -5.0)
    points[80] = (80, 9.0)
    shown = thin(points, 10)
    assert len(shown) <= 10 and (37, -5.0) in shown and (80, 9.0) in shown
    assert shown == sorted(shown)
    assert thin(points[:5], 10) == points[:5]
