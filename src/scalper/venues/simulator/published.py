"""What the simulator has published, per symbol: what it serves to new subscribers and REST.

Every book frame the simulator publishes is applied to its own plain record of the book (price
-> size per side: the simulator never uses the engine's book code, which it is there to test), so
that a snapshot for a new subscriber continues what earlier subscribers were sent. Tickers are
merged (a delta carries only what changed, as on Bybit: /docs/v5/websocket/public/ticker) and
trades kept in bounded rings, with one-minute candles built from them for the kline endpoint.
The truth tests compare clients with is the market model's own book (`SyntheticMarket`), not this
record: a record that drifted from what the model made would then show.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

import msgspec

from scalper.events import Level
from scalper.venues.bybit.wire import BookData, BookFrame

TRADE_RING: Final = 1_000
"""Trades kept per symbol: Bybit's recent-trade serves at most 1,000 (/docs/v5/market/recent-
trade). When full, the oldest trade goes."""
CANDLE_RING: Final = 24 * 60
"""One-minute candles kept per symbol (a day). When full, the oldest candle goes."""
_MINUTE_MS: Final = 60_000


class FrameHead(msgspec.Struct):
    """The outer fields of any frame: enough to route it by topic."""

    topic: str | None = None
    type: str | None = None


class _BookText(msgspec.Struct):
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class _BookTextFrame(msgspec.Struct):
    data: _BookText


class PublishedTrade(msgspec.Struct, omit_defaults=True):
    """One trade as published (/docs/v5/websocket/public/trade)."""

    T: int
    s: str
    S: str
    v: str
    p: str
    i: str = ""
    BT: bool = False
    RPI: bool = False


class TradeFrame(msgspec.Struct):
    topic: str
    data: list[PublishedTrade]


class TickerFrame(msgspec.Struct):
    topic: str
    data: dict[str, Any]
    type: str = "snapshot"
    ts: int = 0
    cs: int | None = None


HEAD_DECODER: Final = msgspec.json.Decoder(FrameHead)
# strict=False parses Bybit's decimal strings ("71419.80") straight into floats, in C.
BOOK_DECODER: Final = msgspec.json.Decoder(BookFrame, strict=False)
"""Book frames as Bybit's decoder reads them (venues/bybit/wire.py)."""
TRADE_DECODER: Final = msgspec.json.Decoder(TradeFrame)
TICKER_DECODER: Final = msgspec.json.Decoder(TickerFrame)
_BOOK_TEXT_DECODER: Final = msgspec.json.Decoder(_BookTextFrame)
_ENCODE: Final = msgspec.json.encode


