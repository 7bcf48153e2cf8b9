"""A deterministic synthetic Bybit v5 linear market: consistent books, trades and tickers as frames.

Pure: no I/O, no wall clock; one seeded `random.Random` drives everything, so the same
`MarketConfig` always gives the same bytes. The frames have the exact shapes of Bybit's public
streams (/docs/v5/websocket/public/orderbook, /trade, /ticker):

- `orderbook.{depth}.{symbol}`: a `snapshot` with `depth` levels a side, then a `delta` every
  `book_interval_ms` with 1-20 level changes a side; `u` +1 per delta. The book always holds
  exactly `depth` levels a side and is never crossed: a level pushed out of the window by an
  insert is deleted in the same delta (size "0"), as Bybit does.
- `publicTrade.{symbol}`: bursts of messages with 1-10 trades each. Trades execute against the
  true book (a Buy takes the best ask and may consume it), and the book delta that follows
  publishes what they took; between deltas trades only remove liquidity, so a Buy is always at
  or above the best ask of the book as last published.
- `tickers.{symbol}`: a snapshot, then deltas with only the fields that changed.

With a planted alpha (`MarketConfig.alpha`, alpha.py) each delta also slides the whole book so
that its mid follows a known path: the evaluator's proof. Off by default; the alpha's noise has
its own random stream, so the market's other draws are the same with or without it.

Internally prices are integer ticks and sizes integer lots (qty steps); they are formatted to the
instrument's precision only when a frame is built, so the book never accumulates rounding.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from operator import itemgetter
from typing import Final

import msgspec

from scalper.events import Instrument
from scalper.venues.simulator.alpha import MidPath, PlantedAlpha

Level = tuple[float, float]
"""(price, size) as floats."""

_MS_TO_NS: Final = 1_000_000
_MAX_CHANGES: Final = 20
"""Level changes a side per book delta, at most."""
_DELETE_FROM: Final = 0.55
_INSERT_FROM: Final = 0.7
"""A random level change is a resize below _DELETE_FROM, a delete below _INSERT_FROM, else an
insert (which fails, becoming a resize, where there is no free price: at equilibrium about half
the levels have a free price before them)."""
_MAX_TAKEN_LEVELS: Final = 4
"""Levels trades may consume a side between two book deltas (keeps deltas within 20 changes)."""
_FUNDING_INTERVAL_MS: Final = 8 * 3_600_000
_TEXT_CACHE_SIZE: Final = 1024
"""Formatted prices kept per symbol; the cache is cleared when full. Small on purpose: a larger
one (8192) made generation slower, the caches of 300 symbols no longer fitting CPU caches."""
_TABLE_SIZE: Final = 4096
"""Entries of the pre-drawn tables of level sizes and level indices."""


class MarketConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to simulate. Rates are per symbol; the defaults give ~1.36 M frames for 300 x 60 s:
    2/3 book (50/s), 1/4 trade (~19/s) and 1/11 ticker frames (6.7/s)."""

    symbols: int = 300
    seconds: float = 60.0
    seed: int = 1
    depth: int = 50
    book_interval_ms: int = 20
    """Bybit pushes orderbook.50 every 20 ms (/docs/v5/websocket/public/orderbook)."""
    start_ms: int = 1_733_011_200_000
    trade_messages_per_s: float = 20.0
    """Mean publicTrade messages attempted per second and symbol (~5% find too little at the
    best level and are dropped)."""
    burst_messages: float = 4.0
    """Mean messages per trade burst; messages of a burst are 0-8 ms apart."""
    max_trades_per_message: int = 10
    take_level_probability: float = 0.12
    """Chance that one trade takes the whole best level."""
    ticker_interval_ms: int = 150
    """Bybit pushes derivatives tickers every 100 ms; 150 keeps tickers at 1/11 of the frames."""
    mean_changes: float = 3.0
    """Mean level changes a side per book delta (drawn in 1..20)."""
    max_spread_ticks: int = 3
    """A wider spread is narrowed by a new level inside it at the next delta."""
    latency_us: tuple[int, int] = (200, 1_200)
    """Receive latency range added to each frame's ts (recv_ns never goes backwards)."""
    truth_frames: int = 64
    """Book frames back that `book_at` can still answer for (1.3 s at 20 ms): a reader of the
    frames lags the model, and more when its machine is busy. Memory: the levels each frame
    touched, a few per side."""
    alpha: PlantedAlpha | None = None
    """A planted alpha (or null market) pinning each symbol's mid to a known path; None: the
    market's own dynamics."""

    def __post_init__(self) -> None:
        if self.symbols < 1 or self.seconds <= 0 or self.book_interval_ms < 1:
            raise ValueError("symbols, seconds and book_interval_ms must be positive")
        if self.depth < 2 * _MAX_TAKEN_LEVELS + 2:
            raise ValueError(f"depth must be at least {2 * _MAX_TAKEN_LEVELS + 2}")
        if not 1.0 <= self.mean_changes <= _MAX_CHANGES:
            raise ValueError(f"mean_changes must be within 1..{_MAX_CHANGES}")
        if self.trade_messages_per_s <= 0 or self.burst_messages < 1.0:
            raise ValueError("trade_messages_per_s must be positive and burst_messages >= 1")


