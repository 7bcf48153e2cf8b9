"""A small fake of Bybit's private v5 API for loopback tests: REST and the private stream.

Its own, independent checks: HMAC-SHA256 signatures computed here with the hmac module (10004),
the receive window against its own clock, which a test may skew (10002), the key (10003), a
per-kind requests-per-second limit (10006, with the X-Bapi-Limit* headers), duplicate
orderLinkIds (110072). Orders rest until the test fills them (`fill`); market orders fill at
`price`. Pushes go to every authenticated, subscribed stream. It remembers every signature it
saw, so a test can grep logs for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from scalper.embedded_server import RunningServer, serve_app

KIND_OF = {
    "/v5/order/create": "create",
    "/v5/order/amend": "amend",
    "/v5/order/cancel": "cancel",
    "/v5/order/cancel-all": "cancel_all",
}


@dataclass
class FakeOrder:
    order_id: str
    link: str
    symbol: str
    side: str
    order_type: str
    tif: str
    price: float
    qty: float
    reduce_only: bool
    status: str = "New"
    filled: float = 0.0
    avg: float = 0.0
    updated_ms: int = 0


@dataclass
class FakePosition:
    size: float = 0.0
    entry: float = 0.0


@dataclass
class FakeBybit:
    key: str
    secret: str
    price: float = 100.0
    skew_ms: int = 0
    limits: dict[str, int] = field(
        default_factory=lambda: {"create": 10, "amend": 10, "cancel": 10, "cancel_all": 10}
    )
    refuse_streams: bool = False
    fail_after_accept: int = 0
    """Answer HTTP 502 to this many creates after storing the order (a lost answer)."""
    forbid_next: int = 0
    """Answer HTTP 403 to this many signed requests."""
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    positions: dict[str, FakePosition] = field(default_factory=lambda: defaultdict(FakePosition))
    codes: list[tuple[str, int]] = field(default_factory=list)
    """(path, retCode) of every signed request."""
    signatures: list[str] = field(default_factory=list)
    streams: list[WebSocket] = field(default_factory=list)
    stream_connects: int = 0
    executions: list[dict[str, Any]] = field(default_factory=list)
    """Every execution row pushed, oldest first (served by /v5/execution/list)."""
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _window: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _last_ms: int = 0
    _drops: list[asyncio.Event] = field(default_factory=list)
    _authed: set[int] = field(default_factory=set)
    server: RunningServer | None = None

    # ------------------------------------------------------------------ clock and checks

    def now_ms(self) -> int:
        now = time.time_ns() // 1_000_000 + self.skew_ms
        self._last_ms = max(now, self._last_ms + 1)
        return self._last_ms

    def _sign(self, message: str) -> str:
        return hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()

    def _auth_code(self, request: Request, payload: str) -> int:
        headers = request.headers
        key = headers.get("x-bapi-api-key", "")
        sign = headers.get("x-bapi-sign", "")
        self.signatures.append(sign)
        if key != self.key:
            return 10003
        ts, recv = headers.get("x-bapi-timestamp", ""), headers.get("x-bapi-recv-window", "")
        if sign != self._sign(f"{ts}{key}{recv}{payload}"):
            return 10004
        now = self.now_ms()
        if not now - int(recv) <= int(ts) < now + 1000:
            return 10002
        return 0

    def _rate(self, kind: str) -> tuple[int, dict[str, str]]:
        limit = self.limits.get(kind, 50)
        now = time.monotonic()
        window = [t for t in self._window[kind] if now - t < 1.0]
        self._window[kind] = window
        reset_ms = self.now_ms() + int((1.0 - (now - window[0])) * 1000) + 1 if window else 0
        if len(window) >= limit:
            headers = {
                "X-Bapi-Limit": str(limit),
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit-Reset-Timestamp": str(reset_ms),
            }
            return 10006, headers
        window.append(now)
        return 0, {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": str(limit - len(window)),
            "X-Bapi-Limit-Reset-Timestamp": str(reset_ms or self.now_ms() + 1000),
        }

    def _answer(self, code: int, result: Any = None, headers: dict | None = None) -> Response:
        body = {
            "retCode": code,
            "retMsg": "OK" if code == 0 else f"fake error {code}",
            "result": result if result is not None else {},
            "retExtInfo": {},
            "time": self.now_ms(),
        }
        return JSONResponse(body, headers=headers or {})

    # ------------------------------------------------------------------ REST

    async def _signed(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "GET":
            payload = request.url.query
            params = dict(request.query_params)
        else:
            raw = await request.body()
            payload = raw.decode()
            params = json.loads(raw)
        if self.forbid_next:
            self.forbid_next -= 1
            return Response("access too frequent", status_code=403)
        code = self._auth_code(request, payload)
        headers: dict[str, str] = {}
        if code == 0:
            code, headers = self._rate(KIND_OF.get(path, "query"))
        result: Any = None
        if code == 0:
            code, result = self._handle(path, params)
        self.codes.append((path, code))
        if code == 0 and path == "/v5/order/create" and self.fail_after_accept:
            self.fail_after_accept -= 1
            return Response("bad gateway", status_code=502)
        return self._answer(code, result, headers)

    def _handle(self, path: str, p: dict[str, Any]) -> tuple[int, Any]:
        if path == "/v5/order/create":
            return self._create(p)
        if path in ("/v5/order/amend", "/v5/order/cancel"):
            order = self._find(p)
            if order is None or order.status not in ("New", "PartiallyFilled"):
                return 110001, None
            if path.endswith("amend"):
                order.price = float(p.get("price", order.price))
                order.qty = float(p.get("qty", order.qty))
            else:
                order.status = "Cancelled"
            self._push_order(order)
            return 0, {"orderId": order.order_id, "orderLinkId": order.link}
        if path == "/v5/order/cancel-all":
            done = []
            for order in self.orders.values():
                if order.symbol == p["symbol"] and order.status in ("New", "PartiallyFilled"):
                    order.status = "Cancelled"
                    self._push_order(order)
                    done.append({"orderId": order.order_id, "orderLinkId": order.link})
            return 0, {"list": done, "success": "1"}
        if path == "/v5/order/realtime":
            link = p.get("orderLinkId")
            rows = [
                self._order_row(o)
                for o in self.orders.values()
                if (o.link == link if link else o.status in ("New", "PartiallyFilled"))
                and ("symbol" not in p or o.symbol == p["symbol"])
            ]
            return 0, {"list": rows, "nextPageCursor": "", "category": "linear"}
        if path == "/v5/execution/list":
            start = int(p.get("startTime", 0))
            rows = [r for r in reversed(self.executions) if int(r["execTime"]) >= start]
            return 0, {"list": rows, "nextPageCursor": "", "category": "linear"}
        if path == "/v5/position/list":
            rows = [self._position_row(s) for s, pos in self.positions.items() if pos.size]
            return 0, {"list": rows, "nextPageCursor": "", "category": "linear"}
        if path == "/v5/account/wallet-balance":
            return 0, {
                "list": [
                    {
                        "accountType": "UNIFIED",
                        "totalEquity": "10000",
                        "totalAvailableBalance": "9000",
                        "coin": [{"coin": "USDT", "walletBalance": "10000"}],
                    }
                ]
            }
        if path == "/v5/account/fee-rate":
            return 0, {
                "list": [{"symbol": "BTCUSDT", "takerFeeRate": "0.00055", "makerFeeRate": "0.0002"}]
            }
        return 10001, None

    def _create(self, p: dict[str, Any]) -> tuple[int, Any]:
        link = p.get("orderLinkId", "")
        if link and any(o.link == link for o in self.orders.values()):
            return 110072, None
        order = FakeOrder(
            order_id=f"oid-{next(self._ids)}",
            link=link,
            symbol=p["symbol"],
            side=p["side"],
            order_type=p["orderType"],
            tif=p.get("timeInForce", "GTC"),
            price=float(p.get("price", self.price)),
            qty=float(p["qty"]),
            reduce_only=bool(p.get("reduceOnly", False)),
        )
        self.orders[order.order_id] = order
        self._push_order(order)
        if order.order_type == "Market":
            self.fill(order.order_id, order.qty, self.price, maker=False)
        return 0, {"orderId": order.order_id, "orderLinkId": link}

    def _find(self, p: dict[str, Any]) -> FakeOrder | None:
        if "orderId" in p:
            return self.orders.get(p["orderId"])
        return next((o for o in self.orders.values() if o.link == p.get("orderLinkId")), None)

    # ------------------------------------------------------------------ the market (by hand)

    def fill(self, order_id: str, qty: float, price: float, maker: bool) -> None:
        """Execute `qty` of an order at `price`; pushes execution, order and position."""
        order = self.orders[order_id]
        order.avg = (order.avg * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.status = "Filled" if order.filled >= order.qty - 1e-12 else "PartiallyFilled"
        sign = 1 if order.side == "Buy" else -1
        position = self.positions[order.symbol]
        new_size = position.size + sign * qty
        if abs(new_size) > abs(position.size):
            position.entry = (abs(position.size) * position.entry + qty * price) / abs(new_size)
        position.size = round(new_size, 12)
        fee_rate = 0.0002 if maker else 0.00055
        now = self.now_ms()
        self._execution(
            {
                "category": "linear",
                "symbol": order.symbol,
                "execId": f"exec-{next(self._ids)}",
                "orderId": order.order_id,
                # Bybit's fast topic leaves it empty for maker fills: so do we, everywhere.
                "orderLinkId": "" if maker else order.link,
                "side": order.side,
                "execPrice": str(price),
                "execQty": str(qty),
                "execFee": str(price * qty * fee_rate),
                "feeRate": str(fee_rate),
                "isMaker": maker,
                "execType": "Trade",
                "execTime": str(now),
                "seq": now,
            }
        )
        self._push_order(order)
        self._push("position", [self._position_row(order.symbol)])

    # ------------------------------------------------------------------ rows and pushes

    def _execution(self, row: dict[str, Any]) -> None:
        self.executions.append(row)
        self._push("execution", [row])

    def _order_row(self, o: FakeOrder) -> dict[str, Any]:
        return {
            "category": "linear",
            "orderId": o.order_id,
            "orderLinkId": o.link,
            "symbol": o.symbol,
            "side": o.side,
            "orderType": o.order_type,
            "timeInForce": o.tif,
            "price": str(o.price),
            "qty": str(o.qty),
            "orderStatus": o.status,
            "cumExecQty": str(o.filled),
            "avgPrice": str(o.avg) if o.filled else "",
            "reduceOnly": o.reduce_only,
            "rejectReason": "EC_NoError",
            "cancelType": "CancelByUser" if o.status == "Cancelled" else "UNKNOWN",
            "updatedTime": str(o.updated_ms),
        }

    def _position_row(self, symbol: str) -> dict[str, Any]:
        pos = self.positions[symbol]
        side = "Buy" if pos.size > 0 else "Sell" if pos.size < 0 else ""
        return {
            "category": "linear",
            "symbol": symbol,
            "side": side,
            "size": str(abs(pos.size)),
            "avgPrice": str(pos.entry),
            "entryPrice": str(pos.entry),
            "markPrice": str(self.price),
            "unrealisedPnl": "0",
            "updatedTime": str(self.now_ms()),
            "seq": 1,
        }

    def _push_order(self, order: FakeOrder) -> None:
        order.updated_ms = self.now_ms()
        self._push("order", [self._order_row(order)])

    def _push(self, topic: str, data: list[dict[str, Any]]) -> None:
        text = json.dumps({"topic": topic, "creationTime": self.now_ms(), "data": data})
        for ws in list(self.streams):
            asyncio.get_running_loop().create_task(self._send(ws, text))

    async def _send(self, ws: WebSocket, text: str) -> None:
        try:
            await ws.send_text(text)
        except Exception:  # a socket closing meanwhile is not the test's concern
            if ws in self.streams:
                self.streams.remove(ws)

    # ------------------------------------------------------------------ the private stream

    async def _stream(self, ws: WebSocket) -> None:
        if self.refuse_streams:
            await ws.close()
            return
        await ws.accept()
        self.stream_connects += 1
        dropped = asyncio.Event()
        self._drops.append(dropped)
        drop = asyncio.create_task(dropped.wait())
        try:
            while True:
                receive = asyncio.create_task(ws.receive_text())
                await asyncio.wait({receive, drop}, return_when=asyncio.FIRST_COMPLETED)
                if drop.done():
                    receive.cancel()
                    await ws.close(code=1012)
                    return
                await self._answer_op(ws, json.loads(receive.result()))
        except WebSocketDisconnect:
            pass
        finally:
            drop.cancel()
            self._drops.remove(dropped)
            if ws in self.streams:
                self.streams.remove(ws)

    async def _answer_op(self, ws: WebSocket, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "auth":
            key, expires, sign = message["args"]
            self.signatures.append(sign)
            ok = (
                key == self.key
                and sign == self._sign(f"GET/realtime{expires}")
                and int(expires) > self.now_ms()
            )
            self._authed.add(id(ws)) if ok else self._authed.discard(id(ws))
            await ws.send_json(
                {"success": ok, "ret_msg": "" if ok else "Invalid sign", "op": "auth"}
            )
        elif op == "subscribe":
            authed = id(ws) in self._authed
            await ws.send_json(
                {
                    "success": authed,
                    "ret_msg": "",
                    "op": "subscribe",
                    "req_id": message.get("req_id", ""),
                }
            )
            if authed:
                self.streams.append(ws)
        elif op == "ping":
            await ws.send_json({"op": "pong", "args": [str(self.now_ms())]})

    async def drop_streams(self) -> None:
        """Close every private stream at once (the client sees its connection lost)."""
        self.streams = []
        dropping = list(self._drops)
        for dropped in dropping:
            dropped.set()
        # Wait for these to close only: the client reconnects at once, and a new stream's
        # event joins `_drops` meanwhile (waiting for an empty list hung once in ~7 runs).
        while any(dropped in self._drops for dropped in dropping):
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ serving

    def app(self) -> Starlette:
        async def market_time(request: Request) -> Response:
            now = self.now_ms()
            return self._answer(0, {"timeSecond": str(now // 1000), "timeNano": str(now * 10**6)})

        async def instruments(request: Request) -> Response:
            return self._answer(
                0,
                {
                    "category": "linear",
                    "list": [
                        {
                            "symbol": "BTCUSDT",
                            "status": "Trading",
                            "fundingInterval": 480,
                            "priceFilter": {"tickSize": "0.10"},
                            "lotSizeFilter": {
                                "qtyStep": "0.001",
                                "minOrderQty": "0.001",
                                "maxOrderQty": "100",
                                "maxMktOrderQty": "10",
                                "minNotionalValue": "5",
                            },
                        }
                    ],
                    "nextPageCursor": "",
                },
            )

        signed = [
            Route(path, self._signed, methods=["GET", "POST"])
            for path in (
                *KIND_OF,
                "/v5/order/realtime",
                "/v5/execution/list",
                "/v5/position/list",
                "/v5/account/wallet-balance",
                "/v5/account/fee-rate",
            )
        ]
        return Starlette(
            routes=[
                Route("/v5/market/time", market_time),
                Route("/v5/market/instruments-info", instruments),
                *signed,
                WebSocketRoute("/v5/private", self._stream),
            ]
        )

    async def start(self) -> None:
        self.server = await serve_app(self.app(), "127.0.0.1", 0, "fake-bybit", graceful_s=0.5)

    async def stop(self) -> None:
        await self.drop_streams()
        if self.server is not None:
            await self.server.stop()

    @property
    def rest_url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def ws_url(self) -> str:
        assert self.server is not None
        return f"ws://127.0.0.1:{self.server.port}/v5/private"
