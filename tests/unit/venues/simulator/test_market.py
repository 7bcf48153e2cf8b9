"""venues.simulator.market: a deterministic synthetic market whose frames decode and stay
consistent (books in sync and equal to the true book, trades against the book)."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from scalper.book import ApplyResult, OrderBook
from scalper.events import BUY, SELL, BookUpdate, TickerUpdate, TradeBatch
from scalper.venues.bybit.wire import decode_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket, generate_frames

CONFIG = MarketConfig(symbols=5, seconds=5.0, seed=7)
MS = 1_000_000


@pytest.fixture(scope="module")
def run() -> tuple[SyntheticMarket, list[tuple[int, bytes]]]:
    market = SyntheticMarket(CONFIG)
    return market, list(market.frames())


def channel(raw: bytes) -> str:
    return msgspec.json.decode(raw)["topic"].split(".")[0]


def test_same_config_gives_the_same_bytes(run):
    _, frames = run
    assert list(generate_frames(CONFIG)) == frames


def test_another_seed_gives_other_bytes(run):
    _, frames = run
    other = MarketConfig(symbols=5, seconds=5.0, seed=8)
    assert list(generate_frames(other))[:100] != frames[:100]


def test_every_frame_decodes_to_a_market_event(run):
    _, frames = run
    for recv_ns, raw in frames:
        event = decode_frame(raw, recv_ns)
        assert isinstance(event, BookUpdate | TradeBatch | TickerUpdate), (event, raw[:200])


def test_frames_are_in_time_order_with_a_small_latency(run):
    _, frames = run
    previous = 0
    for recv_ns, raw in frames:
        ts_ms = msgspec.json.decode(raw)["ts"]
        assert recv_ns > previous
        assert 0 < recv_ns - ts_ms * MS < 50 * MS
        previous = recv_ns


def test_frame_mix_is_two_thirds_books_a_quarter_trades(run):
    _, frames = run
    counts = Counter(channel(raw) for _, raw in frames)
    total = len(frames)
    assert 0.6 < counts["orderbook"] / total < 0.72
    assert 0.19 < counts["publicTrade"] / total < 0.31
    assert 0.05 < counts["tickers"] / total < 0.13
    # 50 book frames a second per symbol (orderbook.50 pushes every 20 ms)
    assert counts["orderbook"] == CONFIG.symbols * CONFIG.seconds * 50


def test_book_frames_keep_bybit_shape_and_update_ids(run):
    _, frames = run
    last_u: dict[str, int] = {}
    for _, raw in frames:
        frame = msgspec.json.decode(raw)
        if not frame["topic"].startswith("orderbook."):
            continue
        data = frame["data"]
        symbol = data["s"]
        assert frame["topic"] == f"orderbook.50.{symbol}"
        assert frame["cts"] <= frame["ts"]
        if symbol not in last_u:
            assert frame["type"] == "snapshot"
            assert len(data["b"]) == len(data["a"]) == 50
        else:
            assert frame["type"] == "delta"
            assert data["u"] == last_u[symbol] + 1
            for side in (data["b"], data["a"]):
                assert 1 <= len(side) <= 20
                assert len({price for price, _ in side}) == len(side)
        last_u[symbol] = data["u"]
    assert len(last_u) == CONFIG.symbols


def test_replayed_books_stay_in_sync_and_end_equal_to_the_true_book(run):
    market, frames = run
    books = {symbol: OrderBook(symbol, 50) for symbol in market.symbols}
    deletes_out_of_window = 0
    for recv_ns, raw in frames:
        event = decode_frame(raw, recv_ns)
        if not isinstance(event, BookUpdate):
            continue
        book = books[event.symbol]
        worst_bid = book.bids.top(len(book.bids))[-1][0] if len(book.bids) else None
        result = book.apply(event)
        assert result in (ApplyResult.SNAPSHOT, ApplyResult.APPLIED), book.out_of_sync_reason
        assert len(book.bids) == len(book.asks) == 50
        assert book.trimmed_levels == 0  # the venue deletes what leaves the window itself
        if worst_bid is not None and any(p == worst_bid and s == 0.0 for p, s in event.bids):
            deletes_out_of_window += 1
    assert deletes_out_of_window > 0
    for symbol, book in books.items():
        bids, asks = market.true_book(symbol)
        assert book.bids.top(50) == bids
        assert book.asks.top(50) == asks


def test_trades_execute_against_the_book(run):
    market, frames = run
    books = {symbol: OrderBook(symbol, 50) for symbol in market.symbols}
    ids: set[str] = set()
    trades = 0
    for recv_ns, raw in frames:
        event = decode_frame(raw, recv_ns)
        if isinstance(event, BookUpdate):
            books[event.symbol].apply(event)
            continue
        if not isinstance(event, TradeBatch):
            continue
        assert 1 <= len(event.trades) <= 10
        book = books[event.symbol]
        best_bid, best_ask = book.best_bid(), book.best_ask()
        assert best_bid is not None and best_ask is not None
        previous = None
        for trade in event.trades:
            trades += 1
            assert trade.trade_id not in ids
            ids.add(trade.trade_id)
            assert trade.ts_event_ns <= event.recv_ns
            assert trade.size > 0
            if trade.side == BUY:  # a buyer lifts the ask, walking up the book
                assert trade.price >= best_ask[0]
                assert previous is None or trade.price >= previous
            else:
                assert trade.side == SELL
                assert trade.price <= best_bid[0]
                assert previous is None or trade.price <= previous
            previous = trade.price
    assert trades > len(market.symbols) * 100


def test_trade_frames_have_the_bybit_fields(run):
    _, frames = run
    sides = Counter()
    directions = Counter()
    for _, raw in frames:
        frame = msgspec.json.decode(raw)
        if not frame["topic"].startswith("publicTrade."):
            continue
        assert frame["type"] == "snapshot"
        for trade in frame["data"]:
            assert set(trade) == {"T", "s", "S", "v", "p", "L", "i", "BT", "seq"}
            assert trade["T"] <= frame["ts"]
            assert trade["BT"] is False
            sides[trade["S"]] += 1
            directions[trade["L"]] += 1
    assert set(sides) == {"Buy", "Sell"}
    assert set(directions) <= {"PlusTick", "ZeroPlusTick", "MinusTick", "ZeroMinusTick"}


def test_tickers_start_with_a_snapshot_then_carry_only_changed_fields(run):
    _, frames = run
    merged: dict[str, dict[str, str]] = {}
    for _, raw in frames:
        frame = msgspec.json.decode(raw)
        if not frame["topic"].startswith("tickers."):
            continue
        data = frame["data"]
        symbol = data.pop("symbol")
        if symbol not in merged:
            assert frame["type"] == "snapshot"
            assert {"lastPrice", "markPrice", "bid1Price", "ask1Price", "fundingRate"} <= set(data)
            merged[symbol] = data
            continue
        assert frame["type"] == "delta"
        for name, value in data.items():
            assert merged[symbol][name] != value, f"{name} did not change"
        merged[symbol].update(data)
        assert float(merged[symbol]["bid1Price"]) < float(merged[symbol]["ask1Price"])


def test_prices_and_sizes_use_each_instruments_precision(run):
    market, frames = run
    instruments = market.instruments
    for _, raw in frames[:2000]:
        frame = msgspec.json.decode(raw)
        if not frame["topic"].startswith("orderbook."):
            continue
        inst = instruments[frame["data"]["s"]]
        for price, size in frame["data"]["b"] + frame["data"]["a"]:
            decimals = len(price.partition(".")[2])
            assert decimals == inst.price_decimals
            assert size == "0" or float(size) / float(inst.qty_step) == pytest.approx(
                round(float(size) / float(inst.qty_step))
            )


def test_symbols_span_prices_from_tiny_to_huge():
    market = SyntheticMarket(MarketConfig(symbols=300, seconds=1.0))
    assert len(market.symbols) == 300
    mids = [market.true_book(symbol)[1][0][0] for symbol in market.symbols]
    assert min(mids) < 0.001
    assert max(mids) > 10_000
    assert len({market.tick_size(symbol) for symbol in market.symbols}) > 5


def test_deeper_books_stay_consistent():
    config = MarketConfig(symbols=2, seconds=2.0, depth=200, seed=3)
    market = SyntheticMarket(config)
    books = {symbol: OrderBook(symbol, 200) for symbol in market.symbols}
    for recv_ns, raw in market.frames():
        event = decode_frame(raw, recv_ns)
        if isinstance(event, BookUpdate):
            assert books[event.symbol].apply(event) in (ApplyResult.SNAPSHOT, ApplyResult.APPLIED)
    for symbol, book in books.items():
        assert book.bids.top(200) == market.true_book(symbol)[0]
        assert book.asks.top(200) == market.true_book(symbol)[1]


def test_book_event_time_is_not_before_the_trades_it_publishes(run):
    _, frames = run
    last_trade_ms: dict[str, int] = {}
    for _, raw in frames:
        frame = msgspec.json.decode(raw)
        if frame["topic"].startswith("publicTrade."):
            last_trade_ms[frame["data"][0]["s"]] = max(t["T"] for t in frame["data"])
        elif frame["topic"].startswith("orderbook."):
            assert frame["cts"] >= last_trade_ms.get(frame["data"]["s"], 0)


def test_a_market_is_read_once():
    market = SyntheticMarket(MarketConfig(symbols=1, seconds=0.1))
    assert list(market.frames())
    with pytest.raises(RuntimeError, match="read once"):
        next(market.frames())


@pytest.mark.parametrize(
    "bad",
    [
        {"symbols": 0},
        {"seconds": 0.0},
        {"depth": 5},
        {"mean_changes": 0.5},
        {"burst_messages": 0.5},
    ],
)
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        MarketConfig(**bad)


def test_the_models_book_at_a_frame_is_what_the_frame_published() -> None:
    """`book_at(symbol, u)`, the truth the simulator's tests use, equals the book that the
    frames up to `u` build in a plain dict (no engine code), also while the model runs a frame
    ahead of its reader (it generates a time slice of every symbol at once); a `u` further back
    than its `truth_frames` gives None."""
    market = SyntheticMarket(MarketConfig(symbols=3, seconds=3.0, seed=5, truth_frames=2))
    books: dict[str, tuple[int, dict[float, float], dict[float, float]]] = {}
    checked = ahead = 0
    for _, raw in market.frames():
        frame = msgspec.json.decode(raw)
        if frame["topic"].startswith("orderbook."):
            data = frame["data"]
            _, bids, asks = books.get(data["s"], (0, {}, {}))
            if frame["type"] == "snapshot":
                bids, asks = {}, {}
            for side, levels in ((bids, data["b"]), (asks, data["a"])):
                for price, size in levels:
                    if float(size):
                        side[float(price)] = float(size)
                    else:
                        side.pop(float(price), None)
            books[data["s"]] = (data["u"], bids, asks)
        for symbol, (update_id, bids, asks) in books.items():
            truth = market.book_at(symbol, update_id)
            assert truth == (sorted(bids.items(), reverse=True), sorted(asks.items())), update_id
            ahead += market.last_update_id(symbol) == update_id + 1
            assert market.book_at(symbol, market.last_update_id(symbol) - 3) is None
            checked += 1
    assert checked > 1000 and ahead > 100  # the model was a frame ahead at times, still right


def test_the_model_remembers_its_books_truth_frames_back() -> None:
    """A reader far behind the model (a busy machine) still gets the truth at its `u`, up to
    `truth_frames` frames back."""
    market = SyntheticMarket(MarketConfig(symbols=2, seconds=2.0, seed=6, truth_frames=8))
    symbol = market.symbols[0]
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    published: dict[int, tuple[list, list]] = {}
    for _, raw in market.frames():
        frame = msgspec.json.decode(raw)
        if frame["topic"] != f"orderbook.50.{symbol}":
            continue
        for side, levels in ((bids, frame["data"]["b"]), (asks, frame["data"]["a"])):
            for price, size in levels:
                if float(size):
                    side[float(price)] = float(size)
                else:
                    side.pop(float(price), None)
        published[frame["data"]["u"]] = (sorted(bids.items(), reverse=True), sorted(asks.items()))
    last = market.last_update_id(symbol)
    for back in range(9):
        assert market.book_at(symbol, last - back) == published[last - back], back
    assert market.book_at(symbol, last - 9) is None
