"""Alert rules (`alerts.rules`), evaluated on what happened: pure, driven by the times given.

    rules = AlertRules(settings.alerts)
    rules.on_score("BTCUSDT", 0.91, ts_ns)       # -> [Alert(...)] when a rule fires
    rules.on_regime("BTCUSDT", "volume", "active", "surge", ts_ns)
    rules.on_refusal("BTCUSDT", "max_open_positions", ts_ns)
    rules.on_feed("degraded", "ws-1 stale", ts_ns)

A score rule is edge triggered: it fires when a symbol's score reaches the threshold in size and
again only after that symbol's score fell back below it. A feed rule fires when the feed's health
leaves "ok" (and again after it came back). Every rule fires at most once per `min_interval_s`
of the times given; what it would have fired meanwhile is counted in `suppressed`. The same calls
in the same order give the same alerts.

Bounded: the fired alerts kept (`history`), and per score rule the symbols above the threshold.
"""

from __future__ import annotations

import math
from collections import deque

import msgspec

from scalper.settings import AlertRule, AlertSettings

_NS_PER_S = 1_000_000_000
FEED_OK = "ok"
"""The health status that is not degraded (others: degraded, stale, down; no_feed is ignored)."""


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One fired rule."""

    seq: int
    """1 for the first alert of the process, then one more each."""
    rule: str
    kind: str
    symbol: str
    """The symbol concerned ("" for the feed)."""
    message: str
    ts_ns: int
    """The time of what fired it (event time; the feed's: the wall clock of the health check)."""
    value: float | None = None
    """score_above: the score."""


class AlertRules:
    """The rules of `settings`, their state and the alerts they fired."""

    def __init__(self, settings: AlertSettings | None = None) -> None:
        self.settings = settings = settings or AlertSettings()
        self.rules = settings.rules if settings.enabled else ()
        self.history: deque[Alert] = deque(maxlen=settings.history)
        """The latest alerts, oldest first."""
        self.suppressed: dict[str, int] = {rule.name: 0 for rule in self.rules}
        """Alerts a rule would have fired within its `min_interval_s`, by rule."""
        self.fired = 0
        self._last_ns: dict[str, int] = {}
        self._above: dict[str, set[str]] = {r.name: set() for r in self._of("score_above")}
        self._feed_ok = True

    def _of(self, kind: str) -> tuple[AlertRule, ...]:
        return tuple(rule for rule in self.rules if rule.kind == kind)

    def on_score(self, symbol: str, score: float | None, ts_ns: int) -> list[Alert]:
        """A symbol's signal score (None or NaN: not ready, which counts as below)."""
        fired: list[Alert] = []
        size = abs(score) if score is not None and not math.isnan(score) else 0.0
        for rule in self.rules:
            if rule.kind != "score_above" or (rule.symbol and rule.symbol != symbol):
                continue
            above = self._above[rule.name]
            if size < rule.threshold:
                above.discard(symbol)
                continue
            if symbol in above:
                continue
            above.add(symbol)
            side = "long" if score is not None and score > 0 else "short"
            message = f"{symbol} score {score:+.2f} ({side}) reached {rule.threshold:g}"
            self._fire(fired, rule, symbol, message, ts_ns, score)
        return fired

    def on_regime(
        self, symbol: str, regime: str, previous: str, state: str, ts_ns: int
    ) -> list[Alert]:
        """A symbol's regime changed from `previous` to `state`."""
        fired: list[Alert] = []
        for rule in self.rules:
            if (
                rule.kind == "regime"
                and rule.regime == regime
                and rule.state == state
                and (not rule.symbol or rule.symbol == symbol)
            ):
                message = f"{symbol} {regime}: {previous} -> {state}"
                self._fire(fired, rule, symbol, message, ts_ns)
        return fired

    def on_refusal(self, symbol: str, reason: str, ts_ns: int) -> list[Alert]:
        """The risk engine refused an entry of `symbol`."""
        fired: list[Alert] = []
        for rule in self.rules:
            if rule.kind == "risk_refusal" and (not rule.symbol or rule.symbol == symbol):
                detail = reason.removeprefix("risk refused: ")  # the audit's wording
                self._fire(fired, rule, symbol, f"{symbol} entry refused: {detail}", ts_ns)
        return fired

    def on_feed(self, status: str, reason: str | None, ts_ns: int) -> list[Alert]:
        """The feed's health status (`ok`, `degraded`, `stale`, `down`; `no_feed` is ignored)."""
        if status == "no_feed":
            return []
        was_ok, self._feed_ok = self._feed_ok, status == FEED_OK
        if self._feed_ok or not was_ok:
            return []
        fired: list[Alert] = []
        message = f"feed {status}" + (f": {reason}" if reason else "")
        for rule in self._of("feed_degraded"):
            self._fire(fired, rule, "", message, ts_ns)
        return fired

    def latest(self, limit: int) -> list[Alert]:
        """The last `limit` alerts, newest first."""
        out: list[Alert] = []
        for alert in reversed(self.history):
            if len(out) >= limit:
                break
            out.append(alert)
        return out

    def _fire(
        self,
        fired: list[Alert],
        rule: AlertRule,
        symbol: str,
        message: str,
        ts_ns: int,
        value: float | None = None,
    ) -> None:
        last = self._last_ns.get(rule.name)
        if last is not None and ts_ns - last < rule.min_interval_s * _NS_PER_S:
            self.suppressed[rule.name] += 1
            return
        self._last_ns[rule.name] = ts_ns
        self.fired += 1
        alert = Alert(
            seq=self.fired,
            rule=rule.name,
            kind=rule.kind,
            symbol=symbol,
            message=message,
            ts_ns=ts_ns,
            value=value,
        )
        self.history.append(alert)
        fired.append(alert)
