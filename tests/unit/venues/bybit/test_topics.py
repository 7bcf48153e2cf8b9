"""Bybit's topic grammar: the one module that builds and parses topic strings."""

from __future__ import annotations

import pytest

from scalper.venues.bybit.topics import (
    BOOK_DEPTHS,
    LIVE_BOOK_DEPTHS,
    Route,
    book_topic,
    parse_topic,
    symbol_of,
    ticker_topic,
    topic_of_frame,
    topics_for,
    trade_topic,
)


def test_topics_for_gives_book_trades_ticker() -> None:
    assert topics_for("BTCUSDT") == [
        "orderbook.50.BTCUSDT",
        "publicTrade.BTCUSDT",
        "tickers.BTCUSDT",
    ]
    assert topics_for("ETHUSDT", depth=200)[0] == "orderbook.200.ETHUSDT"


@pytest.mark.parametrize("depth", [500, 0, 25])
def test_topics_for_rejects_depths_bybit_does_not_serve(depth: int) -> None:
    with pytest.raises(ValueError, match=f"depth {depth} cannot be subscribed.*1, 50, 200, 1000"):
        topics_for("BTCUSDT", depth=depth)


@pytest.mark.parametrize("symbol", ["", "BTC.USDT", "BTC USDT"])
def test_topics_for_rejects_non_symbols(symbol: str) -> None:
    with pytest.raises(ValueError, match="not a Bybit symbol"):
        topics_for(symbol)


@pytest.mark.parametrize(
    ("topic", "route"),
    [
        ("orderbook.50.BTCUSDT", Route("orderbook", 50, "BTCUSDT")),
        ("orderbook.500.XRPUSDT", Route("orderbook", 500, "XRPUSDT")),  # archives only
        ("publicTrade.ETHUSDT", Route("publicTrade", 0, "ETHUSDT")),
        ("tickers.SOLUSDT", Route("tickers", 0, "SOLUSDT")),
        ("orderbook.7.X", None),  # a depth Bybit never served
        ("orderbook.x.X", None),
        ("orderbook.BTCUSDT", None),
        ("publicTrade.", None),
        ("kline.5.BTCUSDT", None),
        ("", None),
    ],
)
def test_parse_topic(topic: str, route: Route | None) -> None:
    assert parse_topic(topic) == route
    assert parse_topic(topic) == route  # the cached answer is the same


def test_builders_and_parser_agree() -> None:
    for depth in sorted(BOOK_DEPTHS):
        assert parse_topic(book_topic("BTCUSDT", depth)) == Route("orderbook", depth, "BTCUSDT")
    assert parse_topic(trade_topic("A")) == Route("publicTrade", 0, "A")
    assert parse_topic(ticker_topic("A")) == Route("tickers", 0, "A")
    assert symbol_of(book_topic("XRPUSDT", 50)) == "XRPUSDT"
    assert 500 in BOOK_DEPTHS and 500 not in LIVE_BOOK_DEPTHS


def test_topic_of_frame_reads_the_leading_topic(xrp_frames: list[bytes]) -> None:
    assert topic_of_frame(xrp_frames[0]) == "orderbook.500.XRPUSDT"
    assert topic_of_frame(b'{"op":"pong","success":true}') == ""
