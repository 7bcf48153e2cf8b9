"""`/api/trading/*`: the trading core's state (read) and its kill switch (write, with a token)."""

# No `from __future__ import annotations` here: FastAPI reads the route signatures.

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from scalper.api.access import origin_allowed, token_matches
from scalper.api.trading_views import (
    AuditView,
    CommandView,
    FillsView,
    OrdersView,
    PnlView,
    PositionsView,
    TradingStateView,
    audit_view,
    fills_view,
    orders_view,
    pnl_view,
    positions_view,
    trading_state_view,
)
from scalper.trading.trader import Trader

TRADING_MODELS = (
    TradingStateView,
    PositionsView,
    OrdersView,
    FillsView,
    PnlView,
    AuditView,
    CommandView,
)


class HaltBody(msgspec.Struct, frozen=True):
    reason: str = "kill switch"


class TokenView(msgspec.Struct, frozen=True):
    token: str


def add_trading_routes(
    app: FastAPI,
    trader: Trader,
    token: str,
    hosts: list[str],
    response_class: type[JSONResponse],
    doc: Callable[..., dict[int | str, dict[str, Any]]],
) -> None:
    """The trading routes over `trader`; writes need `token` and a same-origin browser."""

    def symbol_of(symbol: str | None) -> str | None:
        if symbol is None:
            return None
        name = symbol.upper()
        if name not in trader.symbols:
            raise HTTPException(404, f"{name} is not traded: GET /api/trading/state lists them")
        return name

    def check_write(request: Request) -> None:
        headers = request.headers
        if not origin_allowed(headers.get("origin"), headers.get("host"), hosts):
            raise HTTPException(403, "cross-origin write refused: use the dashboard or curl")
        if not token_matches(headers.get("authorization"), token):
            raise HTTPException(
                401,
                "a write needs 'Authorization: Bearer <token>' (the token is in the data"
                " dir's api-token file)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    Limit = Annotated[int, Query(ge=1, le=10_000)]

    @app.get(
        "/api/trading/state",
        response_class=response_class,
        response_model=None,
        responses=doc(TradingStateView),
    )
    async def state() -> Response:
        """Trading state (active / reducing / halted, with its reason) and every symbol's
        state machine."""
        return response_class(trading_state_view(trader))

    @app.get(
        "/api/trading/positions",
        response_class=response_class,
        response_model=None,
        responses=doc(PositionsView),
    )
    async def positions() -> Response:
        """Open positions with entry, mark, unrealised P&L, stop and take profit."""
        return response_class(positions_view(trader))

    @app.get(
        "/api/trading/orders",
        response_class=response_class,
        response_model=None,
        responses=doc(OrdersView, 404),
    )
    async def orders(symbol: str | None = None, limit: Limit = 100) -> Response:
        """Open orders, and the latest finished ones (newest first)."""
        return response_class(orders_view(trader, symbol_of(symbol), limit))

    @app.get(
        "/api/trading/fills",
        response_class=response_class,
        response_model=None,
        responses=doc(FillsView, 404),
    )
    async def fills(symbol: str | None = None, limit: Limit = 100) -> Response:
        """The latest fills (newest first)."""
        return response_class(fills_view(trader, symbol_of(symbol), limit))

    @app.get(
        "/api/trading/pnl",
        response_class=response_class,
        response_model=None,
        responses=doc(PnlView),
    )
    async def pnl(points: Limit = 3600) -> Response:
        """P&L lines (realised, unrealised, fees, funding, net) and the equity curve."""
        return response_class(pnl_view(trader, points))

    @app.get(
        "/api/trading/audit",
        response_class=response_class,
        response_model=None,
        responses=doc(AuditView, 404),
    )
    async def audit(symbol: str | None = None, limit: Limit = 200) -> Response:
        """State-machine transitions with their reasons and inputs (oldest first)."""
        return response_class(audit_view(trader, symbol_of(symbol), limit))

    @app.get("/api/trading/token", include_in_schema=False)
    async def get_token(request: Request) -> Response:
        """The write token, for the dashboard (same origin only)."""
        headers = request.headers
        if not origin_allowed(headers.get("origin"), headers.get("host"), hosts):
            raise HTTPException(403, "cross-origin request refused")
        if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
            raise HTTPException(403, "cross-site request refused")
        return response_class(TokenView(token))

    @app.post(
        "/api/trading/halt",
        response_class=response_class,
        response_model=None,
        responses=doc(CommandView, 401, 403),
    )
    async def halt(request: Request) -> Response:
        """The kill switch: halt trading (entries cancelled; positions flattened when
        `trading.risk.flatten_on_halt`). Body (optional): {"reason": "..."}."""
        check_write(request)
        body = await request.body()
        try:
            reason = msgspec.json.decode(body, type=HaltBody).reason if body else "kill switch"
        except msgspec.DecodeError as error:
            raise HTTPException(422, f"invalid body: {error}") from None
        trader.halt(reason[:200])
        return response_class(_command(trader))

    @app.post(
        "/api/trading/resume",
        response_class=response_class,
        response_model=None,
        responses=doc(CommandView, 401, 403),
    )
    async def resume(request: Request) -> Response:
        """Lift a manual or execution-health halt (a daily loss level stays for the day)."""
        check_write(request)
        trader.resume()
        return response_class(_command(trader))

    @app.post(
        "/api/trading/flatten",
        response_class=response_class,
        response_model=None,
        responses=doc(CommandView, 401, 403),
    )
    async def flatten(request: Request) -> Response:
        """Cancel every entry and close every position at market (trading stays on)."""
        check_write(request)
        exits = trader.flatten(reason="flatten (API)")
        return response_class(_command(trader, exits))


def _command(trader: Trader, exits: int = 0) -> Response:
    return CommandView(
        state=trader.risk.state.name.lower(), reason=trader.risk.state_reason, exits_sent=exits
    )
