"""The local exchange's private REST endpoints (/v5/order/*, /v5/execution/list,
/v5/position/list, /v5/account/*): the gate (private_auth.py) first, then the account
(private_venue.py), in Bybit's envelope `{"retCode","retMsg","result","retExtInfo","time"}`
with HTTP 200 even for a refusal, and the X-Bapi-Limit* headers on every counted request;
the injected faults (private_faults.py) on the way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scalper.venues.simulator.private_auth import PrivateGate
from scalper.venues.simulator.private_faults import PrivateFaults
from scalper.venues.simulator.private_venue import Result, SimulatedAccount

_MESSAGES: Final = {
    10001: "params error",
    10002: "invalid request, please check your server timestamp or recv_window param",
    10003: "API key is invalid.",
    10004: "error sign! origin_string not match",
    10006: "Too many visits!",
}


class PrivateEndpoints:
    """Signed REST handlers of one simulated account."""

    def __init__(
        self, gate: PrivateGate, account: SimulatedAccount, faults: PrivateFaults | None = None
    ) -> None:
        self.gate = gate
        self.account = account
        self.faults = faults
        self.codes: list[tuple[str, int]] = []
        """(path, retCode) of the last signed requests (at most 10,000; for tests)."""

    def routes(self) -> list[Route]:
        a = self.account
        handlers: dict[str, tuple[str, Callable[[dict[str, Any]], Result]]] = {
            "/v5/order/create": ("POST", a.create),
            "/v5/order/amend": ("POST", a.amend),
            "/v5/order/cancel": ("POST", a.cancel),
            "/v5/order/cancel-all": ("POST", a.cancel_all),
            "/v5/order/realtime": ("GET", a.open_orders),
            "/v5/execution/list": ("GET", a.execution_list),
            "/v5/position/list": ("GET", a.position_rows),
            "/v5/account/wallet-balance": ("GET", a.wallet),
            "/v5/account/fee-rate": ("GET", a.fee_rates),
        }
        return [
            Route(path, self._endpoint(handler), methods=[method])
            for path, (method, handler) in handlers.items()
        ]

    def _endpoint(self, handler: Callable[[dict[str, Any]], Result]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            if request.method == "GET":
                payload = request.url.query
                params: Any = dict(request.query_params)
            else:
                payload = (await request.body()).decode()
                try:
                    params = json.loads(payload)
                except ValueError:
                    params = None
            code, key = self.gate.check_rest(request.headers, payload)
            headers: dict[str, str] = {}
            result: Any = {}
            message = ""
            if code == 0:
                allowed, headers = self.gate.take(key, path)
                code = 0 if allowed else 10006
            if code == 0 and not isinstance(params, dict):
                code, message = 10001, "params error: the body is not a JSON object"
            if code == 0 and path == "/v5/order/create" and self.faults is not None:
                code, message = self.faults.refusal()
            if code == 0:
                code, result = handler(params)
                if code != 0:
                    message, result = str(result), {}
            self._note(path, code)
            delay = self.faults.ack_delay(path) if self.faults is not None else 0.0
            if delay:
                await asyncio.sleep(delay)  # the venue has acted: only the answer is late
            body = {
                "retCode": code,
                "retMsg": "OK" if code == 0 else message or _MESSAGES.get(code, "error"),
                "result": result,
                "retExtInfo": {},
                "time": self.gate.now_ms(),
            }
            return JSONResponse(body, headers=headers)

        return endpoint

    def _note(self, path: str, code: int) -> None:
        self.codes.append((path, code))
        if len(self.codes) > 10_000:
            del self.codes[:5_000]
