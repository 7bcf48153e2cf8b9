"""The report page: one self-contained HTML file with inline CSS and inline SVG charts.

No script, no font, no image and no link leaves the file, so it opens offline and the same
inputs give the same bytes. Charts are drawn here as SVG (a few hundred points per line after
thinning, see `ReportSettings.chart_points`) rather than with the dashboard's charting library:
nothing to inline or load, and a test can read every point from the DOM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Final

import msgspec
import numpy as np

from scalper.backtest.inputs import PriceSeries
from scalper.backtest.metrics import (
    HOURS_PER_YEAR,
    LatencyStats,
    PnLGroup,
    ReportMetrics,
    drawdown_fractions,
)
from scalper.backtest.trade_list import ReportTrade
from scalper.settings import ReportSettings
from scalper.trading.portfolio import EquityPoint

WIDTH: Final = 1100
HEIGHT: Final = 260
LEFT: Final = 80
RIGHT: Final = 20
TOP: Final = 12
BOTTOM: Final = 28
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
PERCENT_FIELDS: Final = frozenset(
    {
        "total_return",
        "annual_return",
        "max_drawdown_frac",
        "win_rate",
        "maker_share",
        "passive_fill_rate",
    }
)
METRIC_GROUPS: Final = (
    ("Period", ("start_ns", "end_ns", "period_hours", "starting_equity", "final_equity")),
    (
        "P&L (closed trades)",
        ("gross_pnl", "fees", "funding", "net_pnl", "unclosed_pnl", "slippage_quote"),
    ),
    (
        "Return and risk",
        (
            "total_return",
            "annual_return",
            "max_drawdown",
            "max_drawdown_frac",
            "sharpe",
            "sortino",
            "calmar",
            "hourly_returns",
            "periods_per_year",
        ),
    ),
    (
        "Trades",
        (
            "trades",
            "wins",
            "losses",
            "win_rate",
            "profit_factor",
            "expectancy",
            "avg_win",
            "max_win",
            "avg_loss",
            "max_loss",
            "max_consecutive_wins",
            "max_consecutive_losses",
            "avg_holding_s",
            "trades_without_context",
            "trades_without_score",
        ),
    ),
    (
        "Execution",
        (
            "fills",
            "maker_fills",
            "taker_fills",
            "maker_share",
            "passive_orders_placed",
            "passive_orders_filled",
            "passive_fill_rate",
            "latency.count",
            "latency.p50_ms",
            "latency.p90_ms",
            "latency.p99_ms",
            "latency.max_ms",
        ),
    ),
)
"""The metrics table's groups: every field of ReportMetrics but the two tables, once."""
SIGNED_FIELDS: Final = frozenset(
    {
        "gross_pnl",
        "net_pnl",
        "avg_net_pnl",
        "unclosed_pnl",
        "total_return",
        "annual_return",
        "sharpe",
        "sortino",
        "calmar",
        "expectancy",
    }
)
CSS: Final = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
p.note { color: #555; margin: 4px 0; max-width: 1100px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e6ec; text-align: right; }
th { background: #f4f6f9; } td.l, th.l { text-align: left; }
#metrics td.k { text-align: left; color: #444; }
.grid { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; }
caption { text-align: left; font-weight: 600; padding: 0 0 4px 10px; }
#trades td { white-space: nowrap; }
svg { background: #fbfcfd; border: 1px solid #e3e6ec; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #555; }
.pos { color: #137a3c; } .neg { color: #b3261e; }
"""


def render_html(
    *,
    title: str,
    metrics: ReportMetrics,
    trades: Sequence[ReportTrade],
    equity: Sequence[EquityPoint],
    prices: PriceSeries | None,
    settings: ReportSettings,
) -> str:
    """The whole page as text."""
    curve = [(metrics.start_ns, metrics.starting_equity)] + [(p.ts_ns, p.equity) for p in equity]
    fractions = drawdown_fractions(metrics.starting_equity, equity) * 100
    drawdown = [
        (metrics.start_ns, 0.0),
        *zip((p.ts_ns for p in equity), fractions.tolist(), strict=True),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">{_time(metrics.start_ns)} to {_time(metrics.end_ns)} UTC '
        f"({metrics.period_hours:,.2f} h of event time), starting equity "
        f"{_number(metrics.starting_equity)}.</p>",
        '<p class="note">Sharpe and Sortino on hourly returns of a 24/7 clock, annualised '
        f"&times; &radic;{HOURS_PER_YEAR} (24 &times; 365 days; risk-free rate 0). Drawdown on "
        "the mark-to-market equity curve. Wins and losses on net P&amp;L (after fees and "
        "funding); a profit factor without losses is n/a.</p>",
        "<h2>Metrics</h2>",
        _metrics_table(metrics),
        "<h2>Equity</h2>",
        _line_chart("equity-chart", curve, settings.chart_points, _number),
        "<h2>Drawdown (% of peak)</h2>",
        _line_chart("drawdown-chart", drawdown, settings.chart_points, _pct_axis, area=True),
        _price_section(prices, trades, settings.chart_points),
        "<h2>P&amp;L by regime at entry</h2>",
        _group_table("by-regime", ("regime", "value"), metrics.by_regime),
        "<h2>P&amp;L by score decile at entry</h2>",
        _group_table("by-decile", ("decile", "score_min", "score_max"), metrics.by_score_decile),
        _trade_table(trades, settings.html_trades),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# -- tables ---------------------------------------------------------------------------------


def _metrics_table(metrics: ReportMetrics) -> str:
    """Every figure, in the groups of METRIC_GROUPS (latency's fields as `latency.<name>`)."""
    values: dict[str, object] = msgspec.structs.asdict(metrics)
    latency = values.pop("latency")
    latency_fields = msgspec.structs.fields(LatencyStats)
    for field in latency_fields:
        values[f"latency.{field.name}"] = None if latency is None else getattr(latency, field.name)
    tables = []
    for group, names in METRIC_GROUPS:
        rows = "".join(_metric_row(name, values.pop(name)) for name in names)
        tables.append(f"<table><caption>{escape(group)}</caption><tbody>{rows}</tbody></table>")
    values.pop("by_regime")
    values.pop("by_score_decile")
    if values:
        raise AssertionError(f"metrics missing from the page's groups: {sorted(values)}")
    return f'<div id="metrics" class="grid">{"".join(tables)}</div>'


def _metric_row(name: str, value: object) -> str:
    raw = "null" if value is None else escape(repr(value))
    return (
        f'<tr data-metric="{escape(name)}" data-value="{raw}"><td class="k">{escape(name)}</td>'
        f"<td{_sign_class(name, value)}>{_metric_text(name, value)}</td></tr>"
    )


def _metric_text(name: str, value: object) -> str:
    if value is None:
        return "n/a"
    if name.endswith("_ns") and isinstance(value, int):
        return _time(value)
    if name in PERCENT_FIELDS and isinstance(value, float):
        return f"{value * 100:,.3f} %"
    return _number(value)


def _group_table(table_id: str, keys: Sequence[str], rows: Sequence[PnLGroup]) -> str:
    figures = ("trades", "wins", "win_rate", "gross_pnl", "fees", "funding", "net_pnl")
    head = "".join(f"<th>{escape(name)}</th>" for name in (*keys, *figures, "avg_net_pnl"))
    body = []
    for row in rows:
        values = msgspec.structs.asdict(row)
        cells = [f'<td class="l">{escape(_number(values[key]))}</td>' for key in keys]
        cells += [
            f"<td{_sign_class(name, values[name])}>{_metric_text(name, values[name])}</td>"
            for name in (*figures, "avg_net_pnl")
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not rows:
        body.append(f'<tr><td class="l" colspan="{len(keys) + 8}">no trades with context</td></tr>')
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _trade_table(trades: Sequence[ReportTrade], limit: int) -> str:
    head = (
        "#", "symbol", "side", "qty", "entry", "exit", "entry price", "exit price", "gross",
        "fees", "funding", "net", "holding s", "MAE", "MFE", "in", "out", "slippage", "score",
        "regimes",
    )  # fmt: skip
    body = []
    for number, t in enumerate(trades[:limit], start=1):
        regimes = ", ".join(f"{key}={value}" for key, value in t.regimes.items())
        cells = (
            str(number), t.symbol, "long" if t.side > 0 else "short", _number(t.qty),
            _time(t.entry_ns), _time(t.exit_ns), _number(t.entry_price), _number(t.exit_price),
            _number(t.gross_pnl), _number(t.fees), _number(t.funding), _number(t.net_pnl),
            _number(t.holding_s), _number(t.mae_quote), _number(t.mfe_quote),
            t.entry_liquidity, t.exit_liquidity, _number(t.slippage_quote), _number(t.score),
            regimes,
        )  # fmt: skip
        body.append(
            "<tr>"
            + "".join(
                f"<td{' class=l' if i in (1, 2, 4, 5, 15, 16, 19) else ''}>{escape(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    shown = min(limit, len(trades))
    note = (
        f'<p class="note">{shown} of {len(trades)} trades shown; all are in report.json and '
        "trades.parquet. MAE/MFE: the worst and best open P&amp;L (quote). Slippage: cost "
        "against the decision mid (quote).</p>"
    )
    header = "".join(f"<th>{escape(name)}</th>" for name in head)
    return (
        f"<h2>Trades</h2>{note}<table id='trades'><thead><tr>{header}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


# -- charts ---------------------------------------------------------------------------------


class _Frame:
    """Maps (ts_ns, value) into the plot area of a WIDTH x HEIGHT chart."""

    def __init__(self, points: Sequence[tuple[int, float]]) -> None:
        self.x0 = min(ts for ts, _ in points)
        self.x1 = max(ts for ts, _ in points)
        self.y0 = min(v for _, v in points)
        self.y1 = max(v for _, v in points)
        if self.y1 == self.y0:
            pad = abs(self.y0) * 0.01 or 1.0
            self.y0, self.y1 = self.y0 - pad, self.y1 + pad

    def x(self, ts: int) -> float:
        span = self.x1 - self.x0
        fraction = (ts - self.x0) / span if span else 0.5
        return LEFT + fraction * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        fraction = (value - self.y0) / (self.y1 - self.y0)
        return TOP + (1 - fraction) * (HEIGHT - TOP - BOTTOM)

    def axes(self, label: Callable[[float], str]) -> str:
        """Five horizontal grid lines with values, and five times along the bottom."""
        out = []
        for i in range(5):
            value = self.y0 + (self.y1 - self.y0) * i / 4
            y = self.y(value)
            out.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#e3e6ec"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                f'text-anchor="end">{escape(label(value))}</text>'
            )
        for i, anchor in enumerate(("start", "middle", "middle", "middle", "end")):
            ts = self.x0 + (self.x1 - self.x0) * i // 4
            out.append(
                f'<text x="{self.x(ts):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
                f"{_time(ts)}</text>"
            )
        return "".join(out)


def _line_chart(
    chart_id: str,
    points: Sequence[tuple[int, float]],
    max_points: int,
    label: Callable[[float], str],
    *,
    area: bool = False,
    extra: str = "",
    frame: _Frame | None = None,
) -> str:
    if not points:
        return _empty_chart(chart_id, "no data")
    shown = thin(points, max_points)
    frame = frame or _Frame(shown)
    path = " ".join(f"{frame.x(ts):.1f},{frame.y(v):.1f}" for ts, v in shown)
    if area:
        zero = frame.y(min(max(0.0, frame.y0), frame.y1))
        first, last = frame.x(shown[0][0]), frame.x(shown[-1][0])
        shape = (
            f'<polygon points="{first:.1f},{zero:.1f} {path} {last:.1f},{zero:.1f}" '
            'fill="#f3c4c0" stroke="#b3261e" stroke-width="1"/>'
        )
    else:
        shape = f'<polyline points="{path}" fill="none" stroke="#1f5fbf" stroke-width="1.5"/>'
    return (
        f'<svg id="{chart_id}" data-points="{len(shown)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"{frame.axes(label)}{shape}{extra}</svg>"
    )


def _empty_chart(chart_id: str, text: str) -> str:
    return (
        f'<svg id="{chart_id}" data-points="0" width="{WIDTH}" height="60" '
        f'viewBox="0 0 {WIDTH} 60" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{LEFT}" y="34">{escape(text)}</text></svg>'
    )


def _price_section(
    prices: PriceSeries | None, trades: Sequence[ReportTrade], max_points: int
) -> str:
    if prices is None or not prices.points:
        return "<h2>Trades on price</h2>" + _empty_chart("price-chart", "no price series given")
    mine = [
        t
        for t in trades
        if t.symbol == prices.symbol
        and prices.points[0][0] <= t.entry_ns
        and t.exit_ns <= prices.points[-1][0]
    ]
    shown = thin(prices.points, max_points)
    marks = [(t.entry_ns, t.entry_price) for t in mine] + [(t.exit_ns, t.exit_price) for t in mine]
    frame = _Frame([*shown, *marks])
    drawn = []
    for t in mine:
        x0, y0 = frame.x(t.entry_ns), frame.y(t.entry_price)
        x1, y1 = frame.x(t.exit_ns), frame.y(t.exit_price)
        colour = "#137a3c" if t.net_pnl > 0 else "#b3261e"
        tip = escape(
            f"{'long' if t.side > 0 else 'short'} {_number(t.qty)} @ {_number(t.entry_price)}"
            f" -> {_number(t.exit_price)}, net {_number(t.net_pnl)}"
        )
        tri = (
            f"{x0:.1f},{y0 - 7:.1f} {x0 - 6:.1f},{y0 + 5:.1f} {x0 + 6:.1f},{y0 + 5:.1f}"
            if t.side > 0
            else f"{x0:.1f},{y0 + 7:.1f} {x0 - 6:.1f},{y0 - 5:.1f} {x0 + 6:.1f},{y0 - 5:.1f}"
        )
        drawn.append(
            f'<g class="trade"><title>{tip}</title>'
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            f'stroke="{colour}" stroke-dasharray="4 3"/>'
            f'<polygon points="{tri}" fill="{colour}"/>'
            f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="4" fill="#fff" stroke="{colour}" '
            'stroke-width="2"/></g>'
        )
    chart = _line_chart(
        "price-chart", shown, max_points, _number, extra="".join(drawn), frame=frame
    )
    return (
        f"<h2>Trades on price: {escape(prices.symbol)}</h2>"
        f'<p class="note">{len(mine)} trades; triangles are entries (up long, down short), '
        "circles exits; green made money after costs, red lost.</p>" + chart
    )


def thin(points: Sequence[tuple[int, float]], max_points: int) -> list[tuple[int, float]]:
    """At most `max_points` of `points`: each of max_points / 2 equal stretches keeps its lowest
    and highest point (the first of equals), in time order, so a drawdown's trough survives."""
    if len(points) <= max_points:
        return list(points)
    values = np.fromiter((v for _, v in points), dtype=np.float64, count=len(points))
    buckets = max(1, max_points // 2)
    out: list[tuple[int, float]] = []
    for b in range(buckets):
        lo, hi = b * len(points) // buckets, (b + 1) * len(points) // buckets
        stretch = values[lo:hi]
        low, high = lo + int(stretch.argmin()), lo + int(stretch.argmax())
        out.extend(points[i] for i in sorted({low, high}))
    return out


# -- formatting -----------------------------------------------------------------------------


def _time(ts_ns: int) -> str:
    return (EPOCH + timedelta(microseconds=ts_ns // 1_000)).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1_000:
        return f"{value:,.2f}"
    return f"{value:.6g}"


def _pct_axis(value: float) -> str:
    return f"{value:.2f} %"


def _sign_class(name: str, value: object) -> str:
    """Green or red for what is good or bad by its sign (P&L, returns, ratios), else none."""
    if name not in SIGNED_FIELDS or not isinstance(value, float) or value == 0:
        return ""
    return ' class="pos"' if value > 0 else ' class="neg"'
