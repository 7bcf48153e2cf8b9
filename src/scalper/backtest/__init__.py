"""Backtests: recordings run through the live code, and the report of a run.

The report's API: build a `ReportInputs` from the run's portfolio and broker records (the
entry contexts from the audit trail with `entry_contexts`), then
`compute_metrics(inputs)` for the figures, or `write_report(out_dir, inputs, ...)` for the
files (report.json, report.html, trades.parquet, equity.parquet).
"""

from scalper.backtest.entries import entry_contexts
from scalper.backtest.inputs import EntryContext, PriceSeries, ReportInputs
from scalper.backtest.metrics import ReportMetrics, compute_metrics
from scalper.backtest.report import write_report

__all__ = [
    "EntryContext",
    "PriceSeries",
    "ReportInputs",
    "ReportMetrics",
    "compute_metrics",
    "entry_contexts",
    "write_report",
]
