"""The engine's taps: what `Engine.entry` and `Engine.column_tap` make of them, and the order in
which the taps see the events."""

from __future__ import annotations

from scalper._event_tap import EventTap, EventTaps, TradeTap

from scalper.engine import Engine
from scalper.events import BUY, BookUpdate, Event, Trade, TradeBatch

T0 = 1_700_000_000_000_000_000


def events() -> list[Event]:
    book = BookUpdate(
        symbol="BTCUSDT",
        depth=50,
        is_snapshot=True,
        bids=[(100.0, 1.0)],
        asks=[(100.5, 2.0)],
        update_id=1,
        seq=1,
        ts_event_ns=T0,
        recv_ns=T0 + 1,
    )
    trade = Trade("BTCUSDT", 100.5, 0.5, BUY, T0 + 1, T0 + 2, "t1")
    batch = TradeBatch(symbol="BTCUSDT", trades=[trade], ts_event_ns=T0 + 1, recv_ns=T0 + 2)
    return [book, batch]


def test_compiled_taps_keep_the_entry_compiled_and_see_trades_in_order() -> None:
    engine, seen = Engine(), []
    engine.add_tap(TradeTap(lambda batch: seen.append(("first", batch.ts_event_ns))))
    engine.add_tap(TradeTap(lambda batch: seen.append(("second", batch.ts_event_ns))))
    entry = engine.entry()
    assert entry == engine.on_event_then_tap
    assert isinstance(engine.entry_tap, EventTaps)
    assert isinstance(engine.column_tap(), EventTaps)
    for event in events():
        entry(event)
    assert seen == [("first", T0 + 1), ("second", T0 + 1)]
    assert engine.symbols["BTCUSDT"].book.best_bid() is not None  # the engine applied first


def test_a_python_tap_among_them_sees_every_event_after_the_engine() -> None:
    engine, trades, everything = Engine(), [], []
    engine.add_tap(TradeTap(trades.append))
    engine.add_tap(lambda event: everything.append((type(event).__name__, engine.frames)))
    entry = engine.entry()
    assert not isinstance(engine.column_tap(), EventTap)
    for event in events():
        entry(event)
    assert [type(batch).__name__ for batch in trades] == ["TradeBatch"]
    assert everything == [("BookUpdate", 1), ("TradeBatch", 2)]


def test_without_taps_the_entry_is_the_engine_and_one_compiled_tap_is_its_own_column_tap() -> None:
    engine = Engine()
    assert engine.entry() == engine.on_event
    assert engine.column_tap() is None
    tap = TradeTap(print)
    engine.add_tap(tap)
    assert engine.column_tap() is tap


def test_event_taps_take_compiled_taps_only() -> None:
    try:
        EventTaps((TradeTap(print), print))
    except TypeError as error:
        assert "not an EventTap: builtin_function_or_method" in str(error)
    else:
        raise AssertionError("a Python callable was taken as a compiled tap")
