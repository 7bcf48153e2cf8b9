"""CandleSeries and CandleRing: unit rules, property tests against a plain reference builder,
and add_batch against the per-trade path."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.candles import Candle, CandleRing, CandleSeries, TradeSummary, summarize
from scalper.events import BUY, SELL, UNKNOWN_SIDE, Trade

SEC = 1_000_000_000
MS = 1_000_000

TradeTuple = tuple[int, float, float, int]
SUMS = ("volume", "turnover", "buy_volume", "sell_volume", "buy_turnover", "sell_turnover")
"""A candle's fields that are sums of its trades."""


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
    assert (c.buy_turnover, c.sell_turnover) == (199.0, 204.0)
    assert c.delta_quote == -5.0  # equal coins bought and sold, the dearer ones sold
    assert series.forming_end_ns == 6 * SEC


def test_unknown_side_counts_in_volume_only() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 3.0, UNKNOWN_SIDE)
    c = series.forming
    assert c is not None
    assert (c.volume, c.buy_volume, c.sell_volume) == (3.0, 0.0, 0.0)
    assert (c.turnover, c.buy_turnover, c.sell_turnover) == (300.0, 0.0, 0.0)


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
    carrier = series.forming  # a copy: read it again
    assert carrier is not None
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
                buy_turnover=sum(t[1] * t[2] for t in group if t[3] == BUY),
                sell_turnover=sum(t[1] * t[2] for t in group if t[3] == SELL),
            )
        )
    return out


def assert_same(got: list[Candle], want: list[Candle]) -> None:
    assert [ohlc(c) for c in got] == [ohlc(c) for c in want]
    assert [c.trades for c in got] == [c.trades for c in want]
    for g, w in zip(got, want, strict=True):
        for name in SUMS:
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
    assert isinstance(series.closed, CandleRing) and len(series.closed) <= history
    assert series.closed.maxlen == history


# --- CandleRing -----------------------------------------------------------------------------


def full_candle(n: int) -> Candle:
    """A candle with every field distinct and non-default."""
    return Candle(
        start_ns=1_700_000_000 * SEC + n * SEC,
        open=100.0 + n,
        high=110.5 + n,
        low=90.25 + n,
        close=101.125 + n,
        volume=3.5 + n,
        turnover=350.75 + n,
        trades=7 + n,
        buy_volume=2.0 + n,
        sell_volume=1.5,
        ofi=-0.3 * n,
    )


def test_ring_keeps_every_field_exactly() -> None:
    ring = CandleRing(4)
    candles = [full_candle(n) for n in range(3)]
    ring.extend(candles)
    assert list(ring) == candles
    assert [ring[i] for i in range(3)] == candles


def test_ring_drops_oldest_when_full_and_indexes_both_ways() -> None:
    ring = CandleRing(3)
    assert len(ring) == 0 and not ring and list(ring) == []
    candles = [full_candle(n) for n in range(5)]
    ring.extend(candles)
    assert ring.maxlen == 3 and len(ring) == 3
    assert list(ring) == candles[-3:]
    assert (ring[0], ring[2], ring[-1], ring[-3]) == (
        candles[2],
        candles[4],
        candles[4],
        candles[2],
    )
    for bad in (3, -4, 100):
        with pytest.raises(IndexError, match="out of range"):
            ring[bad]
    ring.append(candles[0])
    assert list(ring) == [*candles[3:], candles[0]]


def test_ring_gives_copies() -> None:
    ring = CandleRing(3)
    original = full_candle(1)
    ring.append(original)
    original.close = -1.0
    got = ring[0]
    got.high = -2.0
    for candle in ring:
        candle.low = -3.0
    assert ring[-1] == full_candle(1)


def test_ring_iteration_is_a_snapshot() -> None:
    ring = CandleRing(2)
    ring.extend([full_candle(0), full_candle(1)])
    iterator = iter(ring)
    ring.append(full_candle(2))
    assert list(iterator) == [full_candle(0), full_candle(1)]


def test_ring_rejects_bad_maxlen() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        CandleRing(0)


# --- summarize and add_batch ----------------------------------------------------------------


def trade(ts: int, price: float, size: float = 1.0, side: int = BUY) -> Trade:
    return Trade("BTCUSDT", price, size, side, ts, ts)


def add_each(series: CandleSeries, trades: list[Trade]) -> list[Candle]:
    """The engine's former per-trade path."""
    done: list[Candle] = []
    for t in trades:
        done.extend(series.add_trade(t.ts_event_ns, t.price, t.size, t.side))
    return done


def add_batch(series: CandleSeries, trades: list[Trade]) -> list[Candle]:
    sides = [t.side for t in trades]
    return list(series.add_batch(trades, sides, summarize(trades, sides)))


def test_summarize_one_pass_over_unsorted_batch() -> None:
    trades = [
        trade(5 * MS, 101.0, 1.0, BUY),
        trade(2 * MS, 99.0, 2.0, SELL),
        trade(9 * MS, 103.0, 0.5, UNKNOWN_SIDE),
        trade(3 * MS, 100.0, 1.5, BUY),
    ]
    sides = [t.side for t in trades]
    assert summarize(trades, sides) == TradeSummary(
        first_ts_ns=2 * MS,
        last_ts_ns=9 * MS,
        open=101.0,
        high=103.0,
        low=99.0,
        close=100.0,
        volume=5.0,
        turnover=101.0 + 198.0 + 51.5 + 150.0,
        buy_volume=2.5,
        sell_volume=2.0,
        count=4,
        ordered=False,
        buy_turnover=101.0 + 150.0,
        sell_turnover=198.0,
    )
    assert summarize(sorted(trades, key=lambda t: t.ts_event_ns), sides).ordered


