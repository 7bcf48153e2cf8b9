"""Prometheus figures of the trading core, read at scrape time (nothing per event)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scalper.trading.risk import TradingState
from scalper.trading.trader import Trader


class TradingCollector(Collector):
    """Equity, daily P&L, positions, orders by status, refusals by reason, trading state."""

    def __init__(self, trader: Trader) -> None:
        self.trader = trader

    def collect(self) -> Iterator[Metric]:
        trader = self.trader
        pnl = trader.portfolio.pnl()
        yield GaugeMetricFamily("scalper_trading_equity", "Account equity (quote)", pnl.equity)
        yield GaugeMetricFamily(
            "scalper_trading_daily_pnl",
            "Equity change since the UTC day's start (fees and funding included)",
            trader.risk.daily_pnl,
        )
        lines = GaugeMetricFamily(
            "scalper_trading_pnl", "P&L lines since start (quote)", labels=["line"]
        )
        for line in ("realised", "unrealised", "fees", "funding", "net"):
            lines.add_metric([line], getattr(pnl, line))
        yield lines
        yield GaugeMetricFamily(
            "scalper_trading_open_positions",
            "Symbols with a position",
            sum(1 for _ in trader.portfolio.open_symbols()),
        )
        orders = GaugeMetricFamily(
            "scalper_trading_orders",
            "Open orders and the finished ones still held, by status",
            labels=["status"],
        )
        statuses = Counter(order.status.value for order in trader.orders.values())
        statuses.update(order.status.value for order in trader.finished)
        for status, count in sorted(statuses.items()):
            orders.add_metric([status], count)
        yield orders
        refusals = CounterMetricFamily(
            "scalper_trading_risk_refusals", "Intents the risk engine refused", labels=["reason"]
        )
        for reason, count in sorted(trader.risk.refusals.items(), key=lambda kv: kv[0].value):
            refusals.add_metric([reason.value], count)
        yield refusals
        state = GaugeMetricFamily(
            "scalper_trading_state", "1 for the current trading state", labels=["state"]
        )
        for candidate in TradingState:
            state.add_metric([candidate.name.lower()], float(trader.risk.state is candidate))
        yield state
        machines = GaugeMetricFamily(
            "scalper_trading_symbols", "Traded symbols by state machine state", labels=["state"]
        )
        for name, count in sorted(Counter(trader.machine_states().values()).items()):
            machines.add_metric([name], count)
        yield machines
        yield CounterMetricFamily(
            "scalper_trading_trades", "Closed round trips", value=len(trader.portfolio.trades)
        )
