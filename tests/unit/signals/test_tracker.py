"""The compiled tracker (signals/_tracker.pyx) against hand-computed values and reference sums."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.signals.support import SECOND, T0, Stream, book

from scalper.events import BUY, SELL
from scalper.metrics import imbalance
from scalper.settings import SignalSettings

MS = 1_000_000


def test_a_value_at_a_boundary_holds_exactly_the_events_before_it() -> None:
    stream = Stream()
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    stream.trades(T0 + 150 * MS, (BUY, 2.0))
    stream.trades(T0 + 950 * MS, (SELL, 1.0))
    stream.trades(T0 + SECOND, (BUY, 3.0))  # at the boundary: after it
    stream.delta(T0 + 1050 * MS, [bids[0]], [])
    assert stream.at(T0 + SECOND)["flow_imbalance_1s"] == pytest.approx(1 / 3)
    stream.delta(T0 + 2050 * MS, [bids[0]], [])
    assert stream.at(T0 + 2 * SECOND)["flow_imbalance_1s"] == 1.0
    # a window reaching before the first event is warming up, never a partial figure
    assert stream.at(T0 + 2 * SECOND)["flow_imbalance_5s"] is None
    assert stream.factor("flow_imbalance_5s").status == "warming_up"


def test_no_trades_in_a_window_is_zero_flow() -> None:
    stream = Stream()
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    stream.trades(T0 + 100 * MS, (BUY, 1.0))
    stream.delta(T0 + 3500 * MS, [bids[0]], [])
    assert stream.at(T0 + 3 * SECOND)["flow_imbalance_1s"] == 0.0
    assert stream.at(T0 + SECOND)["flow_imbalance_1s"] == 1.0


@given(
    st.lists(
        st.tuples(
            st.integers(1, 70_000),  # ms after T0
            st.sampled_from([BUY, SELL]),
            st.floats(0.001, 1000.0),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_flow_windows_are_exact_sums_of_the_trades_before_each_second(trades) -> None:
    """Reference: the trades whose message time lies in [t - W, t), summed directly."""
    stream = Stream()
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    trades.sort(key=lambda t: t[0])
    for ms, side, size in trades:
        stream.trades(T0 + ms * MS, (side, size))
    stream.delta(T0 + 72 * SECOND, [bids[0]], [])
    windows = {
        "flow_imbalance_1s": 1,
        "flow_imbalance_5s": 5,
        "flow_imbalance_30s": 30,
        "flow_imbalance_1m": 60,
    }
    for second in range(1, 72):
        at = T0 + second * SECOND
        for name, span in windows.items():
            value = stream.at(at)[name]
            if span > second:
                assert value is None
                continue
            inside = [
                (side, size) for ms, side, size in trades if at - span * SECOND <= T0 + ms * MS < at
            ]
            buy = math.fsum(size for side, size in inside if side == BUY)
            sell = math.fsum(size for side, size in inside if side == SELL)
            expected = (buy - sell) / (buy + sell) if buy + sell else 0.0
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, second)


def test_book_imbalances_are_the_engines_signed() -> None:
    stream = Stream()
    bids = [(99.9, 3.0), (99.8, 1.0), (99.7, 8.0), (99.0, 2.0), (98.0, 40.0)]
    asks = [(100.1, 1.0), (100.2, 6.0), (100.3, 2.0), (100.5, 5.0), (101.0, 9.0)]
    stream.snapshot(T0, bids, asks)
    stream.trades(T0 + 150 * MS, (BUY, 1.0))
    engine_values = imbalance(stream.engine.symbols["TESTUSDT"].book)
    for name, ratio in (
        ("imbalance_top1", engine_values.top1),
        ("imbalance_top5", engine_values.top5),
        ("imbalance_top10", engine_values.top10),
        ("imbalance_bps10", engine_values.bps10),
        ("imbalance_bps25", engine_values.bps25),
    ):
        assert stream.factor(name).value == pytest.approx(2 * ratio - 1), name
    assert stream.factor("imbalance_top1").value == pytest.approx((3 - 1) / (3 + 1))


def test_microprice_and_walls_by_hand() -> None:
    stream = Stream()
    bids = [(99.9, 1.0), (99.8, 1.0), (99.7, 1.0), (99.6, 10.0), (99.5, 1.0)]
    asks = [(100.1, 3.0), (100.2, 1.0), (100.3, 1.0), (100.4, 1.0), (100.5, 1.0)]
    stream.snapshot(T0, bids, asks)
    stream.trades(T0 + 150 * MS, (BUY, 1.0))
    # weighted mid: I = 1 / 4, I * ask + (1 - I) * bid = 99.95; mid 100.0
    assert stream.factor("microprice_bps").value == pytest.approx((99.95 - 100.0) / 100.0 * 1e4)
    # bid wall: 10 >= 4 x median 1, 0.4 from the mid = 40 bps; asks: 3 < 4 x 1, no wall
    view = stream.signals.view("TESTUSDT")
    assert view is not None
    assert view.details["wall_bid_distance_bps"] == pytest.approx(40.0)
    assert view.details["wall_bid_relative_size"] == pytest.approx(10.0)
    assert view.details["wall_ask_distance_bps"] is None
    assert stream.factor("wall_pressure").value == pytest.approx(1 / (1 + 40 / 10))
    assert stream.factor("spread_ticks").value == 2.0  # 0.2 wide, the book's step 0.1


def test_book_factors_are_unavailable_out_of_sync_and_ofi_waits_a_whole_window() -> None:
    stream = Stream()
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    for k in range(1, 80):
        stream.delta(T0 + k * 100 * MS, [(bids[0][0], 5.0 + k % 3)], [])
    assert stream.factor("ofi_5s").status == "ok"
    stream.delta(T0 + 8050 * MS, [(bids[0][0], 9.0)], [], skip=3)  # a gap: out of sync
    stream.trades(T0 + 8250 * MS, (BUY, 1.0))
    for name in ("imbalance_top5", "ofi_5s", "mlofi_1s", "microprice_bps", "wall_pressure"):
        assert stream.factor(name).status == "unavailable", name
        assert stream.factor(name).value is None
    assert stream.factor("flow_imbalance_1s").status == "ok"  # trades do not need the book
    assert stream.at(T0 + 8 * SECOND)["imbalance_top5"] is not None  # before the gap
    stream.snapshot(T0 + 9 * SECOND, bids, asks)
    stream.trades(T0 + 9250 * MS, (BUY, 1.0))
    assert stream.factor("imbalance_top5").status == "ok"
    assert stream.factor("ofi_1s").status == "warming_up"  # its window reaches before resync
    stream.trades(T0 + 14250 * MS, (BUY, 1.0))
    assert stream.factor("ofi_1s").status == "ok"
    assert stream.factor("ofi_5s").status == "ok"  # [9 s, 14 s) + the 14th second's ticks


def test_vpin_by_hand() -> None:
    """Buckets of 1 s of the mean volume (1 a second): a buy of 1.5 fills the first bucket
    (|1 - 0| of 1) and half the second, a sell of 0.5 fills it (|0.5 - 0.5| of 1)."""
    stream = Stream(SignalSettings(vpin_bucket_seconds=1.0, vpin_buckets=2))
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    for k in range(11):
        stream.trades(T0 + k * SECOND + 500 * MS, (SELL if k % 2 else BUY, 1.0))
    before = stream.factor("vpin")
    assert before.status == "warming_up"
    stream.trades(T0 + 11_300 * MS, (BUY, 1.5))
    stream.trades(T0 + 11_400 * MS, (SELL, 0.5))
    stream.trades(T0 + 11_600 * MS, (BUY, 0.1))
    assert stream.factor("vpin").value == pytest.approx(0.5)


def test_realised_volatility_of_an_alternating_mid() -> None:
    """The mid alternates 100 and 100.2 each second: every 1 s return is +-ln(100.2 / 100)."""
    stream = Stream()
    for k in range(63):
        bids, asks = book(100.0 + 0.2 * (k % 2))
        stream.snapshot(T0 + k * SECOND + 500 * MS, bids, asks)
    expected = math.sqrt(60 * math.log(100.2 / 100.0) ** 2) * 1e4
    assert stream.factor("realized_vol_1m_bps").value == pytest.approx(expected)


def test_stoikovs_adjustment_learns_what_follows_each_imbalance() -> None:
    """Bid-heavy (I = 0.9) is always followed by the mid one tick up, ask-heavy by one down:
    g(0.9) = +1 tick, served in bps of the mid; the mirror bin gives -1 tick."""
    stream = Stream()
    tick = 0.1
    for k in range(50):
        heavy_bid = k % 2 == 0
        mid = 100.0 if heavy_bid else 100.0 + tick
        bids = [(round(mid - tick / 2 - j * tick, 6), 9.0 if heavy_bid else 1.0) for j in range(5)]
        asks = [(round(mid + tick / 2 + j * tick, 6), 1.0 if heavy_bid else 9.0) for j in range(5)]
        stream.snapshot(T0 + k * SECOND + 500 * MS, bids, asks)
        stream.trades(T0 + k * SECOND + 600 * MS, (BUY, 1.0))  # closes the ticks up to it
        if k < 43:
            continue
        view = stream.signals.view("TESTUSDT")
        assert view is not None
        sign = 1.0 if heavy_bid else -1.0
        assert stream.factor("imbalance_top1").value == pytest.approx(sign * 0.8)
        assert stream.factor("stoikov_bps").value == pytest.approx(
            sign * tick / view.details["mid"] * 1e4
        )


def test_a_silence_is_closed_second_by_second_and_a_long_one_restarts_history() -> None:
    stream = Stream(SignalSettings(max_silence="10s"))
    bids, asks = book()
    stream.snapshot(T0, bids, asks)
    stream.trades(T0 + 100 * MS, (BUY, 1.0))
    stream.trades(T0 + 8500 * MS, (SELL, 1.0))
    assert sorted(stream.samples) == [T0 + k * SECOND for k in range(1, 9)]
    assert stream.at(T0 + 5 * SECOND)["flow_imbalance_5s"] == 1.0
    assert stream.at(T0 + 7 * SECOND)["flow_imbalance_5s"] == 0.0  # the buy left the window
    stream.trades(T0 + 30 * SECOND, (SELL, 1.0))  # 21.5 s of silence > 10 s: no samples
    assert max(stream.samples) == T0 + 8 * SECOND
    stream.trades(T0 + 31_500 * MS, (BUY, 1.0))
    assert stream.at(T0 + 31 * SECOND)["flow_imbalance_1s"] == -1.0


def test_score_is_the_sum_of_its_contributions_and_in_bounds() -> None:
    from scalper.venues.bybit.frames import FrameApplier
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    stream = Stream(SignalSettings(score=SignalSettings().score.__class__(zscore_warmup="5s")))
    applier = FrameApplier(stream.engine)
    for recv_ns, frame in generate_frames(MarketConfig(symbols=4, seconds=45, seed=2)):
        applier(frame, recv_ns)
    for symbol in stream.engine.symbols:
        view = stream.signals.view(symbol)
        assert view is not None
        score = view.score
        assert score.status == "ok" and score.value is not None
        parts = [f.contribution for f in view.factors.values() if f.contribution is not None]
        assert math.fsum(parts) == pytest.approx(score.value)
        assert -1.0 <= score.value <= 1.0
        threshold = SignalSettings().score.direction_threshold
        expected = (
            "long" if score.value >= threshold else "short" if score.value <= -threshold else "flat"
        )
        assert score.direction == expected
        assert 0 <= score.confluence <= len(parts)
        for factor in view.factors.values():
            assert factor.value is None or math.isfinite(factor.value)


def test_the_same_events_give_the_same_samples() -> None:
    from scalper.venues.bybit.frames import FrameApplier
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    frames = list(generate_frames(MarketConfig(symbols=3, seconds=20, seed=4)))
    runs = []
    for _ in range(2):
        stream = Stream()
        applier = FrameApplier(stream.engine)
        for recv_ns, frame in frames:
            applier(frame, recv_ns)
        runs.append(stream.samples)
    assert runs[0] == runs[1]
