"""api.prometheus: the text exposition, parsed back with prometheus_client's own parser and
checked against an engine fed by hand (counts and spreads worked out here)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scalper.api.health import HealthReporter
from scalper.api.prometheus import exposition
from scalper.engine import Engine
from scalper.events import BUY, SELL, BookUpdate, Level, MalformedFrame, Trade, TradeBatch
from scalper.feed_status import ConnectionStats, RecordingProcessStats, SymbolFeedStats

MS = 1_000_000
T0_MS = 1_700_000_100_000

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: bytes) -> tuple[dict[str, str], Samples]:
    """(type of each family, value of each sample by name and sorted labels)."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text.decode()):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return types, samples


def book(
    symbol: str, u: int, bids: Sequence[Level], asks: Sequence[Level], snapshot: bool = True
) -> BookUpdate:
    ts = (T0_MS + u) * MS
    return BookUpdate(symbol, 50, snapshot, list(bids), list(asks), u, u, ts, ts + 1)


def trades(symbol: str, *fills: tuple[float, float, int]) -> TradeBatch:
    ts = (T0_MS + 100) * MS
    return TradeBatch(
        symbol, [Trade(symbol, p, s, side, ts, ts + 1) for p, s, side in fills], ts, ts + 1
    )


def fed_engine() -> Engine:
    """BTCUSDT in sync with trades, ETHUSDT out of sync after a gap, XRPUSDT trades only."""
    engine = Engine()  # large trade: notional >= 100,000
    events = [
        book("BTCUSDT", 1, [(100.0, 3.0), (99.0, 1.0)], [(101.0, 2.0)]),
        book("BTCUSDT", 2, [(99.0, 4.0)], [], snapshot=False),
        trades("BTCUSDT", (101.0, 1_000.0, BUY), (100.0, 0.5, SELL)),  # one large
        book("ETHUSDT", 10, [(2000.0, 1.0)], [(2000.5, 1.0)]),
        book("ETHUSDT", 12, [(2000.0, 2.0)], [], snapshot=False),  # 11 missing: a gap
        MalformedFrame(
            "truncated", "cut short", '{"topic":"orderbook.50.ETHUSDT"', 5, "ETHUSDT", 50
        ),
        MalformedFrame("not_json", "not JSON", "garbage", 6),
        trades("XRPUSDT", (0.5, 10.0, SELL)),
    ]
    for event in events:
        engine.on_event(event)
    return engine


def scrape(engine: Engine, health: HealthReporter | None = None) -> tuple[dict[str, str], Samples]:
    health = health or HealthReporter(engine, None, time.time_ns(), 10.0)
    return parse(exposition(engine, health))


def by_symbol(samples: Samples, name: str) -> dict[str, float]:
    return {dict(labels)["symbol"]: value for (n, labels), value in samples.items() if n == name}


def test_engine_totals() -> None:
    types, samples = scrape(fed_engine())

    assert samples[("scalper_engine_frames_total", ())] == 8
    assert samples[("scalper_symbols", ())] == 3
    assert samples[("scalper_decode_errors_total", (("kind", "not_json"),))] == 1
    assert samples[("scalper_decode_errors_total", (("kind", "truncated"),))] == 1
    assert types["scalper_engine_frames"] == "counter"
    assert types["scalper_symbols"] == "gauge"


def test_per_symbol_counters() -> None:
    _, samples = scrape(fed_engine())

    assert by_symbol(samples, "scalper_symbol_frames_total") == {
        "BTCUSDT": 3,
        "ETHUSDT": 2,  # the malformed frame is not one of its frames
        "XRPUSDT": 1,
    }
    assert by_symbol(samples, "scalper_symbol_trades_total") == {
        "BTCUSDT": 2,
        "ETHUSDT": 0,
        "XRPUSDT": 1,
    }
    assert by_symbol(samples, "scalper_symbol_large_trades_total") == {
        "BTCUSDT": 1,  # 101 x 1,000 = 101,000
        "ETHUSDT": 0,
        "XRPUSDT": 0,
    }
    assert by_symbol(samples, "scalper_symbol_gaps_total") == {
        "BTCUSDT": 0,
        "ETHUSDT": 1,
        "XRPUSDT": 0,
    }
    # the malformed frame of a book already out of sync asks for no second resync
    assert by_symbol(samples, "scalper_symbol_resyncs_requested_total") == {
        "BTCUSDT": 0,
        "ETHUSDT": 1,
        "XRPUSDT": 0,
    }
    assert by_symbol(samples, "scalper_symbol_malformed_total") == {
        "BTCUSDT": 0,
        "ETHUSDT": 1,
        "XRPUSDT": 0,
    }


def test_book_in_sync_and_spread_gauges() -> None:
    _, samples = scrape(fed_engine())

    assert by_symbol(samples, "scalper_book_in_sync") == {
        "BTCUSDT": 1.0,
        "ETHUSDT": 0.0,
        "XRPUSDT": 0.0,  # no book at all
    }
    spreads = by_symbol(samples, "scalper_spread_bps")
    assert set(spreads) == {"BTCUSDT"}  # no book or a book out of sync: no spread
    # BTCUSDT: bid 100, ask 101, mid 100.5
    assert spreads["BTCUSDT"] == pytest.approx(1.0 / 100.5 * 10_000, rel=1e-12)


def test_without_a_feed_the_status_is_not_up_and_no_connection_is_listed() -> None:
    engine = fed_engine()
    started_ns = time.time_ns() - 5_000_000_000
    health = HealthReporter(engine, None, started_ns, 10.0)
    assert health.report().status == "no_feed"

    types, samples = scrape(engine, health)

    assert samples[("scalper_up", ())] == 0.0
    assert 5.0 <= samples[("scalper_uptime_seconds", ())] < 600.0
    assert samples[("scalper_process_rss_bytes", ())] > 1_000_000
    assert not [name for name, _ in samples if name.startswith("scalper_connection_")]
    assert types["scalper_connection_reconnects"] == "counter"  # the family is still described