class Contract(msgspec.Struct, frozen=True):
    """One symbol's contract: price = ticks * 10**-price_decimals, qty = lots * 10**qty_exponent."""

    symbol: str
    price_decimals: int
    qty_exponent: int

    @property
    def tick_size(self) -> str:
        return _decimal(1, self.price_decimals)

    @property
    def qty_step(self) -> str:
        return _qty(1, self.qty_exponent)

    @property
    def instrument(self) -> Instrument:
        """The contract as the simulator's REST instruments endpoint serves it (minimum
        quantity one step, status Trading, quoted in USDT)."""
        return Instrument(
            self.symbol, "Trading", "USDT", self.tick_size, self.qty_step, self.qty_step
        )


def _decimal(n: int, decimals: int) -> str:
    """`n` * 10**-decimals as a decimal string with exactly `decimals` digits after the point."""
    if decimals == 0:
        return str(n)
    whole, fraction = divmod(n, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}"


def _qty(lots: int, exponent: int) -> str:
    return str(lots * 10**exponent) if exponent >= 0 else _decimal(lots, -exponent)


def _qty_formatter(exponent: int) -> Callable[[int], str]:
    """A one-call formatter of sizes in lots (sizes are formatted ~8 times a frame)."""
    if exponent >= 0:
        step = 10**exponent
        return lambda lots: str(lots * step)
    scale = 10**-exponent
    pattern = f"%d.%0{-exponent}d"
    return lambda lots: pattern % divmod(lots, scale)


class _Side:
    """One side of the true book, in sort keys: ask key = ticks, bid key = -ticks; keys[0] is best.

    `published` remembers, for every key touched since the last delta, its size at that delta
    (0 = absent), so the next delta carries exactly the net changes; `history` keeps what it held
    when each of the last deltas was made, newest first (the sizes at the delta before each), so
    the model can also say what the book was some deltas back.
    """

    __slots__ = ("history", "keys", "published", "sizes", "taken")

    def __init__(self, history: int) -> None:
        self.keys: list[int] = []
        self.sizes: dict[int, int] = {}
        self.published: dict[int, int] = {}
        self.history: deque[dict[int, int]] = deque(maxlen=max(1, history))
        self.taken = 0

    def set(self, key: int, lots: int) -> None:
        sizes = self.sizes
        old = sizes.get(key)
        if key not in self.published:
            self.published[key] = old or 0
        if old is None:
            insort(self.keys, key)
        sizes[key] = lots

    def delete(self, key: int) -> None:
        if key not in self.published:
            self.published[key] = self.sizes[key]
        del self.sizes[key]
        del self.keys[bisect_left(self.keys, key)]

    def levels(self) -> list[tuple[int, int]]:
        """(key, lots) best first."""
        sizes = self.sizes
        return [(k, sizes[k]) for k in self.keys]

    def shift(self, offset: int) -> None:
        """Slide every level by `offset` keys, keeping sizes (a planted mid move)."""
        sizes, published = self.sizes, self.published
        for key, lots in sizes.items():
            if key not in published:
                published[key] = lots
        moved = {key + offset: lots for key, lots in sizes.items()}
        for key in moved:
            if key not in published:
                published[key] = 0
        self.sizes = moved
        self.keys = [key + offset for key in self.keys]

    def bump(self) -> list[tuple[int, int]]:
        """Grow the best level by one lot: the change of a delta that would have none."""
        key = self.keys[0]
        self.history[0].setdefault(key, self.sizes[key])
        self.sizes[key] += 1
        return [(key, self.sizes[key])]

    def changes(self) -> list[tuple[int, int]]:
        """Net (key, lots) changes since the last delta, best first; resets the tracking."""
        sizes = self.sizes
        out = []
        for key, old in self.published.items():
            new = sizes.get(key, 0)
            if new != old:
                out.append((key, new))
        out.sort()
        self.history.appendleft(self.published)
        self.published = {}
        self.taken = 0
        return out