def test_empty_batch_changes_nothing() -> None:
    series = CandleSeries(SEC, 10)
    assert summarize([], []).count == 0
    assert series.add_batch([], [], summarize([], [])) == ()
    assert series.forming is None and series.closed_until_ns is None


def summary_only(series: CandleSeries, trades: list[Trade]) -> list[Candle]:
    """add_batch with the trades replaced by None: only the O(1) merge of the summary works."""
    sides = [t.side for t in trades]
    return list(series.add_batch([None] * len(trades), sides, summarize(trades, sides)))


def test_batch_in_forming_interval_is_merged_without_per_trade_path() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    batch = [trade(SEC + 3, 104.0, 1.0, BUY), trade(SEC + 1, 98.0, 2.0, SELL)]
    done = summary_only(series, batch)
    assert [ohlc(c) for c in done] == [(0, 100.0, 100.0, 100.0, 100.0)]
    summary_only(series, [trade(SEC + 2, 101.0, 1.0, UNKNOWN_SIDE)])
    c = series.forming
    assert c is not None
    # Close is the last trade of the last batch, even though the batches were unsorted.
    assert ohlc(c) == (SEC, 104.0, 104.0, 98.0, 101.0)
    assert (c.volume, c.trades, c.buy_volume, c.sell_volume) == (4.0, 3, 1.0, 2.0)


def test_batch_resets_open_of_flat_ofi_carrier() -> None:
    series = CandleSeries(SEC, 10)
    series.add_trade(0, 100.0, 1.0, BUY)
    series.add_ofi(2 * SEC, 4.0)
    add_batch(series, [trade(2 * SEC + 5, 103.0), trade(2 * SEC + 6, 102.0)])
    assert series.forming is not None
    assert ohlc(series.forming) == (2 * SEC, 103.0, 103.0, 102.0, 102.0)
    assert series.forming.ofi == 4.0


def test_batch_with_late_or_crossing_trades_matches_per_trade() -> None:
    batches = [
        [trade(5 * SEC, 100.0)],
        [trade(6 * SEC + 1, 101.0), trade(4 * SEC, 90.0), trade(6 * SEC + 2, 102.0)],
        [trade(6 * SEC + 9, 103.0), trade(9 * SEC, 104.0, 1.0, SELL), trade(8 * SEC, 1.0)],
    ]
    per_trade, batched = CandleSeries(SEC, 10), CandleSeries(SEC, 10)
    for batch in batches:
        assert_equivalent(add_batch(batched, batch), add_each(per_trade, batch))
    assert_same_state(batched, per_trade)
    assert batched.late_trades == 2


def assert_equivalent(got: list[Candle], want: list[Candle]) -> None:
    """Same candles: exact but for the sums, which may be re-associated (last bits)."""
    exact = ("start_ns", "open", "high", "low", "close", "trades", "ofi")
    assert [[getattr(c, f) for f in exact] for c in got] == [
        [getattr(c, f) for f in exact] for c in want
    ]
    for g, w in zip(got, want, strict=True):
        for name in SUMS:
            assert getattr(g, name) == pytest.approx(getattr(w, name), rel=1e-12, abs=1e-12)


def assert_same_state(got: CandleSeries, want: CandleSeries) -> None:
    assert_equivalent(list(got.closed), list(want.closed))
    assert (got.forming is None) == (want.forming is None)
    if got.forming is not None and want.forming is not None:
        assert_equivalent([got.forming], [want.forming])
    assert (got.late_trades, got.late_ofi) == (want.late_trades, want.late_ofi)
    assert got.closed_until_ns == want.closed_until_ns


offsets = st.one_of(
    st.just(0),
    st.integers(0, 50).map(lambda ms: ms * MS),
    st.integers(0, 999).map(lambda ms: ms * MS),
    st.integers(-2_500, 2_500).map(lambda ms: ms * MS),
)
batch_trade_fields = st.tuples(
    offsets,
    st.integers(396, 404).map(lambda p: p / 4),
    st.integers(1, 5_000).map(lambda s: s / 1000),
    st.sampled_from([BUY, SELL, UNKNOWN_SIDE]),
)
Op = tuple[str, int, list[Trade]]


@st.composite
def op_streams(draw: st.DrawFn) -> list[Op]:
    """Trade batches (sometimes sorted, crossing intervals or late), OFI values and timers."""
    ts = draw(st.integers(0, 10**6)) * MS
    ops: list[Op] = []
    kinds = st.sampled_from(["batch", "batch", "batch", "batch", "ofi", "timer"])
    for kind, gap in draw(st.lists(st.tuples(kinds, gaps), min_size=1, max_size=40)):
        ts += gap
        batch: list[Trade] = []
        if kind == "batch":
            fields = draw(st.lists(batch_trade_fields, min_size=1, max_size=10))
            if draw(st.booleans()):
                fields.sort(key=lambda f: f[0])
            batch = [trade(ts + off, price, size, side) for off, price, size, side in fields]
        ops.append((kind, ts, batch))
    return ops


@settings(max_examples=300, deadline=None)
@given(op_streams(), st.integers(1, 400))
def test_add_batch_matches_per_trade(ops: list[Op], history: int) -> None:
    per_trade, batched = CandleSeries(SEC, history), CandleSeries(SEC, history)
    for kind, ts, batch in ops:
        if kind == "batch":
            assert_equivalent(add_batch(batched, batch), add_each(per_trade, batch))
        elif kind == "ofi":
            value = (ts // MS % 7) - 3.0
            assert_equivalent(list(batched.add_ofi(ts, value)), list(per_trade.add_ofi(ts, value)))
        else:
            assert_equivalent(list(batched.close_until(ts)), list(per_trade.close_until(ts)))
        assert_same_state(batched, per_trade)
