"""Alert rules: which events fire which rule, edge triggering, the per-rule rate limit."""

from __future__ import annotations

import pytest

from scalper.alerts import AlertRules
from scalper.errors import ConfigError
from scalper.settings import AlertRule, AlertSettings

S = 1_000_000_000


def rules(*rules: AlertRule, history: int = 200) -> AlertRules:
    return AlertRules(AlertSettings(rules=rules, history=history))


def test_a_score_rule_fires_on_the_crossing_only_and_again_after_falling_back() -> None:
    alerts = rules(AlertRule(name="strong", kind="score_above", threshold=0.5, min_interval_s=0))
    assert alerts.on_score("BTCUSDT", 0.4, 1 * S) == []
    (first,) = alerts.on_score("BTCUSDT", -0.6, 2 * S)
    assert (first.rule, first.symbol, first.value, first.ts_ns, first.seq) == (
        "strong",
        "BTCUSDT",
        -0.6,
        2 * S,
        1,
    )
    assert "short" in first.message
    assert alerts.on_score("BTCUSDT", -0.9, 3 * S) == []  # still above: no repeat
    assert alerts.on_score("BTCUSDT", None, 4 * S) == []  # not ready counts as below
    assert [a.seq for a in alerts.on_score("BTCUSDT", 0.7, 5 * S)] == [2]
    assert alerts.on_score("ETHUSDT", float("nan"), 6 * S) == []


def test_a_score_rule_on_one_symbol_ignores_the_others() -> None:
    alerts = rules(AlertRule(name="btc", kind="score_above", symbol="BTCUSDT", threshold=0.5))
    assert alerts.on_score("ETHUSDT", 0.9, S) == []
    assert len(alerts.on_score("BTCUSDT", 0.9, S)) == 1


def test_the_rate_limit_bounds_each_rule_and_counts_what_it_suppressed() -> None:
    alerts = rules(
        AlertRule(name="any", kind="score_above", threshold=0.5, min_interval_s=10),
        AlertRule(name="refused", kind="risk_refusal", min_interval_s=10),
    )
    fired = [
        alert
        for second in range(30)
        for alert in alerts.on_score(f"S{second}", 0.9, second * S)
        + alerts.on_refusal(f"S{second}", "max_open_positions", second * S)
    ]
    # 30 symbols crossing, one a second: each rule fires at 0, 10 and 20 s.
    assert [(a.rule, a.ts_ns // S) for a in fired] == [
        ("any", 0),
        ("refused", 0),
        ("any", 10),
        ("refused", 10),
        ("any", 20),
        ("refused", 20),
    ]
    assert alerts.suppressed == {"any": 27, "refused": 27}
    assert [a.seq for a in alerts.latest(2)] == [6, 5]
    assert fired[1].message == "S0 entry refused: max_open_positions"
    assert alerts.on_refusal("X", "risk refused: cooldown", 40 * S)[0].message == (
        "X entry refused: cooldown"
    )


def test_a_regime_rule_fires_on_its_regime_and_state() -> None:
    alerts = rules(AlertRule(name="surge", kind="regime", regime="volume", state="surge"))
    assert alerts.on_regime("BTCUSDT", "volume", "normal", "active", S) == []
    assert alerts.on_regime("BTCUSDT", "volatility", "normal", "surge", S) == []
    (alert,) = alerts.on_regime("BTCUSDT", "volume", "active", "surge", 2 * S)
    assert alert.message == "BTCUSDT volume: active -> surge"


def test_a_feed_rule_fires_when_the_health_leaves_ok() -> None:
    alerts = rules(AlertRule(name="feed", kind="feed_degraded", min_interval_s=0))
    assert alerts.on_feed("ok", None, S) == []
    assert alerts.on_feed("no_feed", "replay", 2 * S) == []
    (alert,) = alerts.on_feed("degraded", "ws-1 stale", 3 * S)
    assert (alert.symbol, alert.message) == ("", "feed degraded: ws-1 stale")
    assert alerts.on_feed("down", None, 4 * S) == []  # still not ok
    assert alerts.on_feed("ok", None, 5 * S) == []
    assert len(alerts.on_feed("stale", None, 6 * S)) == 1


def test_the_history_is_a_bounded_ring_and_switching_off_fires_nothing() -> None:
    alerts = rules(AlertRule(name="r", kind="risk_refusal", min_interval_s=0), history=3)
    for second in range(10):
        alerts.on_refusal("BTCUSDT", "cooldown", second * S)
    assert [a.seq for a in alerts.history] == [8, 9, 10]
    off = AlertRules(AlertSettings(enabled=False))
    assert off.on_refusal("BTCUSDT", "cooldown", S) == [] and off.on_feed("down", None, S) == []


def test_the_same_calls_give_the_same_alerts() -> None:
    def run() -> list[tuple[str, str, int]]:
        alerts = AlertRules()
        out = []
        for i in range(200):
            out += alerts.on_score(f"S{i % 7}", ((i * 37) % 100) / 100, i * S // 3)
            out += alerts.on_refusal(f"S{i % 5}", "cooldown", i * S // 3)
        return [(a.rule, a.symbol, a.ts_ns) for a in out]

    assert run() == run() and run()


def test_rule_names_must_be_unique() -> None:
    with pytest.raises(ConfigError, match="repeat"):
        AlertSettings(rules=(AlertRule(name="x", kind="risk_refusal"),) * 2)
