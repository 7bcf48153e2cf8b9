"""Bybit v5 public topic strings: the one place that builds and parses them.

`orderbook.{depth}.{symbol}`, `publicTrade.{symbol}` and `tickers.{symbol}`
(/docs/v5/websocket/public/orderbook, /trade, /ticker). Nothing outside `venues/bybit/` (and the
simulator that imitates Bybit) sees a topic: the engine speaks symbols and depths.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

BOOK: Final = "orderbook"
TRADE: Final = "publicTrade"
TICKER: Final = "tickers"

BOOK_DEPTHS: Final = frozenset({1, 50, 200, 500, 1000})
"""Order-book depths we decode. 1/50/200/1000 are live (/docs/v5/websocket/public/orderbook);
500 was retired in 2025 but Bybit's historical archives still hold it."""
LIVE_BOOK_DEPTHS: Final = BOOK_DEPTHS - {500}
"""Depths we may subscribe to. 500 was retired in 2025 (mainnet answers "handler not found"),
though wire.py still decodes it from historical archives (/docs/v5/websocket/public/orderbook)."""

_ROUTE_CACHE_LIMIT: Final = 65_536
_ASCII_DIGITS: Final = re.compile(r"[0-9]{1,6}\Z")
_SYMBOL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
_FRAME_PREFIX: Final = b'{"topic":"'
"""Bybit writes `topic` first in every market-data frame."""


class Route(NamedTuple):
    """A topic taken apart: its channel, book depth (0 for other channels) and symbol."""

    channel: str
    depth: int
    symbol: str


def book_topic(symbol: str, depth: int) -> str:
    return f"{BOOK}.{depth}.{symbol}"


def trade_topic(symbol: str) -> str:
    return f"{TRADE}.{symbol}"


def ticker_topic(symbol: str) -> str:
    return f"{TICKER}.{symbol}"


def topics_for(symbol: str, depth: int = 50) -> list[str]:
    """The three topics we stream per symbol: order book, public trades, ticker."""
    if depth not in LIVE_BOOK_DEPTHS:
        live = ", ".join(str(d) for d in sorted(LIVE_BOOK_DEPTHS))
        raise ValueError(f"order-book depth {depth} cannot be subscribed; Bybit serves {live}")
    if _SYMBOL.fullmatch(symbol) is None:
        raise ValueError(f"not a Bybit symbol: {symbol!r}")
    return [book_topic(symbol, depth), trade_topic(symbol), ticker_topic(symbol)]


_route_cache: dict[str, Route | None] = {}
cached_route: Final = _route_cache.get
"""The route of a topic seen before, without a parse (None otherwise): the decoder's fast path
tries this first, then `parse_topic`."""


def parse_topic(topic: str) -> Route | None:
    """Take a topic apart; None for a topic we do not decode (unknown channel or depth).

    Cached: the same few hundred topics arrive thousands of times a second."""
    route = _route_cache.get(topic)
    if route is not None or topic in _route_cache:
        return route
    route = _parse_uncached(topic)
    if len(_route_cache) >= _ROUTE_CACHE_LIMIT:  # bounded: unknown topics could be endless
        _route_cache.clear()
    _route_cache[topic] = route
    return route


def _parse_uncached(topic: str) -> Route | None:
    parts = topic.split(".")
    if len(parts) == 3 and parts[0] == BOOK and _ASCII_DIGITS.match(parts[1]) and parts[2]:
        depth = int(parts[1])
        return Route(BOOK, depth, parts[2]) if depth in BOOK_DEPTHS else None
    if len(parts) == 2 and parts[0] in (TRADE, TICKER) and parts[1]:
        return Route(parts[0], 0, parts[1])
    return None


def symbol_of(topic: str) -> str:
    """The symbol a topic is about (its last part)."""
    return topic.rsplit(".", 1)[-1]


def topic_of_frame(raw: bytes) -> str:
    """The topic of a market-data frame without decoding it ("" for a control reply)."""
    if not raw.startswith(_FRAME_PREFIX):
        return ""
    return raw[10 : raw.find(b'"', 10)].decode()