def _at(side: _Side, back: int) -> list[tuple[int, int]]:
    """(key, lots) best first of a side as the delta `back` deltas before the last left it: the
    sizes now, with the sizes remembered at each delta since put back, newest first (a level
    touched several times ends at its size the earliest time after that delta)."""
    sizes = dict(side.sizes)
    for remembered in (side.published, *islice(side.history, back)):
        for key, lots in remembered.items():
            if lots:
                sizes[key] = lots
            else:
                sizes.pop(key, None)
    return sorted(sizes.items())


class _Symbol:
    """State of one simulated symbol: true book, clocks, ticker values and text caches."""

    __slots__ = (
        "asks",
        "bids",
        "book_phase",
        "burst_left",
        "burst_side",
        "cross_seq",
        "funding_rate",
        "high",
        "index_offset",
        "inst",
        "last_direction",
        "last_price",
        "level_lots",
        "low",
        "mid_path",
        "next_ticker_ms",
        "next_trade_ms",
        "open_interest",
        "prev_24h",
        "price_text",
        "published_ticker",
        "qty_text",
        "topic_book",
        "topic_ticker",
        "topic_trade",
        "trade_id_prefix",
        "trade_ids",
        "turnover",
        "update_id",
        "volume",
    )

    def __init__(
        self, inst: Contract, mid_ticks: int, level_lots: int, depth: int, truth_frames: int
    ) -> None:
        self.inst = inst
        self.mid_path: MidPath | None = None
        self.level_lots = level_lots
        self.bids = _Side(truth_frames)
        self.asks = _Side(truth_frames)
        self.update_id = 0
        self.cross_seq = 0
        self.book_phase = 0
        self.next_trade_ms = 0.0
        self.next_ticker_ms = 0
        self.burst_left = 0
        self.burst_side = 1
        self.last_price = mid_ticks
        self.last_direction = "ZeroPlusTick"
        self.prev_24h = mid_ticks
        self.high = mid_ticks
        self.low = mid_ticks
        self.volume = 0
        self.turnover = 0.0
        self.open_interest = 0
        self.funding_rate = 0.0001
        self.index_offset = 0
        self.published_ticker: dict[str, str] = {}
        self.price_text: dict[int, str] = {}
        self.qty_text = _qty_formatter(inst.qty_exponent)
        self.topic_book = f"orderbook.{depth}.{inst.symbol}"
        self.topic_trade = f"publicTrade.{inst.symbol}"
        self.topic_ticker = f"tickers.{inst.symbol}"
        self.trade_id_prefix = ""
        """Bybit's linear trade ids look like UUIDs: a random prefix per symbol + a counter."""
        self.trade_ids = 0

    def price(self, ticks: int) -> str:
        """Wire text of a price in ticks, cached (prices stay near the mid, so most repeat)."""
        text = self.price_text.get(ticks)
        if text is None:
            if len(self.price_text) >= _TEXT_CACHE_SIZE:  # bounded: start over when full
                self.price_text.clear()
            text = self.price_text[ticks] = _decimal(ticks, self.inst.price_decimals)
        return text

    def qty(self, lots: int) -> str:
        """Wire text of a size in lots. Not cached: sizes rarely repeat; "0" deletes a level."""
        return self.qty_text(lots) if lots else "0"


