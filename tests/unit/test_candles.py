"""CandleSeries: unit rules plus a property test against a plain reference builder."""

from __future__ import annotations

import copy
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.candles import Candle, CandleSeries
from scalper.events import BUY, SELL, UNKNOWN_SIDE

SEC = 1_000_000_000
MS = 1_000_000

TradeTuple = tuple[int, float, float, int]


def ohlc(c: Candle) -> tuple[int, float, float, float, float]:
    return (c.start_ns, c.open, c.high, c.low, c.close)


def test_nothing_before_first_trade() -> None:
    series = CandleSeries(SEC, 10)
    assert series.close_until(100 * SEC) == ()
    assert series.add_ofi(100 * SEC, 5.0) == ()
    assert series.forming is None
    assert series.closed_until_ns is None
    assert not series.closed


def test_trades_in_one_interval_build_forming_candle() -> None:
    series = CandleSeries(SEC, 10)
    assert series.add_trade(5 * SEC + 10, 100.0, 1.0, BUY) == ()
    assert series.add_trade(5 * SEC + 20, 102.0, 2.0, SELL) == ()
    assert series.add_trade(5 * SEC + 30, 99.0, 1.0, BUY) == ()
    c = series.forming
    assert c is not None
    assert ohlc(c) == (5 * SEC, 100.0, 102.0, 99.0, 99.0)
    assert (c.volume, c.trades, c.buy_volume, c.sell_volume) == (4.0, 3, 2.0, 2.0)
    assert c.delta == 0.0
    assert c.turnover == pytest.approx(100.0 + 204.0 + 99.0)
    assert c.vwap == pytest.approx(403.0 / 4.0)
    assert series.forming_end_ns == 6 * SEC


def test_unknown_side_counts_in_volume_only() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 3.0, UNKNOWN_SIDE)
    c = series.forming
    assert c is not None
    assert (c.volume, c.buy_volume, c.sell_volume) == (3.0, 0.0, 0.0)


def test_vwap_of_flat_candle_is_close() -> None:
    assert Candle(0, 1.0, 2.0, 0.5, 1.5).vwap == 1.5


def test_event_exactly_at_end_belongs_to_next_candle() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    assert series.add_trade(SEC - 1, 101.0, 1.0, BUY) == ()
    done = series.add_trade(SEC, 105.0, 1.0, SELL)
    assert [ohlc(c) for c in done] == [(0, 100.0, 101.0, 100.0, 101.0)]
    assert series.forming is not None
    assert ohlc(series.forming) == (SEC, 105.0, 105.0, 105.0, 105.0)


