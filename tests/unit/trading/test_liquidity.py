"""trading.liquidity: what our fills took stays taken until the level's next data."""

from __future__ import annotations

from scalper.events import BookUpdate, Level
from scalper.trading.liquidity import ConsumedLiquidity


def update(
    bids: list[Level], asks: list[Level], *, snapshot: bool = False, u: int = 5
) -> BookUpdate:
    return BookUpdate("BTCUSDT", 50, snapshot, bids, asks, u, u, 0, 0)


def test_takes_add_up_per_level() -> None:
    consumed = ConsumedLiquidity()
    consumed.take("BTCUSDT", False, 100.0, 1.0)
    consumed.take("BTCUSDT", False, 100.0, 0.5)
    consumed.take("BTCUSDT", True, 99.0, 2.0)
    assert consumed.taken("BTCUSDT", False) == {100.0: 1.5}
    assert consumed.taken("BTCUSDT", True) == {99.0: 2.0}
    assert consumed.taken("ETHUSDT", True) == {}
    assert len(consumed) == 2


def test_a_delta_refreshes_only_the_prices_it_touches_on_its_side() -> None:
    consumed = ConsumedLiquidity()
    consumed.take("BTCUSDT", False, 100.0, 1.0)
    consumed.take("BTCUSDT", False, 100.5, 1.0)
    consumed.take("BTCUSDT", True, 100.0, 1.0)
    consumed.refresh(update(bids=[], asks=[(100.0, 3.0)]))
    assert consumed.taken("BTCUSDT", False) == {100.5: 1.0}
    assert consumed.taken("BTCUSDT", True) == {100.0: 1.0}
    consumed.refresh(update(bids=[(100.0, 0.0)], asks=[(100.5, 0.0)]))
    assert len(consumed) == 0


def test_a_snapshot_or_reset_refreshes_the_whole_symbol() -> None:
    consumed = ConsumedLiquidity()
    consumed.take("BTCUSDT", False, 100.0, 1.0)
    consumed.take("ETHUSDT", False, 2_000.0, 1.0)
    consumed.refresh(update(bids=[], asks=[], snapshot=True))
    assert consumed.taken("BTCUSDT", False) == {}
    assert consumed.taken("ETHUSDT", False) == {2_000.0: 1.0}
    consumed.take("BTCUSDT", True, 99.0, 1.0)
    consumed.refresh(update(bids=[], asks=[], u=1))  # update id 1: the venue restarted
    assert consumed.taken("BTCUSDT", True) == {}
