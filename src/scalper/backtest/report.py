"""Writes a backtest's report into a directory: report.json, trades.parquet, equity.parquet and
report.html.

report.json is deterministic byte for byte: keys sorted, floats as the shortest text that reads
back to the same double (msgspec, like Python's repr), figures summed with `math.fsum`; no
wall-clock time, host or path is written. The Parquet files hold the same trades (regimes as one
`regime_<name>` column per regime) and the equity curve with its drawdown, for DuckDB or
pandas. The page (`report_html`) opens offline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal, get_args

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scalper.backtest.inputs import PriceSeries, ReportInputs
from scalper.backtest.metrics import (
    ReportMetrics,
    column,
    compute_metrics,
    drawdown_fractions,
)
from scalper.backtest.report_html import render_html
from scalper.backtest.trade_list import ReportTrade, trade_list
from scalper.settings import ReportSettings
from scalper.trading.portfolio import EquityPoint

REPORT_JSON: Final = "report.json"
REPORT_HTML: Final = "report.html"
TRADES_PARQUET: Final = "trades.parquet"
EQUITY_PARQUET: Final = "equity.parquet"
SCHEMA: Final = "scalper.backtest.report/1"


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """What report.json holds."""

    schema: Literal["scalper.backtest.report/1"] = SCHEMA
    title: str
    metrics: ReportMetrics
    trades: list[ReportTrade]


def report_json(report: Report) -> bytes:
    """report.json's bytes: sorted keys, shortest round-trip floats, one trailing newline."""
    return msgspec.json.encode(report, order="sorted") + b"\n"


def write_report(
    out_dir: str | os.PathLike[str],
    inputs: ReportInputs,
    *,
    title: str = "Backtest report",
    prices: PriceSeries | None = None,
    settings: ReportSettings | None = None,
) -> ReportMetrics:
    """Computes the metrics and writes the four files into `out_dir` (created if missing;
    files of the same names are replaced). `prices` draws one symbol's trades on its prices.
    Returns the metrics (what a sweep ranks runs by)."""
    settings = settings or ReportSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = compute_metrics(inputs)
    trades = trade_list(inputs.trades, inputs.entries)
    report = Report(title=title, metrics=metrics, trades=trades)
    _write_bytes(out / REPORT_JSON, report_json(report))
    _write_parquet(out / TRADES_PARQUET, trades_table(trades))
    _write_parquet(out / EQUITY_PARQUET, equity_table(inputs.starting_equity, inputs.equity))
    page = render_html(
        title=title,
        metrics=metrics,
        trades=trades,
        equity=inputs.equity,
        prices=prices,
        settings=settings,
    )
    _write_bytes(out / REPORT_HTML, page.encode())
    return metrics


def trades_table(trades: Sequence[ReportTrade]) -> pa.Table:
    """The trade list as Arrow columns (typed even when empty)."""
    fields = [f for f in msgspec.structs.fields(ReportTrade) if f.name != "regimes"]
    columns = {
        f.name: pa.array([getattr(t, f.name) for t in trades], _arrow_type(f.type)) for f in fields
    }
    names = sorted({name for t in trades for name in t.regimes})
    for name in names:
        columns[f"regime_{name}"] = pa.array([t.regimes.get(name) for t in trades], pa.string())
    return pa.table(columns)


def equity_table(starting_equity: float, equity: Sequence[EquityPoint]) -> pa.Table:
    """The equity curve and its drawdown (a fraction of the peak so far, <= 0)."""
    columns = {
        name: pa.array(column(equity, name, np.int64 if name == "ts_ns" else np.float64))
        for name in ("ts_ns", "equity", "realised", "unrealised", "fees", "funding")
    }
    columns["drawdown_frac"] = pa.array(drawdown_fractions(starting_equity, equity))
    return pa.table(columns)


def _arrow_type(annotation: object) -> pa.DataType:
    kinds = set(get_args(annotation)) - {type(None)} or {annotation}
    if kinds == {int}:
        return pa.int64()
    if kinds == {float}:
        return pa.float64()
    if kinds == {str}:
        return pa.string()
    raise TypeError(f"no Arrow type for a trade field of type {annotation!r}")


def _write_parquet(path: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    _write_bytes(path, sink.getvalue().to_pybytes())


def _write_bytes(path: Path, data: bytes) -> None:
    """Write beside, then rename: a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