def test_flat_candles_fill_empty_intervals() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(SEC // 2, 100.0, 1.0, BUY)
    done = series.add_trade(4 * SEC + 1, 103.0, 2.0, BUY)
    assert [c.start_ns for c in done] == [0, SEC, 2 * SEC, 3 * SEC]
    for flat in done[1:]:
        assert ohlc(flat)[1:] == (100.0, 100.0, 100.0, 100.0)
        assert (flat.volume, flat.trades, flat.turnover, flat.ofi) == (0.0, 0, 0.0, 0.0)
    assert list(series.closed) == list(done)


def test_late_trade_is_counted_and_not_merged() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    series.add_trade(2 * SEC, 101.0, 1.0, BUY)
    before = [copy.copy(c) for c in series.closed]
    forming_before = copy.copy(series.forming)
    assert series.add_trade(SEC + 5, 50.0, 9.0, SELL) == ()
    assert series.add_trade(10, 50.0, 9.0, SELL) == ()
    assert series.late_trades == 2
    assert list(series.closed) == before
    assert series.forming == forming_before


def test_trade_before_first_forming_candle_is_late() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(5 * SEC, 100.0, 1.0, BUY)
    series.add_trade(4 * SEC, 100.0, 1.0, BUY)
    assert series.late_trades == 1
    assert series.forming is not None and series.forming.trades == 1


def test_timer_close_equals_close_by_later_trade() -> None:
    by_timer, by_trade = CandleSeries(SEC, 10), CandleSeries(SEC, 10)
    for series in (by_timer, by_trade):
        series.add_trade(100, 100.0, 1.0, BUY)
        series.add_trade(SEC + 100, 101.0, 1.0, SELL)
    grace = 250 * MS
    from_timer = by_timer.close_until(4 * SEC + grace)
    from_trade = by_trade.add_trade(4 * SEC + grace, 99.0, 1.0, BUY)
    assert list(from_timer) == list(from_trade)
    assert list(by_timer.closed) == list(by_trade.closed)
    assert by_timer.forming is None
    assert by_timer.close_until(4 * SEC + grace) == ()
    by_timer.add_trade(4 * SEC + grace, 99.0, 1.0, BUY)
    assert by_timer.forming == by_trade.forming


def test_history_bounds_ring_and_flats_keep_alignment() -> None:
    series = CandleSeries(SEC, 3)
    series.add_trade(0, 100.0, 1.0, BUY)
    done = series.add_trade(1000 * SEC + 7, 101.0, 1.0, BUY)
    # The closed trade candle plus at most `history` flats; the ring keeps the last 3.
    assert [c.start_ns for c in done] == [0, 997 * SEC, 998 * SEC, 999 * SEC]
    assert [c.start_ns for c in series.closed] == [997 * SEC, 998 * SEC, 999 * SEC]
    assert series.closed.maxlen == 3
    assert series.forming is not None and series.forming.start_ns == 1000 * SEC
    assert series.closed_until_ns == 1000 * SEC


def test_ofi_added_to_forming_candle() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    series.add_ofi(10, 2.5)
    series.add_ofi(20, -1.0)
    assert series.forming is not None and series.forming.ofi == 1.5


def test_ofi_carried_by_flat_candle_and_first_trade_sets_ohlc() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    done = series.add_ofi(2 * SEC + 1, 4.0)
    assert [c.start_ns for c in done] == [0, SEC]
    carrier = series.forming
    assert carrier is not None
    assert ohlc(carrier) == (2 * SEC, 100.0, 100.0, 100.0, 100.0)
    assert (carrier.ofi, carrier.volume, carrier.trades) == (4.0, 0.0, 0)
    series.add_trade(2 * SEC + 5, 103.0, 1.0, SELL)
    assert ohlc(carrier) == (2 * SEC, 103.0, 103.0, 103.0, 103.0)
    assert carrier.ofi == 4.0
    closed = series.close_until(3 * SEC)
    assert list(closed) == [carrier]


def test_ofi_carrier_without_trades_closes_flat() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    series.add_ofi(SEC, 1.0)
    done = series.close_until(2 * SEC)
    assert len(done) == 1
    assert ohlc(done[0]) == (SEC, 100.0, 100.0, 100.0, 100.0)
    assert done[0].ofi == 1.0


def test_late_ofi_is_dropped_and_counted() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    series.add_trade(2 * SEC, 100.0, 1.0, BUY)
    series.add_ofi(SEC, 3.0)
    assert series.late_ofi == 1
    assert all(c.ofi == 0.0 for c in series.closed)


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="interval_ns"):
        CandleSeries(0, 10)
    with pytest.raises(ValueError, match="history"):
        CandleSeries(SEC, 0)


# --- property tests -------------------------------------------------------------------------


