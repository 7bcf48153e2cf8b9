"""Bybit v5 public REST client: the symbol universe (instruments and their 24 h turnover).

Pure parsers turn response bytes into our types; `fetch_universe` does the I/O with an
`httpx.AsyncClient` whose `base_url` is a setting (mainnet, testnet or the local simulator).
Endpoints: /docs/v5/market/instrument (GET /v5/market/instruments-info) and
/docs/v5/market/tickers (GET /v5/market/tickers).
"""

from __future__ import annotations

from typing import Final

import httpx
import msgspec

from scalper.errors import ScalperError
from scalper.events import Instrument
from scalper.venues.bybit.limits import INSTRUMENTS_PAGE_LIMIT

MAINNET_REST: Final = "https://api.bybit.com"
TESTNET_REST: Final = "https://api-testnet.bybit.com"
MAINNET_WS: Final = "wss://stream.bybit.com/v5/public/{category}"
TESTNET_WS: Final = "wss://stream-testnet.bybit.com/v5/public/{category}"
"""WebSocket URL templates (/docs/v5/ws/connect); fill in with `.format(category=...)`."""

INSTRUMENTS_PATH: Final = "/v5/market/instruments-info"
TICKERS_PATH: Final = "/v5/market/tickers"
PAGE_LIMIT_RANGE: Final = range(1, INSTRUMENTS_PAGE_LIMIT[1] + 1)
"""instruments-info `limit` we may ask for (limits.py); spot ignores it: no pagination."""
MAX_PAGES: Final = 100
"""Bound on instruments-info pages per fetch, so a cursor that never ends cannot loop forever."""
_TRADING: Final = "Trading"
_QUOTE: Final = "USDT"
_BODY_SAMPLE: Final = 200


class VenueError(ScalperError):
    """The venue refused a request or answered something we cannot use."""


class _Envelope(msgspec.Struct, rename="camel"):
    """{"retCode":0,"retMsg":"OK","result":{…},…}; `result` stays raw until retCode is 0."""

    ret_code: int
    ret_msg: str = ""
    result: msgspec.Raw = msgspec.Raw(b"null")


class _PriceFilter(msgspec.Struct, rename="camel"):
    tick_size: str = ""


class _LotSizeFilter(msgspec.Struct, rename="camel"):
    qty_step: str = ""
    base_precision: str = ""
    min_order_qty: str = ""


class _InstrumentRow(msgspec.Struct, rename="camel"):
    symbol: str
    status: str = ""
    quote_coin: str = ""
    price_filter: _PriceFilter = msgspec.field(default_factory=_PriceFilter)
    lot_size_filter: _LotSizeFilter = msgspec.field(default_factory=_LotSizeFilter)


class _InstrumentsResult(msgspec.Struct, rename="camel"):
    rows: list[_InstrumentRow] = msgspec.field(default_factory=list, name="list")
    next_page_cursor: str = ""


class _TickerRow(msgspec.Struct):
    symbol: str
    turnover24h: str = ""


class _TickersResult(msgspec.Struct):
    rows: list[_TickerRow] = msgspec.field(default_factory=list, name="list")


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_INSTRUMENTS: Final = msgspec.json.Decoder(_InstrumentsResult)
_TICKERS: Final = msgspec.json.Decoder(_TickersResult)


def _result(payload: bytes, what: str) -> msgspec.Raw:
    """The envelope's `result`, after checking retCode."""
    try:
        envelope = _ENVELOPE.decode(payload)
    except msgspec.DecodeError as exc:
        raise VenueError(f"malformed {what} response: {exc}") from exc
    if envelope.ret_code != 0:
        raise VenueError(
            f"Bybit refused the {what} request: retCode {envelope.ret_code}, "
            f"retMsg {envelope.ret_msg!r}"
        )
    return envelope.result


def parse_instruments(payload: bytes) -> tuple[list[Instrument], str]:
    """instruments-info -> (instruments, nextPageCursor; "" on the last page and for spot)."""
    try:
        result = _INSTRUMENTS.decode(_result(payload, "instruments-info"))
    except msgspec.DecodeError as exc:
        raise VenueError(f"malformed instruments-info result: {exc}") from exc
    return [_instrument(row) for row in result.rows], result.next_page_cursor


def _instrument(row: _InstrumentRow) -> Instrument:
    lot = row.lot_size_filter
    return Instrument(
        symbol=row.symbol,
        status=row.status,
        quote_coin=row.quote_coin,
        tick_size=row.price_filter.tick_size,
        # Spot has no qtyStep; its quantity step is basePrecision (/docs/v5/market/instrument).
        qty_step=lot.qty_step or lot.base_precision,
        min_qty=lot.min_order_qty,
    )


