"""Engine routing, sync signalling, trade side, candles and determinism.

The engine takes our events; these tests build them from Bybit's frames with the venue's own
decoder (`FrameApplier`), so that the frames have real shapes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from scalper.engine import (
    BookSyncChanged,
    CandleClosed,
    Engine,
    LargeTrade,
    ResyncNeeded,
    SymbolObserver,
    SymbolState,
)
from scalper.events import BookUpdate, MalformedFrame
from scalper.settings import EngineSettings
from scalper.venues.bybit.frames import FrameApplier
from scalper.views import engine_view

XRP = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "bybit"
    / "2024-12-01_XRPUSDT_ob500.jsonl"
)
SEC = 1_000_000_000


def on_frame(engine: Engine, raw: bytes, recv_ns: int = 0) -> None:
    """Decode one Bybit frame and apply it, as the live feed does."""
    FrameApplier(engine)(raw, recv_ns)


def book_frame(
    kind: str, u: int, bids: list, asks: list, ts_ms: int, symbol: str = "BTCUSDT", depth: int = 50
) -> bytes:
    data = {
        "s": symbol,
        "b": [[str(p), str(s)] for p, s in bids],
        "a": [[str(p), str(s)] for p, s in asks],
        "u": u,
        "seq": u * 10,
    }
    frame = {"topic": f"orderbook.{depth}.{symbol}", "type": kind, "ts": ts_ms, "data": data}
    frame["cts"] = ts_ms - 1
    return json.dumps(frame).encode()


def trade_frame(trades: list[tuple[int, str, float, float, str]], symbol: str = "BTCUSDT") -> bytes:
    data = [
        {
            "T": t,
            "s": symbol,
            "S": side,
            "v": str(v),
            "p": str(p),
            "L": tick,
            "i": f"id{i}",
            "BT": False,
        }
        for i, (t, side, p, v, tick) in enumerate(trades)
    ]
    ts = max(t for t, *_ in trades) + 2
    return json.dumps(
        {"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": ts, "data": data}
    ).encode()


@pytest.fixture
def engine_with_log() -> tuple[Engine, list]:
    engine = Engine(EngineSettings(large_trade_notional=10_000.0))
    seen: list = []
    engine.subscribe(seen.append)
    return engine, seen


def seed_book(engine: Engine, ts_ms: int = 1_000_000) -> None:
    on_frame(
        engine,
        book_frame("snapshot", 100, [(100.0, 1), (99.5, 2)], [(100.5, 3), (101, 4)], ts_ms),
        0,
    )


def test_real_xrp_frames_keep_the_book_in_sync() -> None:
    engine = Engine()
    for line in XRP.read_bytes().splitlines():
        on_frame(engine, line, 0)
    state = engine.symbols["XRPUSDT"]
    assert state.book is not None and state.book.in_sync
    assert state.book.update_id == 20254918
    assert (state.counters.snapshots, state.counters.gaps, state.counters.crossed) == (1, 0, 0)
    assert state.counters.book_frames == 50
    assert engine.malformed == {}


def test_gap_requests_one_resync_and_ignores_deltas_until_snapshot(engine_with_log) -> None:
    engine, seen = engine_with_log
    seed_book(engine)
    on_frame(engine, book_frame("delta", 101, [(100.0, 5)], [], 1_000_020), 0)
    on_frame(engine, book_frame("delta", 103, [(100.0, 6)], [], 1_000_040), 0)
    on_frame(engine, book_frame("delta", 104, [(100.0, 7)], [], 1_000_060), 0)
    state = engine.symbols["BTCUSDT"]
    assert state.counters.gaps == 1
    assert state.counters.ignored_deltas == 1
    assert state.book is not None and not state.book.in_sync
    assert state.book.best_bid() == (100.0, 5.0)
    resyncs = [n for n in seen if isinstance(n, ResyncNeeded)]
    assert resyncs == [ResyncNeeded("BTCUSDT", 50, "update id 103 after 101")]
    seed_book(engine, 1_000_080)
    assert state.book.in_sync
    assert isinstance(seen[-1], BookSyncChanged) and seen[-1].state == "in_sync"


def test_u_equal_one_resets_the_book(engine_with_log) -> None:
    engine, _ = engine_with_log
    seed_book(engine)
    on_frame(engine, book_frame("delta", 1, [(90.0, 1)], [(91.0, 1)], 1_000_020), 0)
    state = engine.symbols["BTCUSDT"]
    assert state.counters.resets == 1
    assert state.book is not None and state.book.in_sync
    assert state.book.bids.top(5) == [(90.0, 1.0)]
    assert state.book.asks.top(5) == [(91.0, 1.0)]


def test_crossed_book_is_out_of_sync(engine_with_log) -> None:
    engine, seen = engine_with_log
    seed_book(engine)
    on_frame(engine, book_frame("delta", 101, [(100.6, 1)], [], 1_000_020), 0)
    state = engine.symbols["BTCUSDT"]
    assert state.counters.crossed == 1
    assert any(isinstance(n, ResyncNeeded) for n in seen)


def test_malformed_book_frame_is_counted_logged_once_and_resyncs(engine_with_log, caplog) -> None:
    engine, seen = engine_with_log
    seed_book(engine)
    good = book_frame("delta", 101, [(100.0, 5)], [], 1_000_020)
    with caplog.at_level(logging.WARNING, logger="scalper.engine"):
        on_frame(engine, good[: len(good) // 2], 0)
        on_frame(engine, good[: len(good) // 3], 0)
        on_frame(engine, b"not json at all", 0)
    assert engine.malformed == {"truncated": 2, "not_json": 1}
    assert len(caplog.records) == 2  # once per kind
    state = engine.symbols["BTCUSDT"]
    assert state.counters.malformed == 2
    assert state.book is not None and not state.book.in_sync
    assert [n.reason for n in seen if isinstance(n, ResyncNeeded)] == [
        "malformed book frame (truncated)"
    ]


def test_trade_side_is_the_aggressor_side_not_the_tick_direction(engine_with_log) -> None:
    engine, _ = engine_with_log
    on_frame(
        engine,
        trade_frame(
            [
                (1_000_000, "Sell", 100.0, 2.0, "PlusTick"),
                (1_000_001, "Buy", 99.0, 0.5, "MinusTick"),
            ]
        ),
        0,
    )
    totals = engine.symbols["BTCUSDT"].flow.totals
    assert (totals.sell_volume, totals.buy_volume) == (2.0, 0.5)
    assert totals.delta == -1.5


def test_trades_before_any_book_build_candles_and_close_on_later_events(engine_with_log) -> None:
    engine, seen = engine_with_log
    t0 = 1_700_000_100_000  # ms, a multiple of 5 min
    on_frame(engine, trade_frame([(t0 + 1_000, "Buy", 100.0, 1.0, "PlusTick")]), 0)
    on_frame(engine, trade_frame([(t0 + 2_000, "Sell", 101.0, 1.0, "PlusTick")]), 0)
    assert not [n for n in seen if isinstance(n, CandleClosed)]
    # a book frame 31 s later closes the first 15 s candle and a flat one after it
    on_frame(engine, book_frame("snapshot", 5, [(100, 1)], [(101, 1)], t0 + 31_000 + 1), 0)
    closed = [n for n in seen if isinstance(n, CandleClosed) and n.timeframe == "15s"]
    assert [c.candle.start_ns for c in closed] == [t0 * 1_000_000, (t0 + 15_000) * 1_000_000]
    first, flat = closed[0].candle, closed[1].candle
    assert (first.open, first.high, first.low, first.close, first.volume) == (100, 101, 100, 101, 2)
    assert (flat.open, flat.close, flat.volume) == (101, 101, 0)
    engine.close_candles_until((t0 + 60_000) * 1_000_000)
    one_minute = [n for n in seen if isinstance(n, CandleClosed) and n.timeframe == "1m"]
    assert len(one_minute) == 1


def test_large_trades_are_flagged(engine_with_log) -> None:
    """A trade is large from `large_trade_notional` (10,000 here) on, price * size."""
    engine, seen = engine_with_log
    on_frame(
        engine,
        trade_frame(
            [
                (1_000_000, "Buy", 100.0, 150.0, "PlusTick"),
                (1_000_001, "Buy", 100.0, 1.0, "ZeroPlusTick"),
                (1_000_002, "Sell", 100.0, 100.0, "ZeroPlusTick"),
                (1_000_003, "Sell", 100.0, 99.99, "ZeroPlusTick"),
            ]
        ),
    )
    large = [n for n in seen if isinstance(n, LargeTrade)]
    assert [n.notional for n in large] == [15_000.0, 10_000.0]
    assert list(engine.large_trades) == large


def test_ticker_deltas_merge_into_the_snapshot() -> None:
    engine = Engine()
    snap = {
        "topic": "tickers.BTCUSDT",
        "type": "snapshot",
        "ts": 1,
        "cs": 5,
        "data": {
            "symbol": "BTCUSDT",
            "lastPrice": "100.5",
            "markPrice": "100.4",
            "fundingRate": "0.0001",
        },
    }
    delta = {
        "topic": "tickers.BTCUSDT",
        "type": "delta",
        "ts": 2,
        "cs": 6,
        "data": {"symbol": "BTCUSDT", "lastPrice": "101"},
    }
    on_frame(engine, json.dumps(snap).encode(), 0)
    on_frame(engine, json.dumps(delta).encode(), 0)
    fields = engine.symbols["BTCUSDT"].ticker.fields
    assert (fields.last_price, fields.mark_price, fields.funding_rate) == (101.0, 100.4, 0.0001)


def test_the_engine_takes_events_of_no_venue() -> None:
    """Venue-free: a book is found by symbol and depth, a resync asked for in those terms."""
    engine = Engine()
    seen: list = []
    engine.subscribe(seen.append)
    snapshot = BookUpdate("ANY", 5, True, [(10.0, 1.0)], [(11.0, 1.0)], 7, 0, SEC, SEC)
    engine.on_event(snapshot)
    engine.on_event(MalformedFrame("broken", "a test", "", SEC, symbol="ANY", book_depth=5))
    assert [n for n in seen if isinstance(n, ResyncNeeded)] == [
        ResyncNeeded("ANY", 5, "malformed book frame (broken)")
    ]
    with pytest.raises(TypeError, match="not an engine event"):
        engine.on_event(b"raw bytes")  # type: ignore[arg-type]


def test_same_frames_give_byte_identical_state_in_other_processes(tmp_path: Path) -> None:
    """Determinism across processes: two interpreters with different hash seeds (set and dict
    order of strings differ) replay the same frames of 20 symbols to the same bytes."""
    from itertools import islice

    from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

    market = SyntheticMarket(MarketConfig(symbols=20, seconds=30.0, seed=9))
    frames = tmp_path / "frames.jsonl"
    frames.write_bytes(
        b"".join(b"%d %s\n" % (recv, raw) for recv, raw in islice(market.frames(), 20_000))
    )
    outputs = []
    for seed in ("0", "4242"):
        out = tmp_path / f"state-{seed}.json"
        done = subprocess.run(
            [sys.executable, "-m", "scalper.cli", "replay", str(frames), "--json", str(out)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        outputs.append((done.stdout, out.read_bytes()))
    assert outputs[0] == outputs[1]
    state = msgspec.json.decode(outputs[0][1])
    assert len(state["symbols"]) == 20 and state["frames"] == 20_000
    assert all(s["book"]["state"] == "in_sync" for s in state["symbols"].values())


def test_ofi_of_main_book_changes_is_summed_per_candle() -> None:
    """OFI per update: e = [bid queue added] - [bid removed] - [ask added] + [ask removed],
    from the best levels before and after; a snapshot restarts it (no previous state)."""
    engine = Engine(EngineSettings(timeframes=("1s",)))
    on_frame(engine, trade_frame([(1_000_000, "Buy", 100.0, 1.0, "PlusTick")]), 0)
    seed_book(engine, 1_000_001)  # best bid 100 x 1, best ask 100.5 x 3
    deltas = [
        ([(100.0, 4)], [], 4.0 - 1.0),  # bid queue 1 -> 4 at the same price
        ([(100.2, 2)], [], 2.0),  # a better bid: its whole queue is added
        ([], [(100.4, 5)], -5.0),  # a better ask: its whole queue counts against
        ([(100.2, 0)], [], -2.0),  # the best bid leaves: back to 100 x 4, removed 2
        ([], [(100.4, 1)], -1.0 + 5.0),  # ask queue 5 -> 1 at the same price
    ]
    for i, (bids, asks, _) in enumerate(deltas):
        on_frame(engine, book_frame("delta", 101 + i, bids, asks, 1_000_002 + i), 0)
    series = engine.symbols["BTCUSDT"].candles["1s"]
    forming = series.forming
    assert forming is not None
    assert forming.ofi == sum(e for *_, e in deltas)
    seed_book(engine, 1_001_500)  # closes the candle; a snapshot itself adds no OFI
    assert series.closed[-1].ofi == sum(e for *_, e in deltas)
    forming = series.forming
    assert forming is not None and forming.ofi == 0.0


def test_every_malformed_frame_is_counted_without_harm() -> None:
    from tests.unit.venues.bybit.test_wire import MALFORMED_CASES

    engine = Engine()
    seed_book(engine)
    for count, (_, raw, kind, _) in enumerate(MALFORMED_CASES, start=1):
        on_frame(engine, raw, 0)
        assert sum(engine.malformed.values()) == count, kind
    assert engine.frames == len(MALFORMED_CASES) + 1  # events seen, malformed ones included


def test_observers_are_made_for_every_symbol_now_and_to_come() -> None:
    engine = Engine(EngineSettings())
    engine.on_event(BookUpdate("A", 50, True, [(1.0, 1.0)], [(2.0, 1.0)], 1, 0, 10, 10))
    made: list[str] = []

    def factory(state: SymbolState) -> SymbolObserver:
        made.append(state.symbol)
        return SymbolObserver()

    engine.observe(factory)
    engine.on_event(BookUpdate("B", 50, True, [(1.0, 1.0)], [(2.0, 1.0)], 1, 0, 20, 20))
    assert made == ["A", "B"]
    assert all(type(state.observer) is SymbolObserver for state in engine.symbols.values())
    with pytest.raises(RuntimeError, match="already"):
        engine.observe(factory)


def test_an_engine_without_observers_gives_the_same_state_as_one_with_signals() -> None:
    """Observing never changes the engine's own state (the signals only read it)."""
    from scalper.signals import SignalEngine
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    frames = list(generate_frames(MarketConfig(symbols=3, seconds=10, seed=5)))
    views = []
    for observed in (False, True):
        engine = Engine(EngineSettings())
        if observed:
            SignalEngine(engine)
        applier = FrameApplier(engine)
        for recv_ns, frame in frames:
            applier(frame, recv_ns)
        views.append(msgspec.json.encode(engine_view(engine)))
    assert views[0] == views[1]
