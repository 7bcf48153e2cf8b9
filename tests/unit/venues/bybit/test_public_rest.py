"""rest: parsers on response shapes from Bybit's docs, fetch_universe over httpx.MockTransport.

Shapes: /docs/v5/market/instrument (linear and spot response examples, trimmed to the fields we
read plus a few we ignore) and /docs/v5/market/tickers. No network: every request is answered
by a handler in this file.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from scalper.venues.bybit.public_rest import (
    MAINNET_REST,
    MAINNET_WS,
    TESTNET_WS,
    Instrument,
    VenueError,
    fetch_universe,
    parse_instruments,
    parse_tickers,
)

LINEAR_BTC = {
    "symbol": "BTCUSDT",
    "contractType": "LinearPerpetual",
    "status": "Trading",
    "baseCoin": "BTC",
    "quoteCoin": "USDT",
    "priceScale": "2",
    "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
    "lotSizeFilter": {
        "maxOrderQty": "1190.000",
        "minOrderQty": "0.001",
        "qtyStep": "0.001",
        "postOnlyMaxOrderQty": "1190.000",
        "maxMktOrderQty": "500.000",
        "minNotionalValue": "5",
    },
    "fundingInterval": 480,
    "settleCoin": "USDT",
    "isPreListing": False,
    "preListingInfo": None,
}

SPOT_BTC = {
    "symbolId": 9,
    "symbol": "BTCUSDT",
    "baseCoin": "BTC",
    "quoteCoin": "USDT",
    "status": "Trading",
    "lotSizeFilter": {
        "basePrecision": "0.000001",
        "quotePrecision": "0.0000001",
        "minOrderQty": "0.000011",
        "maxOrderQty": "83",
        "minOrderAmt": "5",
    },
    "priceFilter": {"tickSize": "0.1"},
}


def envelope(result: dict, ret_code: int = 0, ret_msg: str = "OK") -> bytes:
    body = {"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}}
    return json.dumps({**body, "time": 1735809771618}).encode()


def linear_row(symbol: str, status: str = "Trading", quote: str = "USDT") -> dict:
    return {**LINEAR_BTC, "symbol": symbol, "status": status, "quoteCoin": quote}


def ticker_row(symbol: str, turnover: str) -> dict:
    return {"symbol": symbol, "lastPrice": "1.0", "volume24h": "10", "turnover24h": turnover}


# --- parsers -----------------------------------------------------------------------------


def test_parse_instruments_linear() -> None:
    page = {"category": "linear", "list": [LINEAR_BTC], "nextPageCursor": "first%3DBTCUSDT"}
    instruments, cursor = parse_instruments(envelope(page))
    assert instruments == [Instrument("BTCUSDT", "Trading", "USDT", "0.10", "0.001", "0.001")]
    assert cursor == "first%3DBTCUSDT"


def test_parse_instruments_spot_uses_base_precision_and_has_no_cursor() -> None:
    instruments, cursor = parse_instruments(envelope({"category": "spot", "list": [SPOT_BTC]}))
    assert instruments == [Instrument("BTCUSDT", "Trading", "USDT", "0.1", "0.000001", "0.000011")]
    assert cursor == ""


def test_parse_tickers_maps_symbol_to_turnover() -> None:
    rows = [ticker_row("BTCUSDT", "243765620.65899866"), ticker_row("NEWUSDT", "")]
    assert parse_tickers(envelope({"category": "linear", "list": rows})) == {
        "BTCUSDT": 243765620.65899866,
        "NEWUSDT": 0.0,
    }


@pytest.mark.parametrize("parse", [parse_instruments, parse_tickers])
def test_nonzero_ret_code_raises_with_code_and_message(parse: Callable) -> None:
    payload = envelope({}, ret_code=10001, ret_msg="params error: category is invalid")
    with pytest.raises(VenueError, match=r"retCode 10001.*params error: category is invalid"):
        parse(payload)


@pytest.mark.parametrize("payload", [b"<html>", b'{"retCode":0,"result":{"list":7}}'])
def test_malformed_payload_raises_venue_error(payload: bytes) -> None:
    with pytest.raises(VenueError, match="malformed instruments-info"):
        parse_instruments(payload)


def test_ws_url_templates() -> None:
    assert MAINNET_WS.format(category="linear") == "wss://stream.bybit.com/v5/public/linear"
    assert TESTNET_WS.format(category="spot") == "wss://stream-testnet.bybit.com/v5/public/spot"


# --- fetch_universe ----------------------------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def fetch(handler: Handler, **kwargs) -> list[Instrument]:
    async def run() -> list[Instrument]:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(base_url=MAINNET_REST, transport=transport) as client:
            return await fetch_universe(client, **kwargs)

    return asyncio.run(run())


class FakeBybit:
    """Serves instruments-info in pages of `limit` with a percent-encoded cursor, and tickers."""

    def __init__(self, rows: list[dict], turnover: dict[str, str]) -> None:
        self.rows = rows
        self.turnover = turnover
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v5/market/tickers":
            rows = [ticker_row(s, t) for s, t in self.turnover.items()]
            return httpx.Response(200, content=envelope({"category": "linear", "list": rows}))
        assert request.url.path == "/v5/market/instruments-info"
        return httpx.Response(200, content=envelope(self.page(request)))

    def page(self, request: httpx.Request) -> dict:
        limit = int(request.url.params.get("limit", "500"))
        cursor = request.url.params.get("cursor", "")  # decoded once: "first=…&last=…"
        start = int(cursor.removeprefix("first=").split("&")[0]) if cursor else 0
        end = start + limit
        after = f"first%3D{end}%26last%3D{end + limit - 1}" if end < len(self.rows) else ""
        return {"category": "linear", "list": self.rows[start:end], "nextPageCursor": after}


def universe_venue() -> FakeBybit:
    rows = [
        linear_row("BTCUSDT"),
        linear_row("ETHUSDT"),
        linear_row("BTCPERP", quote="USDC"),
        linear_row("OLDUSDT", status="Settling"),
        linear_row("SOLUSDT"),
        linear_row("XRPUSDT"),
        linear_row("DOGEUSDT"),
    ]
    turnover = {
        "BTCUSDT": "9000000000",
        "ETHUSDT": "5000000000",
        "BTCPERP": "99999999999",
        "OLDUSDT": "88888888888",
        "SOLUSDT": "1000000000",
        "XRPUSDT": "1200000000",
    }  # DOGEUSDT has no ticker: ranks last
    return FakeBybit(rows, turnover)


def test_fetch_universe_paginates_filters_and_ranks() -> None:
    venue = universe_venue()
    result = fetch(venue, top=4, page_limit=2)
    assert [i.symbol for i in result] == ["BTCUSDT", "ETHUSDT", "XRPUSDT", "SOLUSDT"]
    pages = [r for r in venue.requests if r.url.path.endswith("instruments-info")]
    assert len(pages) == 4
    assert all(r.url.params["limit"] == "2" for r in pages)


def test_fetch_universe_sends_the_cursor_back_verbatim() -> None:
    venue = universe_venue()
    fetch(venue, top=1, page_limit=3)
    second = [r for r in venue.requests if r.url.path.endswith("instruments-info")][1]
    assert b"cursor=first%3D3%26last%3D5" in second.url.raw_path


def test_fetch_universe_top_larger_than_the_universe() -> None:
    result = fetch(universe_venue(), top=300)
    assert [i.symbol for i in result][-1] == "DOGEUSDT"
    assert len(result) == 5


def test_fetch_universe_explicit_symbols_in_given_order() -> None:
    venue = universe_venue()
    result = fetch(venue, symbols=["SOLUSDT", "BTCPERP", "BTCUSDT"], page_limit=2)
    assert [i.symbol for i in result] == ["SOLUSDT", "BTCPERP", "BTCUSDT"]
    assert not [r for r in venue.requests if r.url.path.endswith("tickers")]


def test_fetch_universe_names_unknown_and_non_trading_symbols() -> None:
    with pytest.raises(VenueError) as info:
        fetch(universe_venue(), symbols=["BTCUSDT", "NOPEUSDT", "OLDUSDT"])
    message = str(info.value)
    assert "NOPEUSDT is unknown" in message
    assert "OLDUSDT is not trading (status Settling)" in message
    assert "BTCUSDT" not in message


def test_fetch_universe_spot_sends_no_pagination_parameters() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path.endswith("tickers"):
            rows = [ticker_row("BTCUSDT", "5")]
            return httpx.Response(200, content=envelope({"category": "spot", "list": rows}))
        return httpx.Response(200, content=envelope({"category": "spot", "list": [SPOT_BTC]}))

    assert [i.symbol for i in fetch(handler, category="spot")] == ["BTCUSDT"]
    assert dict(requests[0].url.params) == {"category": "spot"}


def test_fetch_universe_ret_code_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=envelope({}, ret_code=10001, ret_msg="illegal category"))

    with pytest.raises(VenueError, match=r"retCode 10001.*illegal category"):
        fetch(handler, category="futures")


@pytest.mark.parametrize("body", ["access too frequent", "<html>403 Forbidden</html>"])
def test_fetch_universe_403_says_to_back_off(body: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text=body)

    with pytest.raises(VenueError, match=r"403.*wait at least 10 minutes") as info:
        fetch(handler)
    assert "https://api.bybit.com/v5/market/instruments-info" in str(info.value)


def test_fetch_universe_other_http_error_names_the_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad Gateway")

    pattern = r"HTTP 502 from https://api\.bybit\.com/v5/market/instruments-info\?category=linear"
    with pytest.raises(VenueError, match=pattern):
        fetch(handler)


@pytest.mark.parametrize(
    ("error", "expected"),
    [(httpx.ReadTimeout, "timed out fetching https://"), (httpx.ConnectError, "could not fetch")],
)
def test_fetch_universe_transport_errors(error: type[httpx.RequestError], expected: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    with pytest.raises(VenueError, match=expected):
        fetch(handler)


def test_fetch_universe_stops_a_cursor_that_never_ends() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = {"category": "linear", "list": [LINEAR_BTC], "nextPageCursor": "again"}
        return httpx.Response(200, content=envelope(page))

    with pytest.raises(VenueError, match="still had a next page after 100 pages"):
        fetch(handler)


@pytest.mark.parametrize("kwargs", [{"page_limit": 0}, {"page_limit": 1001}, {"top": 0}])
def test_fetch_universe_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        fetch(universe_venue(), **kwargs)
