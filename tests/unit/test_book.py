"""book.OrderBook: snapshot/delta application, sync rules, depth trimming and queries."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from scalper.book import OUT_OF_SYNC_EVENTS, ApplyResult, OrderBook, SyncState
from scalper.events import BookUpdate, Level

MS = 1_000_000


def update(
    u: int,
    bids: Sequence[Level] = (),
    asks: Sequence[Level] = (),
    *,
    snapshot: bool = False,
    ts_ms: int = 1_700_000_000_000,
) -> BookUpdate:
    return BookUpdate(
        symbol="BTCUSDT",
        depth=50,
        is_snapshot=snapshot,
        bids=list(bids),
        asks=list(asks),
        update_id=u,
        seq=u * 10,
        ts_event_ns=ts_ms * MS,
        recv_ns=ts_ms * MS + 5,
    )


def levels(book: OrderBook) -> tuple[list[Level], list[Level]]:
    """Both sides in full, best first."""
    return book.bids.top(len(book.bids)), book.asks.top(len(book.asks))


BIDS = [(100.0, 2.0), (99.5, 3.0), (99.0, 5.0)]
ASKS = [(100.5, 1.0), (101.0, 4.0), (102.0, 6.0)]


def synced_book(depth: int = 50, u: int = 10) -> OrderBook:
    book = OrderBook("BTCUSDT", depth)
    assert book.apply(update(u, BIDS, ASKS, snapshot=True)) is ApplyResult.SNAPSHOT
    return book


# --------------------------------------------------------------------------- snapshots


def test_new_book_awaits_a_snapshot() -> None:
    book = OrderBook("BTCUSDT", 50)

    assert book.state is SyncState.AWAITING_SNAPSHOT
    assert not book.in_sync
    assert book.update_id == 0
    assert levels(book) == ([], [])


def test_snapshot_fills_the_book_sorted_best_first() -> None:
    book = OrderBook("BTCUSDT", 50)
    # Out of order on purpose: the book sorts, it does not trust the venue's order.
    result = book.apply(
        update(10, [BIDS[2], BIDS[0], BIDS[1]], [ASKS[1], ASKS[2], ASKS[0]], snapshot=True)
    )

    assert result is ApplyResult.SNAPSHOT
    assert book.state is SyncState.IN_SYNC
    assert book.in_sync
    assert book.out_of_sync_reason is None
    assert book.update_id == 10
    assert book.ts_event_ns == 1_700_000_000_000 * MS
    assert levels(book) == (BIDS, ASKS)


def test_second_snapshot_replaces_everything() -> None:
    book = synced_book()

    result = book.apply(update(500, [(90.0, 1.0)], [(91.0, 7.0)], snapshot=True, ts_ms=42))

    assert result is ApplyResult.SNAPSHOT
    assert levels(book) == ([(90.0, 1.0)], [(91.0, 7.0)])
    assert book.update_id == 500
    assert book.ts_event_ns == 42 * MS


def test_snapshot_skips_zero_size_levels() -> None:
    book = OrderBook("BTCUSDT", 50)

    book.apply(update(10, [(100.0, 0.0), (99.0, 1.0)], [(101.0, 0.0)], snapshot=True))

    assert levels(book) == ([(99.0, 1.0)], [])


# --------------------------------------------------------------------------- deltas


def test_delta_inserts_updates_and_deletes() -> None:
    book = synced_book()

    result = book.apply(
        update(
            11,
            bids=[(99.75, 8.0), (99.5, 30.0), (99.0, 0.0)],
            asks=[(100.5, 0.0), (103.0, 9.0)],
            ts_ms=1_700_000_000_100,
        )
    )

    assert result is ApplyResult.APPLIED
    assert book.update_id == 11
    assert book.ts_event_ns == 1_700_000_000_100 * MS
    assert levels(book) == (
        [(100.0, 2.0), (99.75, 8.0), (99.5, 30.0)],
        [(101.0, 4.0), (102.0, 6.0), (103.0, 9.0)],
    )


def test_delete_of_a_missing_price_is_a_no_op() -> None:
    book = synced_book()

    result = book.apply(update(11, [(98.0, 0.0)], [(100.75, 0.0)]))

    assert result is ApplyResult.APPLIED
    assert book.in_sync
    assert levels(book) == (BIDS, ASKS)


def test_delete_and_reinsert_in_one_delta() -> None:
    book = synced_book()

    book.apply(update(11, [(100.0, 0.0), (100.0, 4.0)], [(101.0, 0.0)]))

    assert levels(book) == (
        [(100.0, 4.0), (99.5, 3.0), (99.0, 5.0)],
        [(100.5, 1.0), (102.0, 6.0)],
    )


def test_snapshot_beyond_depth_is_trimmed_worst_first() -> None:
    book = OrderBook("BTCUSDT", 2)

    book.apply(update(10, BIDS, ASKS, snapshot=True))

    assert levels(book) == (BIDS[:2], ASKS[:2])
    assert book.trimmed_levels == 2
    assert book.in_sync


def test_insert_beyond_depth_trims_the_worst_level() -> None:
    book = synced_book(depth=3)
    assert book.trimmed_levels == 0

    book.apply(update(11, [(99.75, 1.0)], [(100.75, 1.0), (100.25, 1.0)]))

    assert levels(book) == (
        [(100.0, 2.0), (99.75, 1.0), (99.5, 3.0)],
        [(100.25, 1.0), (100.5, 1.0), (100.75, 1.0)],
    )
    assert book.trimmed_levels == 3


def test_insert_worse_than_a_full_window_is_dropped() -> None:
    book = synced_book(depth=3)

    book.apply(update(11, [(98.0, 1.0)], [(110.0, 1.0)]))

    assert levels(book) == (BIDS, ASKS)
    assert book.trimmed_levels == 2


def test_delete_at_the_edge_of_the_depth_window() -> None:
    book = synced_book(depth=3)

    # The venue deletes the worst level in the window (it moved out of its depth-3 view) ...
    book.apply(update(11, [(99.0, 0.0)], [(102.0, 0.0)]))
    assert levels(book) == (BIDS[:2], ASKS[:2])
    # ... and then sends the level that entered the window at the edge.
    book.apply(update(12, [(98.5, 7.0)], [(102.5, 7.0)]))
    assert levels(book) == ([*BIDS[:2], (98.5, 7.0)], [*ASKS[:2], (102.5, 7.0)])
    assert book.trimmed_levels == 0
    assert book.in_sync


def test_delete_of_a_level_already_trimmed_changes_nothing() -> None:
    book = OrderBook("BTCUSDT", 2)
    book.apply(update(10, BIDS, ASKS, snapshot=True))  # 99.0 and 102.0 are trimmed away

    book.apply(update(11, [(99.0, 0.0)], [(102.0, 0.0)]))

    assert levels(book) == (BIDS[:2], ASKS[:2])
    # Deleting the edge level leaves a short side; the trimmed level does not come back.
    book.apply(update(12, [(99.5, 0.0)], []))
    assert levels(book) == ([(100.0, 2.0)], ASKS[:2])


# --------------------------------------------------------------------------- sync rules


def test_gap_in_update_ids_loses_sync_and_leaves_the_book_alone() -> None:
    book = synced_book(u=10)

    result = book.apply(update(12, [(100.0, 99.0)], []))

    assert result is ApplyResult.GAP
    assert result in OUT_OF_SYNC_EVENTS
    assert book.state is SyncState.OUT_OF_SYNC
    assert not book.in_sync
    assert book.out_of_sync_reason is not None
    assert "12" in book.out_of_sync_reason
    assert "10" in book.out_of_sync_reason
    assert book.update_id == 10
    assert levels(book) == (BIDS, ASKS)


@pytest.mark.parametrize("u", [10, 9, 0, 13, 10_000])
def test_any_update_id_but_last_plus_one_is_a_gap(u: int) -> None:
    book = synced_book(u=10)

    assert book.apply(update(u, [(100.0, 99.0)], [])) is ApplyResult.GAP
    assert book.state is SyncState.OUT_OF_SYNC


def test_after_a_gap_deltas_are_ignored_until_a_snapshot() -> None:
    book = synced_book(u=10)
    book.apply(update(12, [], []))

    assert book.apply(update(13, [(100.0, 99.0)], [])) is ApplyResult.IGNORED
    assert book.apply(update(11, [(100.0, 99.0)], [])) is ApplyResult.IGNORED
    assert book.state is SyncState.OUT_OF_SYNC
    assert levels(book) == (BIDS, ASKS)

    assert book.apply(update(20, [(95.0, 1.0)], [(96.0, 1.0)], snapshot=True)) is (
        ApplyResult.SNAPSHOT
    )
    assert book.state is SyncState.IN_SYNC
    assert book.out_of_sync_reason is None
    assert book.apply(update(21, [(95.5, 2.0)], [])) is ApplyResult.APPLIED
    assert levels(book) == ([(95.5, 2.0), (95.0, 1.0)], [(96.0, 1.0)])


def test_delta_with_u_1_resets_the_book() -> None:
    book = synced_book(u=10)

    result = book.apply(update(1, [(50.0, 1.0)], [(51.0, 2.0), (52.0, 0.0)]))

    assert result is ApplyResult.RESET
    assert book.state is SyncState.IN_SYNC
    assert book.update_id == 1
    assert levels(book) == ([(50.0, 1.0)], [(51.0, 2.0)])
    assert book.apply(update(2, [(50.5, 1.0)], [])) is ApplyResult.APPLIED
    assert book.bids.best() == (50.5, 1.0)


@pytest.mark.parametrize("first", ["gap", "no_snapshot"])
def test_reset_recovers_an_out_of_sync_book(first: str) -> None:
    book = synced_book(u=10) if first == "gap" else OrderBook("BTCUSDT", 50)
    book.apply(update(30, [], []))
    assert book.state is SyncState.OUT_OF_SYNC

    assert book.apply(update(1, [(50.0, 1.0)], [(51.0, 2.0)])) is ApplyResult.RESET
    assert book.in_sync
    assert levels(book) == ([(50.0, 1.0)], [(51.0, 2.0)])


def test_reset_before_any_snapshot_is_accepted() -> None:
    book = OrderBook("BTCUSDT", 50)

    assert book.apply(update(1, [(50.0, 1.0)], [(51.0, 2.0)])) is ApplyResult.RESET
    assert book.in_sync


def test_delta_before_any_snapshot_reports_once_then_is_ignored() -> None:
    book = OrderBook("BTCUSDT", 50)

    first = book.apply(update(10, [(100.0, 1.0)], []))
    second = book.apply(update(11, [(100.0, 1.0)], []))

    assert first is ApplyResult.NO_SNAPSHOT
    assert first in OUT_OF_SYNC_EVENTS
    assert second is ApplyResult.IGNORED
    assert book.state is SyncState.OUT_OF_SYNC
    assert book.out_of_sync_reason == "delta before any snapshot"
    assert levels(book) == ([], [])
    assert book.apply(update(40, BIDS, ASKS, snapshot=True)) is ApplyResult.SNAPSHOT
    assert book.apply(update(41, [], [(100.5, 0.0)])) is ApplyResult.APPLIED
    assert book.best_ask() == (101.0, 4.0)


@pytest.mark.parametrize("bid", [100.5, 100.75, 105.0])
def test_delta_that_crosses_the_book_loses_sync(bid: float) -> None:
    book = synced_book(u=10)

    result = book.apply(update(11, [(bid, 1.0)], []))

    assert result is ApplyResult.CROSSED
    assert result in OUT_OF_SYNC_EVENTS
    assert book.state is SyncState.OUT_OF_SYNC
    assert book.out_of_sync_reason is not None
    assert "crossed" in book.out_of_sync_reason
    assert book.apply(update(12, [(bid, 0.0)], [])) is ApplyResult.IGNORED


def test_ask_below_best_bid_crosses() -> None:
    book = synced_book(u=10)

    assert book.apply(update(11, [], [(99.75, 1.0)])) is ApplyResult.CROSSED
    assert book.state is SyncState.OUT_OF_SYNC


def test_crossed_snapshot_is_detected() -> None:
    book = OrderBook("BTCUSDT", 50)

    assert book.apply(update(10, [(101.0, 1.0)], [(100.0, 1.0)], snapshot=True)) is (
        ApplyResult.CROSSED
    )
    assert book.state is SyncState.OUT_OF_SYNC


def test_one_sided_book_is_not_crossed() -> None:
    book = OrderBook("BTCUSDT", 50)

    assert book.apply(update(10, [(101.0, 1.0)], [], snapshot=True)) is ApplyResult.SNAPSHOT
    assert book.apply(update(11, [], [(200.0, 1.0)])) is ApplyResult.APPLIED
    assert book.in_sync


def test_out_of_sync_events() -> None:
    assert (
        frozenset({ApplyResult.GAP, ApplyResult.CROSSED, ApplyResult.NO_SNAPSHOT})
        == OUT_OF_SYNC_EVENTS
    )


# --------------------------------------------------------------------------- queries


def test_queries_on_a_known_book() -> None:
    book = synced_book()

    assert book.best_bid() == (100.0, 2.0)
    assert book.best_ask() == (100.5, 1.0)
    assert book.bids.best() == (100.0, 2.0)
    assert book.asks.best() == (100.5, 1.0)
    assert book.mid() == 100.25
    assert book.spread() == 0.5
    assert book.spread_bps() == pytest.approx(0.5 / 100.25 * 10_000)
    assert book.spread_bps() == pytest.approx(49.8753117)
    # (bid * ask_size + ask * bid_size) / (bid_size + ask_size) = (100 * 1 + 100.5 * 2) / 3
    assert book.microprice() == pytest.approx(100.3333333333)
    assert book.bids.top(2) == [(100.0, 2.0), (99.5, 3.0)]
    assert book.asks.top(1) == [(100.5, 1.0)]
    assert book.asks.top(10) == ASKS
    assert book.bids.top(0) == []
    assert book.bids.total_size() == 10.0
    assert book.asks.total_size() == 11.0
    assert book.bids.total_size(2) == 5.0
    assert book.asks.total_size(1) == 1.0
    assert book.asks.total_size(99) == 11.0
    assert len(book.bids) == 3


def test_size_within_bps_counts_levels_inside_the_band() -> None:
    book = synced_book()  # mid 100.25

    # 50 bps of 100.25 = 0.50125: bids >= 99.74875, asks <= 100.75125
    assert book.size_within_bps(50) == (2.0, 1.0)
    # 100 bps = 1.0025: bids >= 99.2475, asks <= 101.2525
    assert book.size_within_bps(100) == (5.0, 5.0)
    assert book.size_within_bps(10_000) == (10.0, 11.0)
    assert book.size_within_bps(0) == (0.0, 0.0)


def test_size_within_bps_includes_levels_exactly_on_the_band_edge() -> None:
    book = OrderBook("BTCUSDT", 50)
    book.apply(update(10, [(99.0, 1.0), (98.0, 2.0)], [(101.0, 3.0), (102.0, 4.0)], snapshot=True))

    assert book.mid() == 100.0
    assert book.size_within_bps(100) == (1.0, 3.0)  # edges 99.0 and 101.0 exactly
    assert book.size_within_bps(200) == (3.0, 7.0)  # edges 98.0 and 102.0 exactly
    assert book.size_within_bps(99.99) == (0.0, 0.0)


def test_queries_on_an_empty_book() -> None:
    book = OrderBook("BTCUSDT", 50)

    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.bids.best() is None
    assert book.mid() is None
    assert book.spread() is None
    assert book.spread_bps() is None
    assert book.microprice() is None
    assert book.size_within_bps(100) == (0.0, 0.0)
    assert book.bids.top(5) == []
    assert book.asks.total_size() == 0.0


def test_queries_on_a_one_sided_book() -> None:
    book = OrderBook("BTCUSDT", 50)
    book.apply(update(10, BIDS, [], snapshot=True))

    assert book.best_bid() == (100.0, 2.0)
    assert book.best_ask() is None
    assert book.mid() is None
    assert book.spread() is None
    assert book.spread_bps() is None
    assert book.microprice() is None
    assert book.size_within_bps(100) == (0.0, 0.0)
