"""The simulator's REST side: Bybit v5 public market endpoints over what has been published.

Envelope `{"retCode":0,"retMsg":"OK","result":{…},"retExtInfo":{},"time":…}` with HTTP 200 even
for errors, as on Bybit; a bad parameter or unknown symbol gives retCode 10001. Endpoints and
limits (/docs/v5/market/*):

- instruments-info: linear pages with `limit` (1-1000, default 500) and `cursor` ->
  `nextPageCursor` (empty on the last page); spot has no pagination.
- tickers (all symbols, or one), orderbook (`limit`: linear 1-500 default 25, spot 1-200
  default 1), recent-trade (linear 1-1000 default 500, spot 1-60 default 60), kline
  (1/3/5/15/60 minutes, `limit` 1-1000 default 200, newest first, built from published trades),
  time (the server clock).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scalper.venues.bybit.limits import INSTRUMENTS_PAGE_LIMIT
from scalper.venues.simulator.published import PublishedMarket
from scalper.venues.simulator.source import Catalog

PARAMS_ERROR: Final = 10001
CATEGORIES: Final = ("linear", "spot")
KLINE_MINUTES: Final = frozenset({1, 3, 5, 15, 60})
_LINEAR_TICKER_FIELDS: Final = (
    *("lastPrice", "indexPrice", "markPrice", "prevPrice24h", "price24hPcnt", "highPrice24h"),
    *("lowPrice24h", "prevPrice1h", "openInterest", "openInterestValue", "turnover24h"),
    *("volume24h", "fundingRate", "nextFundingTime", "predictedDeliveryPrice", "basisRate"),
    *("deliveryFeeRate", "deliveryTime", "ask1Size", "bid1Price", "ask1Price", "bid1Size"),
    "basis",
)
"""Fields of a linear ticker row (/docs/v5/market/tickers), in the venue's order."""
_SPOT_TICKER_FIELDS: Final = (
    *("bid1Price", "bid1Size", "ask1Price", "ask1Size", "lastPrice", "prevPrice24h"),
    *("price24hPcnt", "highPrice24h", "lowPrice24h", "turnover24h", "volume24h"),
    "usdIndexPrice",
)
# (default, maximum) of `limit` per endpoint and category.
_BOOK_LIMITS: Final = {"linear": (25, 500), "spot": (1, 200)}
_TRADE_LIMITS: Final = {"linear": (500, 1000), "spot": (60, 60)}
_KLINE_LIMITS: Final = (200, 1000)


class ParamsError(Exception):
    """A request Bybit would answer with retCode 10001; the message becomes retMsg."""


def _envelope(result: dict[str, Any], code: int = 0, message: str = "OK") -> Response:
    body = {
        "retCode": code,
        "retMsg": message,
        "result": result,
        "retExtInfo": {},
        "time": time.time_ns() // 1_000_000,
    }
    return Response(msgspec.json.encode(body), media_type="application/json")


def _limit(request: Request, default: int, maximum: int) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return default
    if not text.isdecimal() or not 1 <= int(text) <= maximum:
        raise ParamsError(f"params error: limit must be an integer in [1, {maximum}]")
    return int(text)


def _category(request: Request, default: str | None = None) -> str:
    category = request.query_params.get("category", default)
    if category not in CATEGORIES:
        raise ParamsError("Illegal category")
    return category


