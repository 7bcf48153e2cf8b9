"""venues.simulator.alpha: the planted mid path, and a market pinned to it that stays a market."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from scalper.book import ApplyResult, OrderBook
from scalper.events import BookUpdate, TradeBatch
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.simulator.alpha import MidPath, PlantedAlpha
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket


def test_the_drift_of_an_interval_is_strength_times_the_flow_imbalance_before_it() -> None:
    alpha = PlantedAlpha("flow", window_ms=5000, horizon_ms=5000, strength_bps=10.0, noise_bps=0.0)
    path = MidPath(alpha, random.Random(1))
    path.on_trades(4_000, -1, 50)  # before [5 s, 10 s): in no window
    path.on_trades(9_000, 1, 30)
    assert path.target(10_000, 1000.0) == pytest.approx(1000.0)  # anchored at the start
    path.on_trades(11_000, 1, 30)
    path.on_trades(12_000, -1, 10)
    path.on_trades(15_000, -1, 99)  # at the next interval's start: after its window
    # interval [10 s, 15 s): its window [5 s, 10 s) held only the buy at 9 s: FI = 1
    assert path.target(15_000, 0.0) == pytest.approx(1000.0 * math.exp(10.0 / 1e4))
    # [15 s, 20 s): window [10 s, 15 s): FI = (30 - 10) / 40 = 0.5, spread evenly over it
    start = 1000.0 * math.exp(10.0 / 1e4)
    assert path.target(17_500, 0.0) == pytest.approx(start * math.exp(0.5 * 5.0 / 1e4))
    assert path.target(20_000, 0.0) == pytest.approx(start * math.exp(5.0 / 1e4))


def test_null_ignores_the_flow() -> None:
    alpha = PlantedAlpha("null", strength_bps=10.0, noise_bps=0.0)
    path = MidPath(alpha, random.Random(1))
    path.target(0, 500.0)
    path.on_trades(1_000, 1, 100)
    assert path.target(20_000, 0.0) == pytest.approx(500.0)


def _events(config: MarketConfig) -> tuple[SyntheticMarket, list[object]]:
    market = SyntheticMarket(config)
    return market, [decode_frame(raw, recv) for recv, raw in market.frames()]


@pytest.mark.parametrize("mode", ["null", "flow"])
def test_a_pinned_market_stays_in_sync_and_trades_what_the_plain_one_trades(mode: str) -> None:
    base = MarketConfig(symbols=3, seconds=30.0, seed=9, book_interval_ms=100)
    plain_market, plain = _events(base)
    pinned_market, pinned = _events(
        MarketConfig(
            symbols=3, seconds=30.0, seed=9, book_interval_ms=100, alpha=PlantedAlpha(mode)
        )
    )
    books = {symbol: OrderBook(symbol, 50) for symbol in pinned_market.symbols}
    moved = 0
    for event in pinned:
        if isinstance(event, BookUpdate):
            before = books[event.symbol].mid()
            assert books[event.symbol].apply(event) in (ApplyResult.SNAPSHOT, ApplyResult.APPLIED)
            moved += before is not None and abs(books[event.symbol].mid() - before) > 0
    for symbol, book in books.items():
        bids, asks = pinned_market.true_book(symbol)
        assert (book.bids.top(50), book.asks.top(50)) == (bids, asks)
    assert moved > 100

    def trades(events: list[object]) -> list[tuple[str, int, float, int]]:
        return [
            (t.symbol, t.side, t.size, t.ts_event_ns)
            for e in events
            if isinstance(e, TradeBatch)
            for t in e.trades
        ]

    # the alpha moves where the book sits, not what trades: same sides, sizes and times
    assert trades(pinned) == trades(plain)
    assert plain_market.symbols == pinned_market.symbols


def test_the_noise_is_a_random_walk_of_the_set_size() -> None:
    """Increments over whole intervals: mean 0, sd noise_bps, uncorrelated with the next."""
    alpha = PlantedAlpha("null", horizon_ms=1000, noise_bps=10.0)
    path = MidPath(alpha, random.Random(3))
    levels = [math.log(path.target(t, 1000.0)) for t in range(0, 2_000_001, 20)]
    steps = [(b - a) * 1e4 for a, b in zip(levels[::50], levels[50::50], strict=False)]
    n = len(steps)
    mean = sum(steps) / n
    sd = math.sqrt(sum((s - mean) ** 2 for s in steps) / n)
    lag = sum((a - mean) * (b - mean) for a, b in itertools.pairwise(steps)) / n
    assert abs(mean) < 4 * 10.0 / math.sqrt(n)
    assert sd == pytest.approx(10.0, rel=0.05)
    assert abs(lag / sd**2) < 4 / math.sqrt(n)