def parse_tickers(payload: bytes) -> dict[str, float]:
    """tickers -> {symbol: turnover24h} (quote-coin turnover; "" counts as 0)."""
    try:
        result = _TICKERS.decode(_result(payload, "tickers"))
        return {row.symbol: float(row.turnover24h or 0) for row in result.rows}
    except (msgspec.DecodeError, ValueError) as exc:
        raise VenueError(f"malformed tickers result: {exc}") from exc


async def fetch_universe(
    client: httpx.AsyncClient,
    *,
    category: str = "linear",
    top: int = 300,
    symbols: list[str] | None = None,
    page_limit: int = 1000,
) -> list[Instrument]:
    """The symbols to stream: the `top` trading USDT instruments by 24 h turnover, or exactly
    `symbols` in their order (VenueError naming any that is unknown or not trading)."""
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    instruments = await fetch_instruments(client, category=category, page_limit=page_limit)
    if symbols is not None:
        return select(instruments, symbols, category)
    turnover = parse_tickers(await _get(client, TICKERS_PATH, f"category={category}"))
    return rank(instruments, turnover, top)


async def fetch_instruments(
    client: httpx.AsyncClient, *, category: str = "linear", page_limit: int = 1000
) -> list[Instrument]:
    """Every instrument of the category, following nextPageCursor until it comes back empty."""
    if page_limit not in PAGE_LIMIT_RANGE:
        raise ValueError(f"page_limit must be within 1..1000, not {page_limit}")
    query = (
        f"category={category}" if category == "spot" else f"category={category}&limit={page_limit}"
    )
    instruments: list[Instrument] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        # The cursor arrives percent-encoded ("first%3DBIOUSDT%26last%3D…") and goes back
        # verbatim, as Bybit's own SDK sends it; httpx `params` would encode it a second time.
        page, cursor = parse_instruments(
            await _get(client, INSTRUMENTS_PATH, f"{query}&cursor={cursor}" if cursor else query)
        )
        instruments.extend(page)
        if not cursor or not page:
            return instruments
    raise VenueError(
        f"{INSTRUMENTS_PATH} still had a next page after {MAX_PAGES} pages of {page_limit}; "
        "raise page_limit"
    )


def rank(instruments: list[Instrument], turnover: dict[str, float], top: int) -> list[Instrument]:
    """Trading USDT instruments, highest 24 h turnover first (ties by symbol), at most `top`."""
    eligible = [i for i in instruments if i.status == _TRADING and i.quote_coin == _QUOTE]
    eligible.sort(key=lambda i: (-turnover.get(i.symbol, 0.0), i.symbol))
    return eligible[:top]


def select(instruments: list[Instrument], symbols: list[str], category: str) -> list[Instrument]:
    """Exactly `symbols`, in their order; VenueError naming every unknown or non-trading one."""
    by_symbol = {i.symbol: i for i in instruments}
    problems = [_problem(s, by_symbol.get(s)) for s in symbols]
    bad = [p for p in problems if p]
    if bad:
        raise VenueError(f"cannot stream on Bybit {category}: {'; '.join(bad)}")
    return [by_symbol[s] for s in symbols]


def _problem(symbol: str, instrument: Instrument | None) -> str:
    if instrument is None:
        return f"{symbol} is unknown"
    if instrument.status != _TRADING:
        return f"{symbol} is not trading (status {instrument.status})"
    return ""


async def _get(client: httpx.AsyncClient, path: str, query: str) -> bytes:
    """GET path?query; HTTP errors and timeouts become a VenueError naming the URL."""
    request = client.build_request("GET", f"{path}?{query}")
    url = str(request.url)
    try:
        response = await client.send(request)
    except httpx.TimeoutException as exc:
        raise VenueError(f"timed out fetching {url}") from exc
    except httpx.HTTPError as exc:
        raise VenueError(f"could not fetch {url}: {exc}") from exc
    if response.status_code == 403:
        raise VenueError(_forbidden_message(url, response.text))
    if response.is_error:
        body = response.text[:_BODY_SAMPLE]
        raise VenueError(f"HTTP {response.status_code} from {url}: {body}")
    return response.content


def _forbidden_message(url: str, body: str) -> str:
    # /docs/v5/rate-limit: over 600 requests per 5 s per IP -> "403, access too frequent";
    # "terminate all HTTP sessions and wait for at least 10 minutes".
    advice = "stop all requests to Bybit from this IP and wait at least 10 minutes"
    if "too frequent" in body.lower():
        return f"Bybit answered 403 'access too frequent' for {url}: {advice}"
    return (
        f"Bybit answered 403 Forbidden for {url}: an IP rate-limit ban ({advice}) "
        "or a region Bybit does not serve"
    )