class SyntheticMarket:
    """The simulated market: instruments, true books, and the frame stream (`frames()`)."""

    def __init__(self, config: MarketConfig | None = None) -> None:
        self.config = config = config or MarketConfig()
        self._rng = rng = random.Random(config.seed)
        self._random = rng.random
        # Level sizes are lognormal; drawing from a fixed table is 5x cheaper than lognormvariate.
        self._size_factors = [rng.lognormvariate(0.0, 0.6) for _ in range(_TABLE_SIZE)]
        # Which level a random change hits: 3/4 near the top (exponential, mean index 5), 1/4
        # anywhere. Also a table, drawn once.
        self._level_indices = [
            min(config.depth - 1, int(rng.expovariate(0.2)))
            if rng.random() < 0.75
            else rng.randrange(config.depth)
            for _ in range(_TABLE_SIZE)
        ]
        # Changes a side per delta: 1 + exponential, mean `mean_changes`, at most 20.
        extra = config.mean_changes - 1.0
        self._change_targets = [
            min(_MAX_CHANGES, 1 + (int(rng.expovariate(1.0 / extra)) if extra > 0 else 0))
            for _ in range(_TABLE_SIZE)
        ]
        self._started = False
        width = max(3, len(str(config.symbols - 1)))
        self._states: dict[str, _Symbol] = {}
        for i in range(config.symbols):
            # Price levels spread log-uniformly from ~1e-4 to ~1e5 across symbols.
            log_price = -4.0 + 9.0 * i / max(1, config.symbols - 1) + rng.uniform(-0.1, 0.1)
            price = 10.0 ** min(5.0, max(-4.0, log_price))
            # 10^4 to 10^6 ticks to the price (0.1-1 bp a tick), so deep bids stay above zero.
            decimals = max(0, rng.choice((4, 5)) - math.floor(math.log10(price)))
            qty = 10.0 ** rng.uniform(3.0, 4.5) / price  # one level holds $1k-$30k
            qty_exponent = max(-3, math.floor(math.log10(qty)) - 2)
            inst = Contract(f"SYM{i:0{width}d}USDT", decimals, qty_exponent)
            mid_ticks = round(price * 10**decimals)
            level_lots = max(10, round(qty / 10.0**qty_exponent))
            state = _Symbol(inst, mid_ticks, level_lots, config.depth, config.truth_frames)
            state.book_phase = rng.randrange(config.book_interval_ms)
            state.next_ticker_ms = config.start_ms + rng.randrange(config.ticker_interval_ms)
            state.next_trade_ms = config.start_ms + state.book_phase + 1 + self._burst_gap_ms()
            state.open_interest = level_lots * config.depth * rng.randint(20, 200)
            state.volume = level_lots * rng.randint(1_000, 10_000)
            state.turnover = state.volume * 10.0**qty_exponent * price
            state.prev_24h = round(mid_ticks * rng.uniform(0.9, 1.1))
            state.high = max(state.prev_24h, mid_ticks) + rng.randrange(1, mid_ticks // 50 + 2)
            state.low = min(state.prev_24h, mid_ticks) - rng.randrange(1, mid_ticks // 50 + 2)
            state.update_id = rng.randint(1_000_000, 90_000_000)
            state.cross_seq = rng.randint(10**9, 10**11)
            uid = f"{rng.getrandbits(80):020x}"
            state.trade_id_prefix = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-"
            state.trade_ids = rng.getrandbits(40)
            self._fill_book(state, mid_ticks)
            if config.alpha is not None:
                # its own stream: the market's draws stay those of the same seed without it
                state.mid_path = MidPath(config.alpha, random.Random(f"{config.seed}/{i}/alpha"))
            self._states[inst.symbol] = state

    # -- public view -------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self._states)

    @property
    def instruments(self) -> dict[str, Contract]:
        return {name: state.inst for name, state in self._states.items()}

    def tick_size(self, symbol: str) -> float:
        return float(self._states[symbol].inst.tick_size)

    def true_book(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(bids, asks) best first as (price, size) floats, parsed from the wire strings."""
        state = self._states[symbol]
        bids = [(float(state.price(-k)), float(state.qty(n))) for k, n in state.bids.levels()]
        asks = [(float(state.price(k)), float(state.qty(n))) for k, n in state.asks.levels()]
        return bids, asks

    def book_at(self, symbol: str, update_id: int) -> tuple[list[Level], list[Level]] | None:
        """(bids, asks) best first of the book as the symbol's book frame `update_id` published
        it, from the model's own levels; None unless `update_id` is one of the last
        `truth_frames` frames' (a reader of the frames lags the model). Each level touched since
        (trades take liquidity between frames) is taken at its size then, which
        `_Side.published` and `_Side.history` remember. Prices and sizes are the floats of
        their wire strings: the truth a client's book must equal at `update_id`."""
        state = self._states[symbol]
        back = state.update_id - update_id
        if not 0 <= back <= len(state.bids.history):
            return None
        bids = [(float(state.price(-k)), float(state.qty(n))) for k, n in _at(state.bids, back)]
        asks = [(float(state.price(k)), float(state.qty(n))) for k, n in _at(state.asks, back)]
        return bids, asks

    def last_update_id(self, symbol: str) -> int:
        """`u` of the symbol's last book frame made (it may not be sent yet)."""
        return self._states[symbol].update_id

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(recv_ns, raw frame) for the whole run, in time order across all symbols.

        Time advances in slices of `book_interval_ms`; each symbol's events in a slice are made
        in its own time order, then the slice is merged by `ts` (a stable sort keeps one
        symbol's causal order among equal timestamps). The market moves as it is read, so it
        can be read once.
        """
        if self._started:
            raise RuntimeError("a SyntheticMarket's frames can be read once; make a new market")
        self._started = True
        config = self.config
        random_ = self._random
        interval = config.book_interval_ms
        end_ms = config.start_ms + round(config.seconds * 1000)
        slices = math.ceil((end_ms - config.start_ms) / interval)
        lat_lo = config.latency_us[0] * 1000
        lat_span = (config.latency_us[1] - config.latency_us[0]) * 1000
        last_recv = 0
        by_ts = itemgetter(0)
        for n in range(slices):
            slice_start = config.start_ms + n * interval
            slice_end = min(slice_start + interval, end_ms)
            final = n == slices - 1
            out: list[tuple[int, bytes]] = []
            for state in self._states.values():
                self._slice(state, slice_start, slice_end, n == 0, final, out)
            out.sort(key=by_ts)
            for ts_ms, raw in out:
                recv = ts_ms * _MS_TO_NS + lat_lo + int(random_() * lat_span)
                last_recv = recv if recv > last_recv else last_recv + 1
                yield last_recv, raw

    # -- one symbol, one slice -----------------------------------------------------------------

    def _slice(
        self,
        state: _Symbol,
        start: int,
        end: int,
        first: bool,
        final: bool,
        out: list[tuple[int, bytes]],
    ) -> None:
        book_ts = start + state.book_phase
        has_book = book_ts < end
        trade_end = end
        if final:  # no trade after the last book frame: the stream ends with the true book
            trade_end = book_ts if has_book else start
        # The calls are guarded here: most slices of a symbol hold only its book frame.
        if state.next_trade_ms < book_ts and state.next_trade_ms < trade_end:
            self._trades_until(state, min(book_ts, trade_end), out)
        if has_book:
            if state.next_ticker_ms < book_ts:
                self._tickers_until(state, book_ts, out)
            out.append(self._book_frame(state, book_ts, first))
        if state.next_trade_ms < trade_end:
            self._trades_until(state, trade_end, out)
        if state.next_ticker_ms < end:
            self._tickers_until(state, end, out)

    def _trades_until(self, state: _Symbol, until_ms: int, out: list[tuple[int, bytes]]) -> None:
        """Trade messages due before `until_ms` (with the ticker pushes due before each)."""
        random_ = self._random
        while state.next_trade_ms < until_ms:
            ts_ms = int(state.next_trade_ms)
            self._tickers_until(state, ts_ms, out)
            frame = self._trade_message(state, ts_ms)
            if frame is not None:
                out.append(frame)
            if state.burst_left > 0:  # within a burst, messages follow 0-8 ms apart
                state.burst_left -= 1
                state.next_trade_ms += int(random_() * 9)
                continue
            # A new burst: geometric length with the configured mean, mostly the same side.
            extra = self.config.burst_messages - 1.0
            state.burst_left = int(-math.log(1.0 - random_()) * extra + 0.5)
            if random_() < 0.3:
                state.burst_side = -state.burst_side
            state.next_trade_ms += 1.0 + self._burst_gap_ms()

    def _burst_gap_ms(self) -> float:
        """Quiet time before the next burst: exponential, its mean leaving room for the bursts
        themselves (4 ms a message on average) so that messages come at the configured rate."""
        config = self.config
        cycle_ms = 1000.0 * config.burst_messages / config.trade_messages_per_s
        mean_ms = max(1.0, cycle_ms - 1.0 - 4.0 * (config.burst_messages - 1.0))
        return -math.log(1.0 - self._random()) * mean_ms

    # -- order book ----------------------------------------------------------------------------

    def _level_lots(self, state: _Symbol, index: int) -> int:
        """A new level's size: lognormal around the symbol's level size, growing with depth."""
        base = state.level_lots * (1.0 + 2.0 * index / self.config.depth)
        factor = self._size_factors[int(self._random() * _TABLE_SIZE)]
        return max(3, int(base * factor))

    def _gap(self) -> int:
        return 1 if self._random() < 0.8 else 2

    def _fill_book(self, state: _Symbol, mid_ticks: int) -> None:
        depth = self.config.depth
        for side, first in ((state.asks, mid_ticks + 1), (state.bids, -mid_ticks)):
            key = first
            for i in range(depth):
                side.keys.append(key)
                side.sizes[key] = self._level_lots(state, i)
                key += self._gap()

    def _book_frame(self, state: _Symbol, ts_ms: int, snapshot: bool) -> tuple[int, bytes]:
        random_ = self._random
        if snapshot:
            bids = state.bids.levels()
            asks = state.asks.levels()
            state.bids.changes()
            state.asks.changes()
            kind = "snapshot"
        else:
            bids, asks = self._evolve_book(state, ts_ms)
            state.update_id += 1
            kind = "delta"
        state.cross_seq += 1 + int(random_() * 40)
        # Price cache lookups inline, the method only on a miss: 15% of generation time.
        pt, price, qty = state.price_text, state.price, state.qty_text
        b = ",".join([f'["{pt.get(-k) or price(-k)}","{qty(n) if n else 0}"]' for k, n in bids])
        a = ",".join([f'["{pt.get(k) or price(k)}","{qty(n) if n else 0}"]' for k, n in asks])
        cts = ts_ms - int(random_() * 2)  # >= T of every trade this frame publishes
        raw = (
            f'{{"topic":"{state.topic_book}","type":"{kind}","ts":{ts_ms},'
            f'"data":{{"s":"{state.inst.symbol}","b":[{b}],"a":[{a}],'
            f'"u":{state.update_id},"seq":{state.cross_seq}}},"cts":{cts}}}'
        )
        return ts_ms, raw.encode()

    def _evolve_book(
        self, state: _Symbol, ts_ms: int
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Refill what trades took, keep the spread tight, then random level changes; returns
        the (bid, ask) changes since the last delta.

        Each side's delta stays within 1-20 changes: trades take at most _MAX_TAKEN_LEVELS
        levels (<= 9 touched keys with the refill), and an operation that would touch two
        more keys than the budget allows is replaced by a resize.
        """
        random_ = self._random
        config = self.config
        bids, asks = state.bids, state.asks
        for side in (bids, asks):
            while len(side.keys) < config.depth:
                self._append_worst(state, side)
        if asks.keys[0] + bids.keys[0] > config.max_spread_ticks:
            if random_() < 0.5:
                self._insert_inside(state, bids, asks)
            else:
                self._insert_inside(state, asks, bids)
        targets = self._change_targets
        self._change_levels(state, bids, asks, targets[int(random_() * _TABLE_SIZE)])
        self._change_levels(state, asks, bids, targets[int(random_() * _TABLE_SIZE)])
        if state.mid_path is not None:
            self._pin(state, ts_ms)
        return bids.changes() or bids.bump(), asks.changes() or asks.bump()

    def _pin(self, state: _Symbol, ts_ms: int) -> None:
        """Slide the book by whole ticks to the planted mid path (within half a tick)."""
        mid = (state.asks.keys[0] - state.bids.keys[0]) / 2.0
        offset = math.floor(state.mid_path.target(ts_ms, mid) - mid + 0.5)  # type: ignore[union-attr]
        if offset:
            state.asks.shift(offset)
            state.bids.shift(-offset)

    def _change_levels(self, state: _Symbol, side: _Side, other: _Side, target: int) -> None:
        """Random resizes, deletes and inserts until `target` keys changed.

        The hot loop of generation, written out inline (no helper calls; random draws of level
        indices, targets and sizes from tables), as generation speed bounds `make bench` and the
        simulator's rate.
        """
        random_ = self._random
        depth = self.config.depth
        factors = self._size_factors
        indices = self._level_indices
        lot_base = state.level_lots
        keys, sizes, published = side.keys, side.sizes, side.published
        while len(published) < target:
            index = indices[int(random_() * _TABLE_SIZE)]
            roll = random_()
            if len(published) + 2 > _MAX_CHANGES:
                roll = 0.0  # a delete or insert changes two keys: over budget, resize instead
            if roll >= _DELETE_FROM:
                current = keys[index]
                previous = -other.keys[0] if index == 0 else keys[index - 1]
                if roll < _INSERT_FROM:  # delete a level; a new worst level refills the window
                    if current not in published:
                        published[current] = sizes[current]
                    del sizes[current]
                    del keys[index]
                    key = keys[-1] + (1 if random_() < 0.8 else 2)
                    index = depth - 1
                elif current - previous > 1 and index < depth - 1:
                    # a new level in the free prices before level `index` (at index 0: inside
                    # the spread, never crossing); the worst level leaves the window
                    key = previous + 1 + int(random_() * (current - previous - 1))
                    worst = keys.pop()
                    if worst not in published:
                        published[worst] = sizes[worst]
                    del sizes[worst]
                    keys.insert(index, key)
                else:
                    roll = 0.0  # no free price there: resize instead
            if roll < _DELETE_FROM:
                key = keys[index]
                old = sizes[key]
                if key not in published:
                    published[key] = old
                new = int(old * (0.4 + 1.2 * random_()))
                sizes[key] = new if new > 3 and new != old else old + 1
                continue
            if key not in published:
                published[key] = sizes.get(key, 0)
            sizes[key] = max(
                3,
                int(lot_base * (1.0 + 2.0 * index / depth) * factors[int(random_() * _TABLE_SIZE)]),
            )
            if index == depth - 1:
                keys.append(key)

    def _append_worst(self, state: _Symbol, side: _Side) -> None:
        side.set(side.keys[-1] + self._gap(), self._level_lots(state, len(side.keys)))

    def _insert_inside(self, state: _Symbol, side: _Side, other: _Side) -> None:
        """A new best level one or two ticks from the other side's best (narrows the spread)."""
        low = -other.keys[0] + 1
        high = min(side.keys[0] - 1, low + 1)
        if low <= high:
            side.set(low + int(self._random() * (high - low + 1)), self._level_lots(state, 0))
            side.delete(side.keys[-1])

    # -- trades --------------------------------------------------------------------------------

    def _trade_message(self, state: _Symbol, ts_ms: int) -> tuple[int, bytes] | None:
        """1-10 trades of one taker side against the true book (a Buy takes the best ask).

        None when the best level is too small to fill partly and no level may be taken.
        """
        random_ = self._random
        config = self.config
        side_sign = state.burst_side if random_() < 0.8 else -state.burst_side
        book = state.asks if side_sign > 0 else state.bids
        taker = "Buy" if side_sign > 0 else "Sell"
        count = min(config.max_trades_per_message, 1 + int(-math.log(1.0 - random_()) * 2.0))
        fill_ms = ts_ms - int(random_() * 2)
        symbol = state.inst.symbol
        tick_value = 10.0 ** (state.inst.qty_exponent - state.inst.price_decimals)
        seq = state.cross_seq = state.cross_seq + 1 + int(random_() * 40)
        trade_ids = state.trade_ids
        parts = []
        taken = 0
        for _ in range(count):
            key = book.keys[0]
            level = book.sizes[key]
            if book.taken < _MAX_TAKEN_LEVELS and random_() < config.take_level_probability:
                lots = level
                book.delete(key)
                book.taken += 1
            elif level >= 2:
                lots = 1 + int((level - 2) * random_() * 0.5)
                book.set(key, level - lots)
            else:
                break
            price = key if key > 0 else -key
            last = state.last_price
            if price > last:
                state.last_direction = "PlusTick"
            elif price < last:
                state.last_direction = "MinusTick"
            elif state.last_direction[0] != "Z":
                state.last_direction = "Zero" + state.last_direction
            state.last_price = price
            if price > state.high:
                state.high = price
            elif price < state.low:
                state.low = price
            state.volume += lots
            taken += lots
            state.turnover += lots * price * tick_value
            trade_ids += 1
            parts.append(
                f'{{"T":{fill_ms},"s":"{symbol}","S":"{taker}","v":"{state.qty(lots)}",'
                f'"p":"{state.price(price)}","L":"{state.last_direction}",'
                f'"i":"{state.trade_id_prefix}{trade_ids:012x}",'
                f'"BT":false,"seq":{seq}}}'
            )
        if not parts:
            return None
        if state.mid_path is not None:
            state.mid_path.on_trades(ts_ms, side_sign, taken)
        state.trade_ids = trade_ids
        raw = (
            f'{{"topic":"{state.topic_trade}","type":"snapshot","ts":{ts_ms},'
            f'"data":[{",".join(parts)}]}}'
        )
        return ts_ms, raw.encode()

    # -- tickers -------------------------------------------------------------------------------

    def _tickers_until(self, state: _Symbol, until_ms: int, out: list[tuple[int, bytes]]) -> None:
        """Emit the ticker pushes due before `until_ms`."""
        while state.next_ticker_ms < until_ms:
            out.append(self._ticker_frame(state, state.next_ticker_ms))
            state.next_ticker_ms += self.config.ticker_interval_ms

    def _ticker_frame(self, state: _Symbol, ts_ms: int) -> tuple[int, bytes]:
        """A ticker snapshot first, then deltas with the fields whose text changed."""
        random_ = self._random
        inst = state.inst
        price, qty = state.price, state.qty
        best_bid, best_ask = -state.bids.keys[0], state.asks.keys[0]
        mark = (best_bid + best_ask) // 2
        if random_() < 0.1:
            state.index_offset += 1 if random_() < 0.5 else -1
        if random_() < 0.05:
            state.funding_rate += 0.000001 if random_() < 0.5 else -0.000001
        state.open_interest = max(
            1, state.open_interest + int(random_() * 7 - 3) * state.level_lots
        )
        mark_value = mark * 10.0**-inst.price_decimals
        oi_value = state.open_interest * 10.0**inst.qty_exponent * mark_value
        next_funding = (ts_ms // _FUNDING_INTERVAL_MS + 1) * _FUNDING_INTERVAL_MS
        values = {
            "tickDirection": state.last_direction,
            "price24hPcnt": f"{(state.last_price - state.prev_24h) / state.prev_24h:.6f}",
            "lastPrice": price(state.last_price),
            "prevPrice24h": price(state.prev_24h),
            "highPrice24h": price(state.high),
            "lowPrice24h": price(state.low),
            "markPrice": price(mark),
            "indexPrice": price(max(1, mark + state.index_offset)),
            "openInterest": qty(state.open_interest),
            "openInterestValue": f"{oi_value:.2f}",
            "turnover24h": f"{state.turnover:.4f}",
            "volume24h": qty(state.volume),
            "nextFundingTime": str(next_funding),
            "fundingRate": f"{state.funding_rate:.6f}",
            "bid1Price": price(best_bid),
            "bid1Size": qty(state.bids.sizes[-best_bid]),
            "ask1Price": price(best_ask),
            "ask1Size": qty(state.asks.sizes[best_ask]),
        }
        previous = state.published_ticker
        if previous:
            kind = "delta"
            changed = {k: v for k, v in values.items() if previous[k] != v}
        else:
            kind = "snapshot"
            changed = values
        state.published_ticker = values
        state.cross_seq += 1 + int(random_() * 40)
        fields = "".join([f',"{k}":"{v}"' for k, v in changed.items()])
        raw = (
            f'{{"topic":"{state.topic_ticker}","type":"{kind}",'
            f'"data":{{"symbol":"{inst.symbol}"{fields}}},"cs":{state.cross_seq},"ts":{ts_ms}}}'
        )
        return ts_ms, raw.encode()


def generate_frames(config: MarketConfig | None = None) -> Iterator[tuple[int, bytes]]:
    """(recv_ns, raw frame bytes) of a fresh `SyntheticMarket(config)`, in time order."""
    return SyntheticMarket(config).frames()
