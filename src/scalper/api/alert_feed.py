"""What the alert rules (`scalper.alerts`) are fed, and where their alerts go.

Regime changes come inline from the signals (`SignalEngine.subscribe`). The rest is read at each
`poll` (the WebSocket stream's tick, and every `GET /api/alerts`): every symbol's latest score
with its event time, the trader's audit records appended since the last poll (risk refusals),
and the feed's health status (at most once per `feed_every_s` of the clock). Each alert fired
goes to the subscribers (the stream sends it to every client as {"type": "alert", ...}).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from scalper.alerts import Alert, AlertRules
from scalper.api.health import HealthReporter
from scalper.signals import RegimeChanged, SignalEngine
from scalper.trading.trader import Trader

AlertSubscriber = Callable[[Alert], None]
RISK_REFUSED = "risk_refused"
"""The audit trigger of a refused entry (`trading.machine`)."""


class AlertsView(msgspec.Struct, frozen=True, kw_only=True):
    alerts: list[Alert]
    """Newest first."""
    fired: int
    suppressed: dict[str, int]
    """Alerts each rule would have fired within its `min_interval_s`."""
    rules: list[str]


class AlertMonitor:
    """Feeds `rules` from the signals, the trader and the feed's health."""

    def __init__(
        self,
        rules: AlertRules,
        signals: SignalEngine | None,
        trader: Trader | None,
        health: HealthReporter | None,
        feed_every_s: float = 1.0,
    ) -> None:
        self.rules = rules
        self.signals = signals
        self.trader = trader
        self.health = health
        self._subscribers: list[AlertSubscriber] = []
        self._audit_seen = trader.audit.total if trader is not None else 0
        self._feed_every_ns = round(feed_every_s * 1e9)
        self._feed_checked_ns: int | None = None
        kinds = {rule.kind for rule in rules.rules}
        self._scores = "score_above" in kinds and signals is not None
        self._refusals = "risk_refusal" in kinds and trader is not None
        self._feed = "feed_degraded" in kinds and health is not None
        if signals is not None and "regime" in kinds:
            signals.subscribe(self.on_regime_change)

    def subscribe(self, subscriber: AlertSubscriber) -> None:
        """Call `subscriber` with every alert (inline: it must be quick and must not raise)."""
        self._subscribers.append(subscriber)

    def on_regime_change(self, change: RegimeChanged) -> None:
        self._publish(
            self.rules.on_regime(
                change.symbol, change.regime, change.previous, change.state, change.ts_ns
            )
        )

    def poll(self, now_ns: int) -> None:
        """Read scores, new audit records and (now and then) the feed's health."""
        rules = self.rules
        if self._scores:
            assert self.signals is not None
            for symbol, tracker in self.signals.trackers.items():
                if tracker.as_of_ns:
                    self._publish(rules.on_score(symbol, tracker.score, tracker.as_of_ns))
        if self._refusals:
            assert self.trader is not None
            audit = self.trader.audit
            new = audit.total - self._audit_seen
            self._audit_seen = audit.total
            if new > 0:
                for record in audit.latest(min(new, len(audit))):
                    if record.trigger == RISK_REFUSED:
                        self._publish(rules.on_refusal(record.symbol, record.reason, record.ts_ns))
        if self._feed and (
            self._feed_checked_ns is None or now_ns - self._feed_checked_ns >= self._feed_every_ns
        ):
            assert self.health is not None
            self._feed_checked_ns = now_ns
            status, reason = self.health.feed_status()
            self._publish(rules.on_feed(status, reason, now_ns))

    def view(self, limit: int) -> AlertsView:
        rules = self.rules
        return AlertsView(
            alerts=rules.latest(limit),
            fired=rules.fired,
            suppressed={name: n for name, n in rules.suppressed.items() if n},
            rules=[rule.name for rule in rules.rules],
        )

    def _publish(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            for subscriber in self._subscribers:
                subscriber(alert)
