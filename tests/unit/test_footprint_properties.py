"""The compiled footprints against a plain Python model of them, on random trade streams: the
same candles, levels, totals and bounds (max_levels, session_levels, candles, late trades)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.events import BUY, SELL, UNKNOWN_SIDE, Trade, TradeBatch
from scalper.footprint import Footprints
from scalper.settings import FootprintSettings

S = 1_000_000_000
MINUTE = 60 * S
DAY = 1440 * MINUTE
T0 = 19_700 * DAY - 3 * MINUTE  # three minutes before a UTC midnight
TICK = 0.5


@dataclass
class Levels:
    """Volumes by level, over the span `low`..`high` (None: empty), as a dict."""

    cap: int
    low: int | None = None
    high: int | None = None
    volumes: dict[int, list[float]] = field(default_factory=dict)
    buy: float = 0.0
    sell: float = 0.0

    def fits(self, level: int) -> bool:
        if self.low is None or self.high is None:
            return True
        return max(self.high, level) - min(self.low, level) + 1 <= self.cap

    def put(self, level: int, side: int, qty: float) -> None:
        self.low = level if self.low is None else min(self.low, level)
        self.high = level if self.high is None else max(self.high, level)
        pair = self.volumes.setdefault(level, [0.0, 0.0])
        pair[0 if side == BUY else 1] += qty

    def total(self, side: int, qty: float) -> None:
        if side == BUY:
            self.buy += qty
        else:
            self.sell += qty

    def drop_for(self, level: int) -> float:
        """Keep the `cap` levels reaching `level`; the volume dropped, lowest level first."""
        assert self.low is not None and self.high is not None
        if level < self.low:
            low, high = level, min(self.high, level + self.cap - 1)
        else:
            low, high = max(self.low, level - self.cap + 1), level
        dropped = 0.0
        for key in sorted(self.volumes):
            if not low <= key <= high:
                buy, sell = self.volumes.pop(key)
                dropped += buy
                dropped += sell
        kept_low = max(self.low, low)
        kept_high = min(self.high, high)
        if kept_low > kept_high:  # nothing kept
            self.low = self.high = None
        else:
            self.low, self.high = kept_low, kept_high
        return dropped

    def listed(self, low: int | None = None, high: int | None = None) -> list[tuple]:
        return [
            (round(level * TICK, 1), buy, sell)
            for level, (buy, sell) in sorted(self.volumes.items())
            if (buy or sell) and (low is None or level >= low) and (high is None or level <= high)
        ]


@dataclass
class ModelCandle:
    start: int
    levels: Levels
    overflow: float = 0.0
    trades: int = 0


class Model:
    """The footprints of one symbol, in plain Python."""

    def __init__(self, candles: int, max_levels: int, session_levels: int) -> None:
        self.candles: deque[ModelCandle] = deque(maxlen=candles)
        self.max_levels = max_levels
        self.session_levels = session_levels
        self.session: Levels | None = None
        self.day = -1
        self.since = 0
        self.evicted = 0.0
        self.late = 0

    def add(self, price: float, qty: float, side: int, ts: int) -> None:
        if side not in (BUY, SELL):
            return
        day = ts // DAY
        if self.session is None or self.day < day:
            self.session, self.day, self.since, self.evicted = (
                Levels(self.session_levels),
                day,
                ts,
                0.0,
            )
        start = ts - ts % MINUTE
        if not self.candles or self.candles[-1].start < start:
            self.candles.append(ModelCandle(start, Levels(self.max_levels)))
        candle = next((c for c in self.candles if c.start == start), None)
        if candle is None:
            self.late += 1
            return
        level = math.floor(price / TICK + 0.5)
        if candle.levels.fits(level):
            candle.levels.put(level, side, qty)
        else:
            candle.overflow += qty
        candle.levels.total(side, qty)
        candle.trades += 1
        if self.day == day:
            if not self.session.fits(level):
                self.evicted += self.session.drop_for(level)
            self.session.put(level, side, qty)
            self.session.total(side, qty)


trades = st.lists(
    st.tuples(
        st.integers(190, 230),  # the price in ticks
        st.sampled_from([0.1, 0.25, 1.0, 1.5, 3.0, 0.001, 7.3]),
        st.sampled_from([BUY, BUY, SELL, SELL, UNKNOWN_SIDE]),
        st.integers(0, 6 * MINUTE // S),  # seconds from T0: across midnight, out of order
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    stream=trades,
    batch_size=st.integers(1, 5),
    candles=st.integers(1, 4),
    max_levels=st.integers(1, 8),
    session_levels=st.integers(1, 12),
)
def test_compiled_footprints_match_the_model(
    stream: list[tuple[int, float, int, int]],
    batch_size: int,
    candles: int,
    max_levels: int,
    session_levels: int,
) -> None:
    footprint = FootprintSettings(
        timeframe="1m", candles=candles, max_levels=max_levels, session_levels=session_levels
    )
    footprints = Footprints(footprint, {"X": str(TICK)})
    model = Model(candles, max_levels, session_levels)
    rows = [(ticks * TICK, qty, side, T0 + seconds * S) for ticks, qty, side, seconds in stream]
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        batch = TradeBatch(
            symbol="X",
            trades=[Trade("X", p, q, side, ts, ts) for p, q, side, ts in chunk],
            ts_event_ns=chunk[-1][3],
            recv_ns=chunk[-1][3],
        )
        footprints.on_trades(batch)
        for row in chunk:
            model.add(*row)

    now = T0 + 3 * MINUTE
    view = footprints.view("X", 100, now)
    assert footprints.late_trades == model.late
    if view is None:
        assert not stream
        return
    got = [
        (
            c.start_ns,
            c.end_ns,
            c.closed,
            c.buy,
            c.sell,
            c.trades,
            c.overflow,
            [(v.price, v.buy, v.sell) for v in c.levels],
        )
        for c in view.candles
    ]
    want = [
        (
            c.start,
            c.start + MINUTE,
            now >= c.start + MINUTE,
            c.levels.buy,
            c.levels.sell,
            c.trades,
            c.overflow,
            c.levels.listed(),
        )
        for c in model.candles
    ]
    assert got == want
    for candle in footprints.symbols["X"].candles:  # a span of at most max_levels levels
        assert len(candle.volumes) <= 2 * max_levels
    profile = footprints.profile("X", 210 * TICK, 30)
    if model.session is None:
        assert profile.since_ns is None and profile.levels == []
        return
    assert (profile.since_ns, profile.buy, profile.sell, profile.evicted) == (
        model.since,
        model.session.buy,
        model.session.sell,
        model.evicted,
    )
    assert [(v.price, v.buy, v.sell) for v in profile.levels] == model.session.listed(180, 240)
    assert len(footprints.symbols["X"].session.volumes) <= 2 * session_levels
