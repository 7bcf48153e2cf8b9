"""Bybit v5 private REST client: signed requests, within the rate limits, on the venue's clock.

Every request goes through `_call`: its kind's token bucket first (rate_limit.py), then the
X-BAPI-* headers signed over exactly the bytes sent (signing.py), then the answer's envelope.
Three answers are handled here rather than raised at once: retCode 10002 (outside the receive
window: our clock is off) is retried once after resyncing the clock offset from
/v5/market/time; retCode 10006 (rate limit) pauses the kind until the window's reset and is
retried up to `rate_limit_retries` times; HTTP 403 (an IP ban) pauses every kind for
`ip_ban_backoff_s` and is raised.
Everything else that is not success raises its typed error (errors.py). Nothing logged or
raised here carries the key, the secret or a signature.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

import httpx
import msgspec

from scalper.settings import BybitPrivateSettings
from scalper.trading.orders import OrderRequest, OrderType
from scalper.venues.bybit.private import wire
from scalper.venues.bybit.private.credentials import Credentials
from scalper.venues.bybit.private.errors import (
    RateLimitError,
    ServerError,
    TimeWindowError,
    error_for_http,
)
from scalper.venues.bybit.private.rate_limit import RateLimiter, RequestKind, reset_in_s
from scalper.venues.bybit.private.signing import rest_headers

log = logging.getLogger(__name__)

SETTLE_COIN: Final = "USDT"
"""Linear queries without a symbol need a settle coin (/docs/v5/order/open-order)."""
MAX_PAGES: Final = 50
"""Bound on pages per listing, so that a cursor that never ends cannot loop forever."""
Params = list[tuple[str, str]]


def format_decimal(value: float, step: str = "") -> str:
    """`value` as Bybit wants numbers: a plain decimal string, on `step` if one is given."""
    number = Decimal(repr(value))
    if step:
        unit = Decimal(step)
        number = (number / unit).to_integral_value(ROUND_HALF_EVEN) * unit
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


class BybitPrivateRest:
    """Signed calls to one Bybit account. `base_url`: testnet, mainnet or a local server."""

    def __init__(
        self,
        credentials: Credentials,
        settings: BybitPrivateSettings,
        *,
        base_url: str,
        client: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._credentials = credentials
        self._settings = settings
        self._client = client or httpx.AsyncClient(
            base_url=base_url, timeout=settings.request_timeout_s
        )
        self._wall_ms = wall_ms
        self.limiter = RateLimiter(settings, clock=monotonic)
        self.clock_offset_ms = 0
        """Venue time minus our wall clock, from the last `sync_clock`."""
        self.clock_syncs = 0
        self.rate_limit_hits = 0
        """10006 answers and 403s seen (a metric)."""
        self.category = settings.category

    def __repr__(self) -> str:
        return f"BybitPrivateRest({self._client.base_url!s}, {self._credentials!r})"

    async def close(self) -> None:
        await self._client.aclose()

    def venue_now_ms(self) -> int:
        """Our best estimate of the venue's clock, in ms."""
        return self._wall_ms() + self.clock_offset_ms

    # ------------------------------------------------------------------ public, unsigned

    async def server_time_ms(self) -> int:
        raw, _ = await self._call("GET", "/v5/market/time", [], RequestKind.QUERY, signed=False)
        return wire.parse_server_time_ms(raw)

    async def sync_clock(self) -> int:
        """Set the clock offset from /v5/market/time (the middle of the round trip)."""
        before = self._wall_ms()
        server = await self.server_time_ms()
        after = self._wall_ms()
        self.clock_offset_ms = server - (before + after) // 2
        self.clock_syncs += 1
        log.info(
            "Bybit clock offset %+d ms (round trip %d ms)", self.clock_offset_ms, after - before
        )
        return self.clock_offset_ms

    async def instruments(self) -> dict[str, wire.InstrumentFilter]:
        """Every instrument's order filters (tick size, quantity step, min/max quantity)."""
        found: dict[str, wire.InstrumentFilter] = {}
        cursor = ""
        for _ in range(MAX_PAGES):
            params = [("category", self.category), ("limit", "1000")]
            if cursor:
                params.append(("cursor", cursor))
            raw, _ = await self._call(
                "GET", "/v5/market/instruments-info", params, RequestKind.QUERY, signed=False
            )
            page, cursor = wire.parse_instruments(raw)
            found.update((i.symbol, i) for i in page)
            if not cursor or not page:
                return found
        raise ServerError(f"instruments-info still had a next page after {MAX_PAGES} pages")

    # ------------------------------------------------------------------ orders

    async def create_order(
        self,
        request: OrderRequest,
        order_link_id: str,
        instrument: wire.InstrumentFilter | None = None,
    ) -> wire.OrderAck:
        """POST /v5/order/create; the answer means accepted only (the stream says the rest)."""
        body: dict[str, object] = {
            "category": self.category,
            "symbol": request.symbol,
            "side": wire.SIDE_NAMES[request.side],
            "orderType": wire.ORDER_TYPE_NAMES[request.order_type],
            "qty": format_decimal(request.qty, instrument.qty_step if instrument else ""),
            "orderLinkId": order_link_id,
            "positionIdx": 0,
        }
        if request.order_type is OrderType.LIMIT and request.price is not None:
            body["price"] = format_decimal(
                request.price, instrument.tick_size if instrument else ""
            )
            body["timeInForce"] = wire.TIF_NAMES[request.time_in_force]
        elif request.order_type is OrderType.MARKET:
            # Bybit turns every market order into an IOC limit (create-order.mdx).
            body["timeInForce"] = "IOC"
        if request.reduce_only:
            body["reduceOnly"] = True
        raw, _ = await self._post("/v5/order/create", body, RequestKind.CREATE)
        return wire.parse_ack(raw, "create")

    async def amend_order(
        self,
        symbol: str,
        *,
        order_id: str = "",
        order_link_id: str = "",
        qty: str | None = None,
        price: str | None = None,
    ) -> wire.OrderAck:
        body = self._order_ref(symbol, order_id, order_link_id)
        if qty is not None:
            body["qty"] = qty
        if price is not None:
            body["price"] = price
        raw, _ = await self._post("/v5/order/amend", body, RequestKind.AMEND)
        return wire.parse_ack(raw, "amend")

    async def cancel_order(
        self, symbol: str, *, order_id: str = "", order_link_id: str = ""
    ) -> wire.OrderAck:
        body = self._order_ref(symbol, order_id, order_link_id)
        raw, _ = await self._post("/v5/order/cancel", body, RequestKind.CANCEL)
        return wire.parse_ack(raw, "cancel")

    async def cancel_all(self, symbol: str) -> list[wire.OrderAck]:
        """Every open order of `symbol` on the account (Bybit: at most 500 at a time)."""
        body: dict[str, object] = {"category": self.category, "symbol": symbol}
        raw, _ = await self._post("/v5/order/cancel-all", body, RequestKind.CANCEL_ALL)
        return wire.parse_cancel_all(raw)

    def _order_ref(self, symbol: str, order_id: str, order_link_id: str) -> dict[str, object]:
        if not (order_id or order_link_id):
            raise ValueError("an order is named by its orderId or its orderLinkId")
        body: dict[str, object] = {"category": self.category, "symbol": symbol}
        # orderId wins when both are given (cancel-order.mdx); send one.
        if order_id:
            body["orderId"] = order_id
        else:
            body["orderLinkId"] = order_link_id
        return body

    # ------------------------------------------------------------------ account state

    async def open_orders(self, symbol: str = "", order_link_id: str = "") -> list[wire.VenueOrder]:
        """Open orders (all of the settle coin, or one symbol); with `order_link_id`, that
        order even if recently closed (/v5/order/realtime)."""
        scope = [("symbol", symbol)] if symbol else [("settleCoin", SETTLE_COIN)]
        base = [("category", self.category), *scope, ("limit", "50")]
        if order_link_id:
            base.append(("orderLinkId", order_link_id))
        orders: list[wire.VenueOrder] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            params = [*base, ("cursor", cursor)] if cursor else base
            raw, _ = await self._call("GET", "/v5/order/realtime", params, RequestKind.QUERY)
            page, cursor = wire.parse_orders(raw)
            orders.extend(page)
            if not cursor or not page:
                return orders
        raise ServerError(f"/v5/order/realtime still had a next page after {MAX_PAGES} pages")

    async def executions(self, start_ms: int) -> list[wire.Execution]:
        """Our executions since `start_ms`, oldest first (/v5/execution/list: with startTime
        alone it answers startTime to startTime + 7 days, newest first, 100 a page at most)."""
        base = [("category", self.category), ("startTime", str(start_ms)), ("limit", "100")]
        rows: list[wire.Execution] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            params = [*base, ("cursor", cursor)] if cursor else base
            raw, _ = await self._call("GET", "/v5/execution/list", params, RequestKind.QUERY)
            page, cursor = wire.parse_executions(raw)
            rows.extend(page)
            if not cursor or not page:
                return sorted(rows, key=lambda row: (row.time_ms, row.seq))
        raise ServerError(f"/v5/execution/list still had a next page after {MAX_PAGES} pages")

    async def positions(self, symbol: str = "") -> list[wire.VenuePosition]:
        scope = [("symbol", symbol)] if symbol else [("settleCoin", SETTLE_COIN)]
        params = [("category", self.category), *scope, ("limit", "200")]
        raw, _ = await self._call("GET", "/v5/position/list", params, RequestKind.QUERY)
        return wire.parse_positions(raw)[0]

    async def wallet(self) -> wire.Wallet:
        params = [("accountType", "UNIFIED")]
        raw, _ = await self._call("GET", "/v5/account/wallet-balance", params, RequestKind.QUERY)
        return wire.parse_wallet(raw)

    async def fee_rates(self, symbol: str = "") -> dict[str, wire.FeeRate]:
        params = [("category", self.category)]
        if symbol:
            params.append(("symbol", symbol))
        raw, _ = await self._call("GET", "/v5/account/fee-rate", params, RequestKind.QUERY)
        return wire.parse_fee_rates(raw)

    # ------------------------------------------------------------------ the one way out

    async def _post(
        self, path: str, body: dict[str, object], kind: RequestKind
    ) -> tuple[msgspec.Raw, int]:
        return await self._call("POST", path, body, kind)

    async def _call(
        self,
        method: str,
        path: str,
        params: Params | dict[str, object],
        kind: RequestKind,
        *,
        signed: bool = True,
    ) -> tuple[msgspec.Raw, int]:
        """Send, with the retries the module docstring names; (result, venue time ms)."""
        what = f"{method} {path}"
        resynced = False
        rate_retries = 0
        while True:
            await self.limiter.acquire(kind)
            response = await self._send(method, path, params, signed, what)
            now_ms = self.venue_now_ms()
            if response.status_code == 403:
                self.rate_limit_hits += 1
                self.limiter.pause_all(self._settings.ip_ban_backoff_s)
                log.error("Bybit %s: HTTP 403, pausing every request", what)
            if response.is_error:
                raise error_for_http(
                    response.status_code, response.text, what, self._settings.ip_ban_backoff_s
                )
            self.limiter.on_headers(kind, response.headers, now_ms)
            try:
                return wire.decode_envelope(response.content, what)
            except TimeWindowError:
                if resynced:
                    raise
                resynced = True
                log.warning("Bybit %s: outside the receive window; resyncing the clock", what)
                await self.sync_clock()
            except RateLimitError as exc:
                self.rate_limit_hits += 1
                pause = reset_in_s(response.headers, now_ms, self._settings.rate_limit_backoff_s)
                self.limiter.pause(kind, pause)
                if rate_retries >= self._settings.rate_limit_retries:
                    exc.retry_after_s = pause
                    raise
                rate_retries += 1
                log.warning("Bybit %s: rate limited (10006); retrying in %.2f s", what, pause)

    async def _send(
        self,
        method: str,
        path: str,
        params: Params | dict[str, object],
        signed: bool,
        what: str,
    ) -> httpx.Response:
        if method == "GET":
            assert isinstance(params, list)
            payload = "&".join(f"{k}={v}" for k, v in params)
            url, content = (f"{path}?{payload}" if payload else path), None
        else:
            content = msgspec.json.encode(params)
            payload, url = content.decode(), path
        headers = {"Content-Type": "application/json"} if content is not None else {}
        if signed:
            ts = self.venue_now_ms()
            headers.update(
                rest_headers(self._credentials, ts, self._settings.recv_window_ms, payload)
            )
        try:
            return await self._client.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException:
            raise ServerError(
                f"Bybit {what}: timed out after {self._settings.request_timeout_s:g} s;"
                " the request's fate is unknown"
            ) from None
        except httpx.HTTPError as exc:
            raise ServerError(f"Bybit {what}: {type(exc).__name__}: {exc}") from None
