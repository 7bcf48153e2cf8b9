"""Footprint candles against trades whose levels and volumes are worked out by hand."""

from __future__ import annotations

from scalper.events import BUY, SELL, UNKNOWN_SIDE, BookUpdate, Trade, TradeBatch
from scalper.footprint import FootprintLevel, Footprints
from scalper.settings import FootprintSettings

S = 1_000_000_000
MINUTE = 60 * S
T0 = 1_700_000_040 * S  # a minute boundary: 1_700_000_040 = 28_333_334 * 60


def batch(*trades: tuple[float, float, int, int], symbol: str = "BTCUSDT") -> TradeBatch:
    """Trades as (price, size, side, ts_ns)."""
    return TradeBatch(
        symbol=symbol,
        trades=[Trade(symbol, p, q, side, ts, ts) for p, q, side, ts in trades],
        ts_event_ns=trades[-1][3],
        recv_ns=trades[-1][3],
    )


def test_volumes_by_level_side_and_candle() -> None:
    footprints = Footprints(
        FootprintSettings(timeframe="1m", ticks_per_level=5), {"BTCUSDT": "0.1"}
    )
    # Levels of 0.5: 100.12 -> 100.0, 100.26 -> 100.5 (100.26/0.5 = 200.52 -> 201),
    # 100.24 -> 100.0 (200.48 -> 200), 100.75 -> 101.0 (201.5 rounds half up -> 202).
    footprints.on_event(
        batch(
            (100.12, 2.0, BUY, T0 + 1 * S),
            (100.26, 1.5, SELL, T0 + 2 * S),
            (100.24, 0.5, SELL, T0 + 3 * S),
            (100.75, 3.0, BUY, T0 + 4 * S),
            (100.75, 9.0, UNKNOWN_SIDE, T0 + 5 * S),  # no aggressor: in neither column
            (100.26, 4.0, BUY, T0 + 6 * S),
        )
    )
    footprints.on_event(batch((99.9, 1.0, SELL, T0 + MINUTE + S)))  # the next minute
    footprints.on_event(
        BookUpdate("BTCUSDT", 50, False, [], [], 1, 1, T0, T0)  # not a trade: ignored
    )
    view = footprints.view("BTCUSDT", limit=10, now_ns=T0 + MINUTE + 2 * S)
    assert view is not None and view.level_size == 0.5 and view.timeframe == "1m"
    first, second = view.candles
    assert (first.start_ns, first.end_ns, first.closed) == (T0, T0 + MINUTE, True)
    assert first.levels == [
        FootprintLevel(price=100.0, buy=2.0, sell=0.5),
        FootprintLevel(price=100.5, buy=4.0, sell=1.5),
        FootprintLevel(price=101.0, buy=3.0, sell=0.0),
    ]
    assert (first.buy, first.sell, first.delta, first.trades) == (9.0, 2.0, 7.0, 5)
    assert first.poc == 100.5
    assert (second.closed, second.levels, second.delta) == (
        False,
        [FootprintLevel(price=100.0, buy=0.0, sell=1.0)],
        -1.0,
    )
    assert [c.start_ns for c in footprints.view("BTCUSDT", 1, 0).candles] == [T0 + MINUTE]
    assert footprints.view("ETHUSDT", 10, 0) is None


def test_candles_and_levels_are_bounded() -> None:
    footprints = Footprints(FootprintSettings(candles=3, max_levels=2), {"X": "1"})
    for minute in range(5):
        footprints.on_trades(
            batch(
                (10.0, 1.0, BUY, T0 + minute * MINUTE),
                (11.0, 1.0, BUY, T0 + minute * MINUTE + 1),
                (12.0, 5.0, SELL, T0 + minute * MINUTE + 2),  # a third level: overflow
                symbol="X",
            )
        )
    view = footprints.view("X", 100, T0 + 10 * MINUTE)
    assert view is not None
    assert [c.start_ns for c in view.candles] == [T0 + m * MINUTE for m in (2, 3, 4)]
    last = view.candles[-1]
    assert [level.price for level in last.levels] == [10.0, 11.0]
    assert (last.overflow, last.sell, last.buy) == (5.0, 5.0, 2.0)


def test_a_late_trade_goes_to_its_candle_or_is_counted() -> None:
    footprints = Footprints(FootprintSettings(candles=2), {})
    footprints.on_trades(batch((5.0, 1.0, BUY, T0)))
    footprints.on_trades(batch((5.0, 1.0, BUY, T0 + MINUTE)))
    footprints.on_trades(batch((5.0, 2.0, SELL, T0 + 3 * S)))  # the first minute, still kept
    footprints.on_trades(batch((5.0, 1.0, BUY, T0 + 2 * MINUTE)))
    footprints.on_trades(batch((5.0, 1.0, BUY, T0 + 5 * S)))  # the first minute, gone
    view = footprints.view("BTCUSDT", 10, 0)
    assert view is not None and view.level_size == 0.1  # no tick size: 5.0's last digit
    assert [(c.buy, c.sell) for c in view.candles] == [(1.0, 0.0), (1.0, 0.0)]
    assert footprints.late_trades == 1
    footprints2 = Footprints(FootprintSettings(candles=2), {})
    footprints2.on_trades(batch((5.0, 1.0, BUY, T0)))
    footprints2.on_trades(batch((5.0, 1.0, BUY, T0 + MINUTE)))
    footprints2.on_trades(batch((5.0, 2.0, SELL, T0 + 3 * S)))
    first = footprints2.view("BTCUSDT", 10, 0).candles[0]  # type: ignore[union-attr]
    assert (first.buy, first.sell, first.levels) == (1.0, 2.0, [FootprintLevel(5.0, 1.0, 2.0)])


def test_a_candle_spans_consecutive_levels_widened_both_ways_up_to_max_levels() -> None:
    footprints = Footprints(FootprintSettings(max_levels=4), {"X": "0.5"})
    footprints.on_trades(
        batch(
            (101.0, 1.0, BUY, T0),
            (100.0, 2.0, SELL, T0 + 1),  # below the first: the span widens down (2 levels)
            (101.5, 3.0, BUY, T0 + 2),  # the span is 100.0-101.5: four levels
            (102.0, 4.0, SELL, T0 + 3),  # a fifth: overflow
            (99.5, 5.0, BUY, T0 + 4),  # below: a fifth too
            symbol="X",
        )
    )
    (candle,) = footprints.view("X", 10, T0 + MINUTE).candles  # type: ignore[union-attr]
    assert candle.levels == [  # 100.5 spans the gap, at zero: not listed
        FootprintLevel(100.0, 0.0, 2.0),
        FootprintLevel(101.0, 1.0, 0.0),
        FootprintLevel(101.5, 3.0, 0.0),
    ]
    assert (candle.overflow, candle.buy, candle.sell, candle.trades) == (9.0, 9.0, 6.0, 5)
    stored = footprints.symbols["X"].candles[0].volumes
    assert len(stored) == 2 * 4  # buy and sell of four levels, nothing else
