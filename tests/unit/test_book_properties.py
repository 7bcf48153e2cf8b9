"""OrderBook against a plain reference book, on random snapshot/delta sequences.

The reference keeps one dict per side, sorts on every query and trims by sorting: slow and
obviously right. The sequences put prices on a 0.01 tick grid around a centre (bids below it,
asks at or above it, so updates do not cross) and mix in: deletes of present and missing prices,
sides that outgrow a small depth, update-id gaps and duplicates, u=1 resets, deltas before the
first snapshot, and now and then a level on the wrong side of the centre that crosses the book.
Sizes are whole numbers, so every sum is exact whatever order it is taken in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import event, given, settings
from hypothesis import strategies as st

from scalper.book import ApplyResult, OrderBook, SyncState
from scalper.events import BookUpdate, Level

BPS_PROBES = (0.5, 1.0, 10.0, 50.0, 500.0)


@dataclass
class ReferenceBook:
    depth: int
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    state: SyncState = SyncState.AWAITING_SNAPSHOT
    update_id: int = 0
    trimmed_levels: int = 0

    def apply(self, update: BookUpdate) -> ApplyResult:
        if update.is_snapshot or update.update_id == 1:
            self.bids = {p: s for p, s in update.bids if s != 0.0}
            self.asks = {p: s for p, s in update.asks if s != 0.0}
            result = ApplyResult.SNAPSHOT if update.is_snapshot else ApplyResult.RESET
        elif self.state is SyncState.OUT_OF_SYNC:
            return ApplyResult.IGNORED
        elif self.state is SyncState.AWAITING_SNAPSHOT:
            self.state = SyncState.OUT_OF_SYNC
            return ApplyResult.NO_SNAPSHOT
        elif update.update_id != self.update_id + 1:
            self.state = SyncState.OUT_OF_SYNC
            return ApplyResult.GAP
        else:
            for side, changes in ((self.bids, update.bids), (self.asks, update.asks)):
                for price, size in changes:
                    if size == 0.0:
                        side.pop(price, None)
                    else:
                        side[price] = size
            result = ApplyResult.APPLIED
        self.update_id = update.update_id
        kept_bids = dict(self.sorted_bids()[: self.depth])
        kept_asks = dict(self.sorted_asks()[: self.depth])
        self.trimmed_levels += len(self.bids) - len(kept_bids) + len(self.asks) - len(kept_asks)
        self.bids, self.asks = kept_bids, kept_asks
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            self.state = SyncState.OUT_OF_SYNC
            return ApplyResult.CROSSED
        self.state = SyncState.IN_SYNC
        return result

    def sorted_bids(self) -> list[Level]:
        return sorted(self.bids.items(), reverse=True)

    def sorted_asks(self) -> list[Level]:
        return sorted(self.asks.items())

    def mid(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return (min(self.asks) + max(self.bids)) / 2.0

    def size_within_bps(self, bps: float) -> tuple[float, float]:
        mid = self.mid()
        if mid is None:
            return (0.0, 0.0)
        offset = mid * bps / 10_000.0
        return (
            sum(s for p, s in self.bids.items() if p >= mid - offset),
            sum(s for p, s in self.asks.items() if p <= mid + offset),
        )


def assert_same(book: OrderBook, ref: ReferenceBook) -> None:
    bids, asks = ref.sorted_bids(), ref.sorted_asks()
    assert book.state is ref.state
    assert book.update_id == ref.update_id
    assert book.trimmed_levels == ref.trimmed_levels
    assert book.bids.top(10_000) == bids
    assert book.asks.top(10_000) == asks
    assert len(book.bids) == len(bids) <= ref.depth
    assert len(book.asks) == len(asks) <= ref.depth
    assert book.best_bid() == (bids[0] if bids else None)
    assert book.best_ask() == (asks[0] if asks else None)
    assert book.mid() == ref.mid()
    if bids and asks:
        assert book.spread() == asks[0][0] - bids[0][0]
    for n in (1, 3, ref.depth):
        assert book.bids.top(n) == bids[:n]
        assert book.asks.top(n) == asks[:n]
        assert book.bids.total_size(n) == sum(s for _, s in bids[:n])
        assert book.asks.total_size(n) == sum(s for _, s in asks[:n])
    for bps in BPS_PROBES:
        assert book.size_within_bps(bps) == ref.size_within_bps(bps)


SPREAD_TICKS = 30  # each side draws from 30 ticks, so small depths overflow


def price(tick: int) -> float:
    return tick / 100  # the float a "12.34"-style string parses to


# Strategies are built once: building them per draw dominated the run time.
# (tick offset from the centre, size); a size drawn below 0 becomes 0, a delete: about 1 in 4.
_CHANGE = st.tuples(st.integers(0, SPREAD_TICKS - 1), st.integers(-150, 450))
_DELTA_SIDE = st.lists(_CHANGE, max_size=8)
_SNAPSHOT_SIDE = st.lists(_CHANGE, max_size=30)  # depth is at most 20: snapshots overflow it
_WRONG_SIDE = st.tuples(st.integers(0, 29), st.booleans(), st.integers(0, 3))


@st.composite
def book_levels(draw: st.DrawFn, centre: int, full: bool) -> tuple[list[Level], list[Level]]:
    """Non-crossing levels around `centre` (bids below, asks at or above); about one time in
    thirty, one more level on the wrong side of the centre, which crosses the book."""
    side = _SNAPSHOT_SIDE if full else _DELTA_SIDE
    bids = [(price(centre - 1 - off), float(max(size, 0))) for off, size in draw(side)]
    asks = [(price(centre + off), float(max(size, 0))) for off, size in draw(side)]
    roll, on_bid_side, off = draw(_WRONG_SIDE)
    if roll == 0:
        if on_bid_side:
            bids.append((price(centre + off), 1.0))
        else:
            asks.append((price(centre - 1 - off), 1.0))
    if full:  # a snapshot carries each price once and no deletes
        bids = list({p: s or 1.0 for p, s in bids}.items())
        asks = list({p: s or 1.0 for p, s in asks}.items())
    return bids, asks


@st.composite
def update_sequences(draw: st.DrawFn) -> tuple[int, list[BookUpdate]]:
    depth = draw(st.integers(5, 20))
    centre = draw(st.integers(1_000, 100_000))
    last_u = draw(st.integers(2, 10_000))
    updates: list[BookUpdate] = []
    starts_with_snapshot = draw(st.integers(0, 4)) > 0
    for step in range(draw(st.integers(1, 25))):
        roll = draw(st.integers(0, 99))
        if (step == 0 and starts_with_snapshot) or roll < 8:
            kind = "snapshot"
        elif roll < 12:
            kind = "reset"
        elif roll < 18:
            kind = "gap"
        else:
            kind = "delta"
        if kind in ("snapshot", "reset"):
            centre += draw(st.integers(-5, 5))
        if kind == "snapshot":
            last_u = draw(st.integers(2, 10**9))
        elif kind == "reset":
            last_u = 1
        elif kind == "gap":
            last_u = draw(st.sampled_from([last_u, last_u - 1, last_u + 2, last_u + 50]))
            last_u = max(last_u, 2)  # u=1 is a reset, not a gap
        else:
            last_u += 1
        bids, asks = draw(book_levels(centre, full=kind in ("snapshot", "reset")))
        updates.append(
            BookUpdate(
                symbol="TEST",
                depth=depth,
                is_snapshot=kind == "snapshot",
                bids=bids,
                asks=asks,
                update_id=last_u,
                seq=step,
                ts_event_ns=step * 1_000_000,
                recv_ns=step,
            )
        )
    return depth, updates


@settings(max_examples=150, deadline=None)
@given(update_sequences())
def test_book_matches_the_reference_after_every_update(
    case: tuple[int, list[BookUpdate]],
) -> None:
    depth, updates = case
    book = OrderBook("TEST", depth)
    ref = ReferenceBook(depth)

    for update in updates:
        expected = ref.apply(update)
        assert book.apply(update) is expected, update
        assert_same(book, ref)
        event(expected.value)  # --hypothesis-show-statistics shows how often each case ran
    event("trimmed" if ref.trimmed_levels else "never trimmed")


@settings(max_examples=100, deadline=None)
@given(
    depth=st.integers(5, 20),
    centre=st.integers(1_000, 100_000),
    wrong_side=st.integers(0, 3),
    bid_side=st.booleans(),
)
def test_a_level_on_the_wrong_side_is_always_reported_as_crossed(
    depth: int, centre: int, wrong_side: int, bid_side: bool
) -> None:
    book = OrderBook("TEST", depth)
    bids = [(price(centre - 1 - i), 1.0) for i in range(depth)]
    asks = [(price(centre + i), 1.0) for i in range(depth)]
    assert book.apply(BookUpdate("TEST", depth, True, bids, asks, 10, 0, 0, 0)) is (
        ApplyResult.SNAPSHOT
    )

    level = (price(centre + wrong_side), 2.0) if bid_side else (price(centre - 1 - wrong_side), 2.0)
    delta = BookUpdate(
        "TEST", depth, False, [level] if bid_side else [], [] if bid_side else [level], 11, 0, 0, 0
    )

    assert book.apply(delta) is ApplyResult.CROSSED
    assert book.state is SyncState.OUT_OF_SYNC