class MarketEndpoints:
    """The handlers, reading the catalog and the published record (never changing them)."""

    def __init__(self, catalog: Catalog, published: PublishedMarket) -> None:
        self.catalog = catalog
        self.published = published
        self.now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
        """The server clock /v5/market/time reports (the private API's, when it has one)."""

    def app(self) -> Starlette:
        handlers: dict[str, Callable[[Request], dict[str, Any]]] = {
            "/v5/market/instruments-info": self.instruments,
            "/v5/market/tickers": self.tickers,
            "/v5/market/orderbook": self.orderbook,
            "/v5/market/recent-trade": self.recent_trades,
            "/v5/market/kline": self.klines,
            "/v5/market/time": self.server_time,
        }
        return Starlette(routes=[Route(path, _endpoint(h)) for path, h in handlers.items()])

    def _symbols(self) -> list[str]:
        if self.catalog.instruments is not None:
            return list(self.catalog.instruments)
        return self.published.symbols()

    def _symbol(self, request: Request) -> str:
        symbol = request.query_params.get("symbol")
        if not symbol:
            raise ParamsError("params error: symbol is required")
        if symbol not in self._symbols():
            raise ParamsError("Not supported symbols")
        return symbol

    # -- endpoints ------------------------------------------------------------------------------

    def server_time(self, request: Request) -> dict[str, Any]:
        now_ms = self.now_ms()
        return {"timeSecond": str(now_ms // 1000), "timeNano": str(now_ms * 1_000_000)}

    def instruments(self, request: Request) -> dict[str, Any]:
        category = _category(request)
        symbols = self._symbols()
        wanted = request.query_params.get("symbol")
        if wanted is not None:
            symbols = [symbol for symbol in symbols if symbol == wanted]
        cursor = ""
        if category == "linear":
            limit = _limit(request, *INSTRUMENTS_PAGE_LIMIT)
            start = _decode_cursor(request.query_params.get("cursor"), symbols)
            if start + limit < len(symbols):
                cursor = _encode_cursor(symbols[start + limit])
            symbols = symbols[start : start + limit]
        rows = [self._instrument(category, symbol) for symbol in symbols]
        return {"category": category, "list": rows, "nextPageCursor": cursor}

    def tickers(self, request: Request) -> dict[str, Any]:
        category = _category(request)
        symbols = [self._symbol(request)] if "symbol" in request.query_params else self._symbols()
        fields = _LINEAR_TICKER_FIELDS if category == "linear" else _SPOT_TICKER_FIELDS
        rows = []
        for symbol in symbols:
            ticker = self.published.tickers.get(symbol)
            values = ticker.values if ticker is not None else {}
            row = {"symbol": symbol}
            row.update({name: str(values.get(name, "")) for name in fields})
            rows.append(row)
        return {"category": category, "list": rows}

    def orderbook(self, request: Request) -> dict[str, Any]:
        category = _category(request)
        symbol = self._symbol(request)
        limit = _limit(request, *_BOOK_LIMITS[category])
        book = self.published.books_by_symbol.get(symbol)
        if book is None:
            return {"s": symbol, "b": [], "a": [], "ts": 0, "u": 0, "seq": 0, "cts": 0}
        bids, asks = book.text_levels(limit)
        return {
            "s": symbol,
            "b": bids,
            "a": asks,
            "ts": book.ts_ms,
            "u": book.update_id,
            "seq": book.seq,
            "cts": book.cts_ms if book.cts_ms is not None else book.ts_ms,
        }

    def recent_trades(self, request: Request) -> dict[str, Any]:
        category = _category(request)
        symbol = self._symbol(request)
        limit = _limit(request, *_TRADE_LIMITS[category])
        tape = self.published.tapes.get(symbol)
        trades = list(tape.trades)[-limit:] if tape is not None else []
        rows = [
            {
                "execId": trade.i,
                "symbol": trade.s,
                "price": trade.p,
                "size": trade.v,
                "side": trade.S,
                "time": str(trade.T),
                "isBlockTrade": trade.BT,
                "isRPITrade": trade.RPI,
            }
            for trade in reversed(trades)
        ]
        return {"category": category, "list": rows}

    def klines(self, request: Request) -> dict[str, Any]:
        category = _category(request, "linear")
        symbol = self._symbol(request)
        interval = request.query_params.get("interval", "")
        if not interval.isdecimal() or int(interval) not in KLINE_MINUTES:
            raise ParamsError(f"params error: interval must be one of {sorted(KLINE_MINUTES)}")
        limit = _limit(request, *_KLINE_LIMITS)
        start = _time_param(request, "start", 0)
        end = _time_param(request, "end", 2**62)
        tape = self.published.tapes.get(symbol)
        rows = tape.klines(int(interval), limit, start, end) if tape is not None else []
        return {"category": category, "symbol": symbol, "list": rows}

    # -- instruments ----------------------------------------------------------------------------

    def _instrument(self, category: str, symbol: str) -> dict[str, Any]:
        tick, step = self._filters(symbol)
        base = symbol.removesuffix("USDT")
        if category == "spot":
            return {
                "symbol": symbol,
                "baseCoin": base,
                "quoteCoin": "USDT",
                "innovation": "0",
                "status": "Trading",
                "marginTrading": "none",
                "stTag": "0",
                "lotSizeFilter": {
                    "basePrecision": step,
                    "quotePrecision": "0.00000001",
                    "minOrderQty": step,
                    "maxOrderQty": "1000000000",
                    "minOrderAmt": "5",
                    "maxOrderAmt": "2000000",
                },
                "priceFilter": {"tickSize": tick},
            }
        decimals = tick.split(".")[1] if "." in tick else ""
        return {
            "symbol": symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": base,
            "quoteCoin": "USDT",
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(len(decimals)),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "25.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": tick, "maxPrice": "1999999.99", "tickSize": tick},
            "lotSizeFilter": {
                "maxOrderQty": "1000000000",
                "minOrderQty": step,
                "qtyStep": step,
                "postOnlyMaxOrderQty": "1000000000",
                "maxMktOrderQty": "100000000",
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": "USDT",
            "copyTrading": "none",
            "upperFundingRate": "0.005",
            "lowerFundingRate": "-0.005",
            "isPreListing": False,
            "preListingInfo": None,
        }

    def _filters(self, symbol: str) -> tuple[str, str]:
        """(tickSize, qtyStep): the instrument's, or for a recorded source the finest steps
        seen in the published book."""
        instruments = self.catalog.instruments
        if instruments is not None:
            instrument = instruments[symbol]
            return instrument.tick_size, instrument.qty_step
        book = self.published.books_by_symbol.get(symbol)
        if book is None:
            return "", ""
        bids, asks = book.text_levels(book.depth)
        levels = bids + asks
        return _finest(price for price, _ in levels), _finest(size for _, size in levels)


def _finest(numbers: Any) -> str:
    decimals = max((len(text.partition(".")[2]) for text in numbers), default=0)
    return f"{10.0**-decimals:.{decimals}f}" if decimals else "1"


def _encode_cursor(symbol: str) -> str:
    """An opaque page token: the first symbol of the next page."""
    return base64.urlsafe_b64encode(f"next={symbol}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, symbols: list[str]) -> int:
    """Index of the first symbol of the page a cursor points to."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    name, _, symbol = text.partition("=")
    if name != "next" or symbol not in symbols:
        raise ParamsError("params error: cursor is invalid")
    return symbols.index(symbol)


def _time_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdecimal():
        raise ParamsError(f"params error: {name} must be a timestamp in ms")
    return int(text)


def _endpoint(handler: Callable[[Request], dict[str, Any]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        try:
            return _envelope(handler(request))
        except ParamsError as exc:
            return _envelope({}, PARAMS_ERROR, str(exc))

    return endpoint