class PublishedBook:
    """One book topic as published: its levels and `u`, and how its numbers are written.

    Deltas are parsed to floats only (the publisher's hot path). The wire
    text of a level is rebuilt when needed (snapshots for new subscribers, REST) with the
    decimals seen in the last published snapshot: a float parsed from a string of d decimals
    and formatted back with d decimals gives that string again. A number that does not round-
    trip that way (a recording with finer steps than its snapshot) is written with repr().
    """

    __slots__ = (
        "asks",
        "bids",
        "cts_ms",
        "depth",
        "price_decimals",
        "seq",
        "size_decimals",
        "symbol",
        "topic",
        "ts_ms",
        "update_id",
    )

    def __init__(self, topic: str, symbol: str, depth: int) -> None:
        self.topic = topic
        self.symbol = symbol
        self.depth = depth
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.update_id = 0
        self.price_decimals = 0
        self.size_decimals = 0
        self.seq = 0
        self.ts_ms = 0
        self.cts_ms: int | None = None

    @property
    def has_snapshot(self) -> bool:
        return self.ts_ms > 0

    def learn_text(self, raw: bytes) -> None:
        """Take the decimals of prices and sizes from a snapshot's wire text."""
        data = _BOOK_TEXT_DECODER.decode(raw).data
        levels = data.b + data.a
        self.price_decimals = max((_decimals(price) for price, _ in levels), default=0)
        self.size_decimals = max((_decimals(size) for _, size in levels), default=0)

    def apply(self, frame: BookFrame, update_id: int) -> None:
        """Apply a published frame with its published `u` (which a reset may renumber): a
        snapshot replaces the levels, a delta's size 0 deletes a level and any other sets it.
        A level beyond `depth` (a venue that did not delete it) is dropped, worst first."""
        data = frame.data
        if frame.type == "snapshot":
            self.bids.clear()
            self.asks.clear()
        for side, levels in ((self.bids, data.b), (self.asks, data.a)):
            for price, size in levels:
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
        for side, worst in ((self.bids, min), (self.asks, max)):
            while len(side) > self.depth:
                del side[worst(side)]
        self.update_id = update_id
        self.seq = data.seq
        self.ts_ms = frame.ts
        self.cts_ms = frame.cts

    def levels(self) -> tuple[list[Level], list[Level]]:
        """(bids, asks) best first as (price, size) floats."""
        return (
            sorted(self.bids.items(), reverse=True),
            sorted(self.asks.items()),
        )

    def text_levels(self, limit: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(bids, asks) best first, at most `limit` a side, as wire strings."""
        p, s = self.price_decimals, self.size_decimals
        bids, asks = self.levels()
        return (
            [(_text(price, p), _text(size, s)) for price, size in bids[:limit]],
            [(_text(price, p), _text(size, s)) for price, size in asks[:limit]],
        )

    def snapshot_frame(self, kind: str = "snapshot") -> bytes:
        """The whole book as a frame of type `kind` with the current `u` (a snapshot for a new
        subscriber)."""
        bids, asks = self.text_levels(self.depth)
        frame: dict[str, Any] = {
            "topic": self.topic,
            "type": kind,
            "ts": self.ts_ms,
            "data": {"s": self.symbol, "b": bids, "a": asks, "u": self.update_id, "seq": self.seq},
        }
        if self.cts_ms is not None:
            frame["cts"] = self.cts_ms
        return _ENCODE(frame)

    def restart(self, as_delta: bool = False) -> bytes:
        """A service restart: the current book with `u` = 1, as a snapshot or as a delta
        carrying every level (Bybit: a message with `u` = 1, whatever its type, replaces the
        book; /docs/v5/websocket/public/orderbook)."""
        bids, asks = self.levels()
        data = BookData(self.symbol, bids, asks, 1, self.seq)
        self.apply(BookFrame(self.topic, "snapshot", self.ts_ms, data, self.cts_ms), 1)
        return self.snapshot_frame("delta" if as_delta else "snapshot")


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def _text(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text if float(text) == value else repr(value)


class PublishedTicker:
    """The merged ticker values of one symbol, as published."""

    __slots__ = ("cs", "topic", "ts_ms", "values")

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.values: dict[str, Any] = {}
        self.cs: int | None = None
        self.ts_ms = 0

    def apply(self, frame: TickerFrame) -> None:
        if frame.type == "snapshot":
            self.values = frame.data
        else:
            self.values.update(frame.data)
        self.ts_ms = frame.ts
        self.cs = frame.cs

    def snapshot_frame(self) -> bytes:
        frame: dict[str, Any] = {"topic": self.topic, "type": "snapshot", "data": self.values}
        if self.cs is not None:
            frame["cs"] = self.cs
        frame["ts"] = self.ts_ms
        return _ENCODE(frame)


class Kline:
    """One candle; prices keep their wire text, volume and turnover are sums."""

    __slots__ = (
        "close",
        "high",
        "high_f",
        "low",
        "low_f",
        "open",
        "start_ms",
        "turnover",
        "volume",
    )

    def __init__(self, start_ms: int, price: str, price_f: float) -> None:
        self.start_ms = start_ms
        self.open = self.high = self.low = self.close = price
        self.high_f = self.low_f = price_f
        self.volume = 0.0
        self.turnover = 0.0

    def add(self, price: str, price_f: float, size: float) -> None:
        if price_f > self.high_f:
            self.high, self.high_f = price, price_f
        if price_f < self.low_f:
            self.low, self.low_f = price, price_f
        self.close = price
        self.volume += size
        self.turnover += size * price_f

    def merge(self, later: Kline) -> None:
        """Extend this candle by a later one (aggregating minutes into longer intervals)."""
        if later.high_f > self.high_f:
            self.high, self.high_f = later.high, later.high_f
        if later.low_f < self.low_f:
            self.low, self.low_f = later.low, later.low_f
        self.close = later.close
        self.volume += later.volume
        self.turnover += later.turnover

    def row(self) -> list[str]:
        """Bybit's kline row: start, open, high, low, close, volume, turnover (/docs/v5/market/
        kline)."""
        return [
            str(self.start_ms),
            self.open,
            self.high,
            self.low,
            self.close,
            _number(self.volume),
            _number(self.turnover),
        ]


def _number(value: float) -> str:
    text = f"{value:.8f}".rstrip("0")
    return text.rstrip(".") if text.endswith(".") else text


class TradeTape:
    """Recent trades of one symbol and the one-minute candles built from them."""

    __slots__ = ("candles", "trades")

    def __init__(self) -> None:
        self.trades: deque[PublishedTrade] = deque(maxlen=TRADE_RING)
        self.candles: deque[Kline] = deque(maxlen=CANDLE_RING)

    def apply(self, rows: list[PublishedTrade]) -> None:
        self.trades.extend(rows)
        candles = self.candles
        for row in rows:
            price_f = float(row.p)
            minute = row.T - row.T % _MINUTE_MS
            if not candles or candles[-1].start_ms < minute:
                if candles:  # minutes without trades: flat candles at the last close
                    last = candles[-1]
                    for start in range(last.start_ms + _MINUTE_MS, minute, _MINUTE_MS)[
                        -CANDLE_RING:
                    ]:
                        candles.append(Kline(start, last.close, float(last.close)))
                candles.append(Kline(minute, row.p, price_f))
            candles[-1].add(row.p, price_f, float(row.v))

    def klines(self, minutes: int, limit: int, start_ms: int, end_ms: int) -> list[list[str]]:
        """Candles of `minutes` (a divisor of an hour or 60), newest first."""
        span = minutes * _MINUTE_MS
        merged: list[Kline] = []
        for minute in self.candles:
            if not start_ms <= minute.start_ms <= end_ms:
                continue
            start = minute.start_ms - minute.start_ms % span
            if merged and merged[-1].start_ms == start:
                merged[-1].merge(minute)
            else:
                candle = Kline(start, minute.open, float(minute.open))
                candle.merge(minute)
                merged.append(candle)
        return [candle.row() for candle in reversed(merged[-limit:])]


class PublishedMarket:
    """What was published of every symbol: books by topic, tickers and trade tapes by symbol."""

    def __init__(self) -> None:
        self.books: dict[str, PublishedBook] = {}
        self.books_by_symbol: dict[str, PublishedBook] = {}
        """The first book topic published for each symbol (sources publish one depth)."""
        self.tickers: dict[str, PublishedTicker] = {}
        self.tapes: dict[str, TradeTape] = {}

    def book(self, topic: str, symbol: str, depth: int) -> PublishedBook:
        book = self.books.get(topic)
        if book is None:
            book = self.books[topic] = PublishedBook(topic, symbol, depth)
            self.books_by_symbol.setdefault(symbol, book)
        return book

    def ticker(self, topic: str, symbol: str) -> PublishedTicker:
        ticker = self.tickers.get(symbol)
        if ticker is None:
            ticker = self.tickers[symbol] = PublishedTicker(topic)
        return ticker

    def tape(self, symbol: str) -> TradeTape:
        tape = self.tapes.get(symbol)
        if tape is None:
            tape = self.tapes[symbol] = TradeTape()
        return tape

    def symbols(self) -> list[str]:
        """Every symbol published so far, sorted."""
        return sorted({*self.books_by_symbol, *self.tickers, *self.tapes})

    def snapshot(self, topic: str) -> bytes | None:
        """What a new subscriber of `topic` gets first: the book or ticker as published (None
        before the first frame of the topic, which is then a snapshot itself)."""
        book = self.books.get(topic)
        if book is not None:
            return book.snapshot_frame() if book.has_snapshot else None
        if topic.startswith("tickers."):
            ticker = self.tickers.get(topic.partition(".")[2])
            if ticker is not None and ticker.values:
                return ticker.snapshot_frame()
        return None