def test_an_empty_engine() -> None:
    _, samples = scrape(Engine())

    assert samples[("scalper_engine_frames_total", ())] == 0
    assert samples[("scalper_symbols", ())] == 0
    assert not [name for name, labels in samples if labels and name.startswith("scalper_symbol")]


@dataclass
class FakeConnection:
    name: str
    symbols: Sequence[str]
    stats: ConnectionStats


@dataclass
class FakeFeed:
    symbols: Sequence[str]
    symbol_stats: Mapping[str, SymbolFeedStats]
    connections: Sequence[FakeConnection]
    recording_process: RecordingProcessStats | None = None


def test_connections_of_a_feed() -> None:
    engine = fed_engine()
    now_ns = time.time_ns()
    feed = FakeFeed(
        symbols=["BTCUSDT", "ETHUSDT"],
        symbol_stats={
            "BTCUSDT": SymbolFeedStats(frames=7, last_recv_ns=now_ns, last_lag_ns=25 * MS),
            "ETHUSDT": SymbolFeedStats(),
        },
        connections=[
            FakeConnection(
                "linear-0",
                ["BTCUSDT"],
                ConnectionStats(
                    "linear-0",
                    "ws://x",
                    3,
                    state="open",
                    reconnects=2,
                    frames=7,
                    last_frame_ns=now_ns,
                ),
            ),
            FakeConnection("linear-1", ["ETHUSDT"], ConnectionStats("linear-1", "ws://x", 3)),
        ],
    )
    health = HealthReporter(engine, feed, now_ns, 10.0)
    assert health.report().status == "degraded"  # linear-1 is not open

    _, samples = scrape(engine, health)

    def per_connection(name: str) -> dict[str, float]:
        return {dict(lb)["connection"]: v for (n, lb), v in samples.items() if n == name}

    assert samples[("scalper_up", ())] == 1.0  # degraded still serves
    assert per_connection("scalper_connection_open") == {"linear-0": 1.0, "linear-1": 0.0}
    assert per_connection("scalper_connection_reconnects_total") == {"linear-0": 2, "linear-1": 0}
    assert per_connection("scalper_connection_frames_total") == {"linear-0": 7, "linear-1": 0}
    assert per_connection("scalper_connection_lag_seconds") == {"linear-0": 0.025}
    assert not [name for name, _ in samples if name.startswith("scalper_recorder_consumer")]


def test_the_recorder_consumer_of_a_scaleout_run() -> None:
    """Its stream position, lag and restarts, also without a recorder in this process."""
    engine = fed_engine()
    process = RecordingProcessStats(42, 2, 900, 1000, 100, 5000, 0, 0, "")
    feed = FakeFeed(symbols=[], symbol_stats={}, connections=[], recording_process=process)
    health = HealthReporter(engine, feed, time.time_ns(), 10.0)
    assert health.report().data_dir.frames_process == process
    _, samples = scrape(engine, health)
    assert samples[("scalper_recorder_consumer_recorded_seq", ())] == 900
    assert samples[("scalper_recorder_consumer_pending", ())] == 100
    assert samples[("scalper_recorder_consumer_restarts_total", ())] == 2


def test_signal_regime_counts_and_score_distribution() -> None:
    """Scores in [-1, 1] per ready symbol, their cumulative buckets, regimes counted by state."""
    from scalper.settings import ScoreSettings, SignalSettings
    from scalper.signals import SignalEngine

    engine = Engine()
    signals = SignalEngine(
        engine, SignalSettings(score=ScoreSettings(zscore_warmup="100ms", min_ready_share=0.05))
    )
    for k in range(40):  # a snapshot every 150 ms, sizes moving: the imbalances vary
        ts = (T0_MS + 150 * k) * MS
        for symbol, bids, asks in (
            ("BTCUSDT", [(100.0, 1.0 + (k * 7) % 5)], [(101.0, 2.0)]),
            ("ETHUSDT", [(10.0, 1.0)], [(10.1, 1.0 + k % 3)]),
        ):
            engine.on_event(BookUpdate(symbol, 50, True, bids, asks, k + 1, k + 1, ts, ts))
    health = HealthReporter(engine, None, time.time_ns(), 10.0)
    types, samples = parse(exposition(engine, health, signals))
    scores = by_symbol(samples, "scalper_signal_score")
    expected = {s: signals.summary(s).score for s in ("BTCUSDT", "ETHUSDT")}  # type: ignore[union-attr]
    assert scores == pytest.approx(expected) and None not in expected.values()
    # a gauge histogram: the text format 0.0.4 types it histogram, with _gcount and _gsum
    assert types["scalper_signal_score_distribution"] == "histogram"
    assert samples[("scalper_signal_score_distribution_gcount", ())] == 2.0
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in samples.items()
        if name == "scalper_signal_score_distribution_bucket"
    }
    assert buckets["+Inf"] == 2.0
    for edge, count in buckets.items():
        bound = float(edge)
        assert count == sum(1 for score in expected.values() if score <= bound)  # type: ignore[operator]
    regimes = {
        (dict(labels)["regime"], dict(labels)["state"]): value
        for (name, labels), value in samples.items()
        if name == "scalper_signal_regime_symbols"
    }
    assert regimes == {(r, "warming_up"): 2.0 for r in ("volatility", "trend", "volume")}
    assert samples[("scalper_signal_score_warming_up", ())] == 0.0


def test_no_signal_families_without_signals() -> None:
    types, _ = scrape(fed_engine())
    assert not any(name.startswith("scalper_signal") for name in types)