def reference_candles(trades: list[TradeTuple], interval: int) -> list[Candle]:
    """All candles from the first trade's interval to the last one's, holes filled flat."""
    groups: dict[int, list[TradeTuple]] = {}
    for t in trades:
        groups.setdefault(t[0] // interval, []).append(t)
    first, last = min(groups), max(groups)
    out: list[Candle] = []
    for n in range(first, last + 1):
        group = groups.get(n)
        if group is None:
            p = out[-1].close
            out.append(Candle(n * interval, p, p, p, p))
            continue
        prices = [t[1] for t in group]
        out.append(
            Candle(
                start_ns=n * interval,
                open=prices[0],
                high=max(prices),
                low=min(prices),
                close=prices[-1],
                volume=sum(t[2] for t in group),
                turnover=sum(t[1] * t[2] for t in group),
                trades=len(group),
                buy_volume=sum(t[2] for t in group if t[3] == BUY),
                sell_volume=sum(t[2] for t in group if t[3] == SELL),
            )
        )
    return out


def assert_same(got: list[Candle], want: list[Candle]) -> None:
    assert [ohlc(c) for c in got] == [ohlc(c) for c in want]
    assert [c.trades for c in got] == [c.trades for c in want]
    for g, w in zip(got, want, strict=True):
        for name in ("volume", "turnover", "buy_volume", "sell_volume"):
            assert getattr(g, name) == pytest.approx(getattr(w, name), rel=1e-9, abs=1e-12)


gaps = st.one_of(
    st.just(0),
    st.integers(0, 999).map(lambda ms: ms * MS),
    st.integers(1, 5_000).map(lambda ms: ms * MS),
)
trade_fields = st.tuples(
    gaps,
    st.integers(900, 1100).map(lambda p: p / 4),
    st.integers(1, 5_000).map(lambda s: s / 1000),
    st.sampled_from([BUY, SELL]),
)


@st.composite
def trade_streams(draw: st.DrawFn, max_size: int = 200) -> list[TradeTuple]:
    ts = draw(st.integers(0, 10**6)) * MS
    out: list[TradeTuple] = []
    for gap, price, size, side in draw(st.lists(trade_fields, min_size=1, max_size=max_size)):
        ts += gap
        out.append((ts, price, size, side))
    return out


def feed(series: CandleSeries, trades: list[TradeTuple]) -> list[Candle]:
    returned: list[Candle] = []
    for ts, price, size, side in trades:
        returned.extend(series.add_trade(ts, price, size, side))
    return returned


@settings(max_examples=150, deadline=None)
@given(trade_streams())
def test_matches_reference_builder(trades: list[TradeTuple]) -> None:
    series = CandleSeries(SEC, 100_000)
    returned = feed(series, trades)
    want = reference_candles(trades, SEC)
    assert_same(list(series.closed), want[:-1])
    assert_same(returned, want[:-1])
    assert series.forming is not None
    assert_same([series.forming], want[-1:])
    assert series.late_trades == 0


@settings(max_examples=100, deadline=None)
@given(trade_streams(), st.integers(0, 5_000).map(lambda ms: ms * MS))
def test_timer_matches_later_trade(trades: list[TradeTuple], after: int) -> None:
    by_timer, by_trade = CandleSeries(SEC, 100_000), CandleSeries(SEC, 100_000)
    feed(by_timer, trades)
    feed(by_trade, trades)
    now = trades[-1][0] + after
    from_timer = list(by_timer.close_until(now))
    from_trade = list(by_trade.add_trade(now, 1.0, 1.0, BUY))
    assert from_timer == from_trade
    assert list(by_timer.closed) == list(by_trade.closed)
    want = reference_candles([*trades, (now, 1.0, 1.0, BUY)], SEC)
    assert_same(list(by_trade.closed), want[:-1])


@settings(max_examples=100, deadline=None)
@given(trade_streams(), st.integers(1, 5))
def test_small_history_keeps_only_the_last(trades: list[TradeTuple], history: int) -> None:
    series = CandleSeries(SEC, history)
    returned = feed(series, trades)
    want = reference_candles(trades, SEC)[:-1]
    assert_same(list(series.closed), want[-history:])
    assert_same(returned[-history:], want[-history:])
    assert isinstance(series.closed, deque) and len(series.closed) <= history
