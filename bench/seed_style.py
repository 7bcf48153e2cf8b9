"""The reference the benchmark compares against: what the replaced Node.js system did per frame,
written as a competent, straightforward Python program.

- `json.loads` of every frame;
- per symbol a dict per book side keyed by the price *string*, sizes as floats; a snapshot
  replaces the dicts, a delta applies level by level ("0" deletes);
- after every book update: the imbalance of the whole book (a full sum over both sides), the
  imbalance of the top 10 levels (sorting the dict keys by price to find them), best bid and ask;
- trades appended to a per-symbol list and summed into buy/sell volumes;
- ticker fields merged into a dict per symbol.

Differences from the Node.js original, on purpose: the per-symbol trade list keeps the last
`RECENT_TRADES` trades like the engine (the original grew without bound), so that peak memory
compares like with like.
"""

from __future__ import annotations

import json
from typing import Any, Final

RECENT_TRADES: Final = 200
TOP_LEVELS: Final = 10


class SeedBook:
    """One symbol's book and the metrics recomputed on every update."""

    __slots__ = (
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "imbalance",
        "imbalance_top",
        "update_id",
    )

    def __init__(self) -> None:
        self.bids: dict[str, float] = {}
        self.asks: dict[str, float] = {}
        self.update_id = 0
        self.imbalance = 0.5
        self.imbalance_top = 0.5
        self.best_bid: float | None = None
        self.best_ask: float | None = None

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "snapshot":
            self.bids = {price: float(size) for price, size in data["b"]}
            self.asks = {price: float(size) for price, size in data["a"]}
        else:
            for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
                for price, size in levels:
                    if size == "0":
                        side.pop(price, None)
                    else:
                        side[price] = float(size)
        self.update_id = data["u"]
        self._recompute()

    def _recompute(self) -> None:
        bids, asks = self.bids, self.asks
        self.imbalance = _ratio(sum(bids.values()), sum(asks.values()))
        top_bids = sorted(bids, key=float, reverse=True)[:TOP_LEVELS]
        top_asks = sorted(asks, key=float)[:TOP_LEVELS]
        self.imbalance_top = _ratio(sum(bids[p] for p in top_bids), sum(asks[p] for p in top_asks))
        self.best_bid = float(top_bids[0]) if top_bids else None
        self.best_ask = float(top_asks[0]) if top_asks else None


def _ratio(bid: float, ask: float) -> float:
    total = bid + ask
    return bid / total if total > 0.0 else 0.5


class SeedStyleEngine:
    """Books, trades and tickers per symbol, fed with raw frames like the engine."""

    def __init__(self) -> None:
        self.books: dict[str, SeedBook] = {}
        self.trades: dict[str, list[dict[str, Any]]] = {}
        self.buy_volume: dict[str, float] = {}
        self.sell_volume: dict[str, float] = {}
        self.tickers: dict[str, dict[str, Any]] = {}
        self.frames = 0

    def on_frame(self, raw: bytes, recv_ns: int) -> None:
        message = json.loads(raw)
        self.frames += 1
        topic = message.get("topic")
        if topic is None:
            return
        channel, _, rest = topic.partition(".")
        if channel == "orderbook":
            symbol = rest.partition(".")[2]
            book = self.books.get(symbol)
            if book is None:
                book = self.books[symbol] = SeedBook()
            book.apply(message["type"], message["data"])
        elif channel == "publicTrade":
            self._on_trades(rest, message["data"])
        elif channel == "tickers":
            ticker = self.tickers.setdefault(rest, {})
            ticker.update(message["data"])

    def _on_trades(self, symbol: str, trades: list[dict[str, Any]]) -> None:
        recent = self.trades.get(symbol)
        if recent is None:
            recent = self.trades[symbol] = []
            self.buy_volume[symbol] = 0.0
            self.sell_volume[symbol] = 0.0
        for trade in trades:
            size = float(trade["v"])
            trade["price"] = float(trade["p"])
            trade["size"] = size
            if trade["S"] == "Buy":
                self.buy_volume[symbol] += size
            else:
                self.sell_volume[symbol] += size
            recent.append(trade)
        if len(recent) > 2 * RECENT_TRADES:
            del recent[:-RECENT_TRADES]
