"""TradeFlow: classification, totals, windows, the bounded ring, and add_batch against add."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.events import BUY, SELL, UNKNOWN_SIDE, Trade
from scalper.flow import FlowTotals, TradeFlow

SEC = 1_000_000_000
MS = 1_000_000


def trade(
    ts: int, price: float = 100.0, size: float = 1.0, side: int = BUY, tick: str | None = None
) -> Trade:
    return Trade("BTCUSDT", price, size, side, ts, ts, tick_direction=tick)


def test_given_side_is_used() -> None:
    flow = TradeFlow()
    assert flow.add(trade(0, side=SELL)) == SELL
    assert flow.add(trade(1, side=BUY)) == BUY
    assert flow.totals == FlowTotals(1.0, 1.0, 1, 1, 100.0, 100.0)


def test_tick_rule_never_overrides_given_side() -> None:
    flow = TradeFlow()
    flow.add(trade(0, price=100.0, side=SELL))
    # Uptick with a given SELL stays SELL; tick_direction is ignored too.
    assert flow.add(trade(1, price=101.0, side=SELL, tick="PlusTick")) == SELL
    assert flow.add(trade(2, price=99.0, side=BUY, tick="MinusTick")) == BUY


def test_tick_rule_for_unknown_side() -> None:
    flow = TradeFlow()
    flow.add(trade(0, price=100.0, side=SELL))
    assert flow.add(trade(1, price=101.0, side=UNKNOWN_SIDE)) == BUY
    assert flow.add(trade(2, price=101.0, side=UNKNOWN_SIDE)) == BUY
    assert flow.add(trade(3, price=100.5, side=UNKNOWN_SIDE, tick="PlusTick")) == SELL
    assert flow.add(trade(4, price=100.5, side=UNKNOWN_SIDE)) == SELL
    assert flow.unclassified_trades == 0


def test_equal_price_repeats_previous_given_side() -> None:
    flow = TradeFlow()
    flow.add(trade(0, price=100.0, side=BUY))
    assert flow.add(trade(1, price=100.0, side=UNKNOWN_SIDE)) == BUY


def test_first_unknown_trade_is_unclassified() -> None:
    flow = TradeFlow()
    assert flow.add(trade(0, price=100.0, side=UNKNOWN_SIDE)) == UNKNOWN_SIDE
    assert flow.add(trade(1, price=100.0, side=UNKNOWN_SIDE)) == UNKNOWN_SIDE
    assert flow.unclassified_trades == 2
    assert flow.totals == FlowTotals()
    assert flow.window(SEC, 0) == FlowTotals()
    # Every trade updates the previous price, so the next move is classified.
    assert flow.add(trade(2, price=99.0, side=UNKNOWN_SIDE)) == SELL
    assert flow.last_price == 99.0
    assert flow.trade_count == 3


def test_totals_and_cumulative_delta() -> None:
    flow = TradeFlow()
    flow.add(trade(0, price=10.0, size=3.0, side=BUY))
    flow.add(trade(5 * SEC, price=20.0, size=1.0, side=SELL))
    assert flow.totals.delta == 2.0
    assert flow.totals.volume == 4.0
    assert flow.totals.buy_notional == 30.0
    assert flow.totals.sell_notional == 20.0


def test_window_boundaries() -> None:
    flow = TradeFlow(bucket_ns=SEC, max_span_ns=10 * SEC)
    flow.add(trade(7 * SEC - 1, size=1.0))  # bucket 6
    flow.add(trade(7 * SEC, size=2.0))  # bucket 7
    flow.add(trade(9 * SEC + 999, size=4.0))  # bucket 9
    flow.add(trade(10 * SEC, size=8.0, side=SELL))  # bucket 10
    assert flow.window(SEC, 10 * SEC).sell_volume == 8.0
    assert flow.window(SEC, 10 * SEC).buy_volume == 0.0
    assert flow.window(SEC, 11 * SEC - 1).sell_volume == 8.0
    assert flow.window(SEC, 9 * SEC + 500).buy_volume == 4.0
    assert flow.window(3 * SEC, 10 * SEC).buy_volume == 4.0  # buckets 8, 9, 10
    assert flow.window(4 * SEC, 10 * SEC).buy_volume == 6.0  # buckets 7..10
    assert flow.window(5 * SEC, 10 * SEC).buy_volume == 7.0  # buckets 6..10
    assert flow.window(SEC, 12 * SEC) == FlowTotals()


def test_window_rejects_bad_spans() -> None:
    flow = TradeFlow(bucket_ns=SEC, max_span_ns=10 * SEC)
    for span in (11 * SEC, SEC + 1, SEC // 2, 0, -SEC):
        with pytest.raises(ValueError, match="span_ns"):
            flow.window(span, 0)
    assert flow.window(10 * SEC, 0) == FlowTotals()


def test_ring_stays_bounded_over_long_stream() -> None:
    flow = TradeFlow(bucket_ns=SEC, max_span_ns=10 * SEC)
    assert flow.capacity == 11
    for i in range(5_000):
        flow.add(trade(i * 300 * MS, side=BUY if i % 2 else SELL))
    assert flow.bucket_count <= 11
    assert len(flow._starts) == 11
    assert flow.trade_count == 5_000
    assert flow.totals.buy_count == 2_500


def test_late_trade_counts_in_totals_and_in_bucket_while_in_ring() -> None:
    flow = TradeFlow(bucket_ns=SEC, max_span_ns=5 * SEC)
    flow.add(trade(100 * SEC, size=1.0))
    flow.add(trade(97 * SEC, size=2.0))  # late but within the ring
    flow.add(trade(90 * SEC, size=4.0))  # beyond the ring
    assert flow.totals.buy_volume == 7.0
    assert flow.window(5 * SEC, 100 * SEC).buy_volume == 3.0
    assert flow.window(SEC, 97 * SEC).buy_volume == 2.0
    assert flow.window(SEC, 90 * SEC).buy_volume == 0.0


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="bucket_ns"):
        TradeFlow(bucket_ns=0)
    with pytest.raises(ValueError, match="max_span_ns"):
        TradeFlow(bucket_ns=SEC, max_span_ns=SEC - 1)


# --- property tests -------------------------------------------------------------------------

BUCKET = 100 * MS
MAX_SPAN = 3 * SEC


def reference_sides(trades: list[Trade]) -> list[int]:
    """Plain tick rule: the given side, else up BUY / down SELL / equal the previous one."""
    sides: list[int] = []
    prev_price: float | None = None
    prev_side = UNKNOWN_SIDE
    for t in trades:
        side = t.side
        if side == UNKNOWN_SIDE and prev_price is not None:
            if t.price > prev_price:
                side = BUY
            elif t.price < prev_price:
                side = SELL
            else:
                side = prev_side
        elif side == UNKNOWN_SIDE:
            side = prev_side
        if side != UNKNOWN_SIDE:
            prev_side = side
        prev_price = t.price
        sides.append(side)
    return sides


def brute_force(trades: list[Trade], sides: list[int], keep: Callable[[Trade], bool]) -> FlowTotals:
    picked = [(t, s) for t, s in zip(trades, sides, strict=True) if keep(t)]
    buys = [t for t, s in picked if s == BUY]
    sells = [t for t, s in picked if s == SELL]
    return FlowTotals(
        buy_volume=sum(t.size for t in buys),
        sell_volume=sum(t.size for t in sells),
        buy_count=len(buys),
        sell_count=len(sells),
        buy_notional=sum(t.price * t.size for t in buys),
        sell_notional=sum(t.price * t.size for t in sells),
    )


def assert_totals(got: FlowTotals, want: FlowTotals) -> None:
    assert (got.buy_count, got.sell_count) == (want.buy_count, want.sell_count)
    for name in ("buy_volume", "sell_volume", "buy_notional", "sell_notional"):
        assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-9, abs=1e-12)


gaps = st.one_of(
    st.just(0),
    st.integers(0, 99).map(lambda ms: ms * MS),
    st.integers(100, 4_000).map(lambda ms: ms * MS),
)
trade_fields = st.tuples(
    gaps,
    st.integers(396, 404).map(lambda p: p / 4),
    st.integers(1, 5_000).map(lambda s: s / 1000),
    st.sampled_from([BUY, SELL, UNKNOWN_SIDE]),
)


@st.composite
def trade_streams(draw: st.DrawFn) -> list[Trade]:
    ts = draw(st.integers(0, 10**6)) * MS
    out: list[Trade] = []
    for gap, price, size, side in draw(st.lists(trade_fields, min_size=1, max_size=200)):
        ts += gap
        out.append(trade(ts, price=price, size=size, side=side))
    return out


@settings(max_examples=150, deadline=None)
@given(
    trade_streams(),
    st.integers(1, MAX_SPAN // BUCKET).map(lambda n: n * BUCKET),
    st.integers(0, 2 * SEC),
)
def test_windows_match_brute_force(trades: list[Trade], span: int, after: int) -> None:
    flow = TradeFlow(bucket_ns=BUCKET, max_span_ns=MAX_SPAN)
    returned = [flow.add(t) for t in trades]
    sides = reference_sides(trades)
    assert returned == sides
    assert flow.unclassified_trades == sides.count(UNKNOWN_SIDE)
    assert_totals(flow.totals, brute_force(trades, sides, lambda t: True))
    now = trades[-1].ts_event_ns + after
    now_start = now - now % BUCKET

    def in_window(t: Trade) -> bool:
        start = t.ts_event_ns - t.ts_event_ns % BUCKET
        return now_start - span < start <= now_start

    assert_totals(flow.window(span, now), brute_force(trades, sides, in_window))
    assert flow.bucket_count <= flow.capacity


@settings(max_examples=100, deadline=None)
@given(trade_streams())
def test_full_span_window_while_streaming(trades: list[Trade]) -> None:
    flow = TradeFlow(bucket_ns=BUCKET, max_span_ns=MAX_SPAN)
    sides = reference_sides(trades)
    for i, t in enumerate(trades):
        flow.add(t)
        now_start = t.ts_event_ns - t.ts_event_ns % BUCKET

        def in_window(u: Trade, now_start: int = now_start) -> bool:
            return u.ts_event_ns - u.ts_event_ns % BUCKET > now_start - MAX_SPAN

        want = brute_force(trades[: i + 1], sides[: i + 1], in_window)
        assert_totals(flow.window(MAX_SPAN, t.ts_event_ns), want)


# --- add_batch ------------------------------------------------------------------------------


def assert_same_flow(got: TradeFlow, want: TradeFlow) -> None:
    """Bit-identical state: totals, counters, tick-rule state and every bucket in the ring."""
    assert got.totals == want.totals
    assert (got.trade_count, got.unclassified_trades) == (
        want.trade_count,
        want.unclassified_trades,
    )
    assert got.last_price == want.last_price
    if got.last_price is not None:
        probe = trade(0, price=got.last_price, side=UNKNOWN_SIDE)
        assert got.classify(probe) == want.classify(probe)  # the previous side
    assert got.bucket_count == want.bucket_count
    if want._newest_start is not None:
        for k in range(-2, want.capacity + 2):
            now = want._newest_start - k * want.bucket_ns
            assert got.window(want.bucket_ns, now) == want.window(want.bucket_ns, now)


def test_add_batch_equals_add_across_buckets_and_beyond_ring() -> None:
    batch = [
        trade(100 * SEC, price=100.0, side=UNKNOWN_SIDE),
        trade(100 * SEC + 1, price=101.0, size=2.0, side=UNKNOWN_SIDE),
        trade(101 * SEC, price=101.0, size=0.5, side=UNKNOWN_SIDE),
        trade(100 * SEC + 2, price=100.5, size=3.0, side=BUY),
        trade(90 * SEC, price=99.0, size=4.0, side=SELL),  # beyond the 5 s ring
        trade(101 * SEC + 7, price=99.0, size=1.0, side=SELL),
    ]
    by_add = TradeFlow(bucket_ns=SEC, max_span_ns=5 * SEC)
    by_batch = TradeFlow(bucket_ns=SEC, max_span_ns=5 * SEC)
    want = [by_add.add(t) for t in batch]
    assert want == [UNKNOWN_SIDE, BUY, BUY, BUY, SELL, SELL]
    assert by_batch.add_batch(batch) == want
    assert_same_flow(by_batch, by_add)
    assert by_batch.window(SEC, 100 * SEC) == FlowTotals(5.0, 0.0, 2, 0, 202.0 + 301.5, 0.0)
    assert by_batch.add_batch([]) == []
    assert_same_flow(by_batch, by_add)


batch_offsets = st.one_of(
    st.just(0),
    st.integers(0, 99).map(lambda ms: ms * MS),
    st.integers(-4_000, 4_000).map(lambda ms: ms * MS),
)

batch_trade_fields = st.tuples(
    batch_offsets,
    st.integers(396, 404).map(lambda p: p / 4),
    st.integers(1, 5_000).map(lambda s: s / 1000),
    st.sampled_from([BUY, SELL, UNKNOWN_SIDE]),
)


@st.composite
def trade_batches(draw: st.DrawFn) -> list[list[Trade]]:
    """Batches of 1-10 trades, sometimes sorted, crossing buckets, late or beyond the ring."""
    ts = draw(st.integers(0, 10**6)) * MS
    batches: list[list[Trade]] = []
    for gap in draw(st.lists(gaps, min_size=1, max_size=40)):
        ts += gap
        fields = draw(st.lists(batch_trade_fields, min_size=1, max_size=10))
        if draw(st.booleans()):
            fields.sort(key=lambda f: f[0])
        batches.append([trade(ts + o, price=p, size=s, side=d) for o, p, s, d in fields])
    return batches


@settings(max_examples=300, deadline=None)
@given(trade_batches())
def test_add_batch_matches_add(batches: list[list[Trade]]) -> None:
    by_add = TradeFlow(bucket_ns=BUCKET, max_span_ns=MAX_SPAN)
    by_batch = TradeFlow(bucket_ns=BUCKET, max_span_ns=MAX_SPAN)
    for batch in batches:
        assert by_batch.add_batch(batch) == [by_add.add(t) for t in batch]
        assert_same_flow(by_batch, by_add)
