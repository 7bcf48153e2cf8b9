"""The FastAPI application: routes that read engine state and answer JSON.

Every route is `async def` so that it runs on the engine's loop, between two events: no route
ever sees a half-applied update and none needs a lock. Nothing here mutates the engine.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures, and the
# timeframe parameter's schema depends on the engine, a local of create_app.

import logging
import pathlib
import time
from collections.abc import Callable
from typing import Annotated, Any, Final

import msgspec
from fastapi import FastAPI, HTTPException, Path, Query, Request, WebSocket
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from scalper.alerts import AlertRules
from scalper.api.access import HostCheck, allowed_hosts
from scalper.api.alert_feed import AlertMonitor, AlertsView
from scalper.api.health import SERVING, HealthReporter, HealthView
from scalper.api.prometheus import CONTENT_TYPE, exposition
from scalper.api.responses import (
    BasicView,
    CandlesView,
    ErrorBody,
    SymbolsView,
    TradesView,
    basic_view,
    candles_view,
    monitor_trades,
    recent_trades,
    sort_keys,
    sort_rows,
    symbol_row,
)
from scalper.api.stream import StreamHub
from scalper.api.trading_routes import TRADING_MODELS, add_trading_routes
from scalper.engine import Engine, SymbolState
from scalper.feed_status import MarketFeed
from scalper.footprint import Footprints, FootprintsView, SessionProfileView
from scalper.settings import AlertSettings, ApiSettings
from scalper.signals import SignalEngine, SignalsView
from scalper.storage.recorder import Recorder
from scalper.trading.trader import Trader
from scalper.views import BookView, SymbolView, book_view, symbol_view

log = logging.getLogger(__name__)

SymbolPath = Annotated[str, Path(min_length=1, max_length=64, description="case-insensitive")]
MAX_LIMIT: Final = 1000
DASHBOARD_DIR: Final = pathlib.Path(__file__).resolve().parent.parent / "web" / "static"
"""The dashboard's static files (index.html, app.js; vendor/ is copied there by `npm run build`)."""

_MODELS: Final = (
    SymbolsView,
    BasicView,
    SymbolView,
    CandlesView,
    BookView,
    TradesView,
    HealthView,
    SignalsView,
    AlertsView,
    FootprintsView,
    SessionProfileView,
    *TRADING_MODELS,
    ErrorBody,
)
_SCHEMAS, _COMPONENTS = msgspec.json.schema_components(
    _MODELS, ref_template="#/components/schemas/{name}"
)
_SCHEMA_OF: Final = dict(zip(_MODELS, _SCHEMAS, strict=True))


class MsgspecResponse(JSONResponse):
    """JSON encoded by msgspec: the views are Structs, encoded without copying to dicts."""

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def _doc(model: type, *errors: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a route: the model on 200 and an ErrorBody on each error code."""
    error = {"content": {"application/json": {"schema": _SCHEMA_OF[ErrorBody]}}}
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "OK", "content": {"application/json": {"schema": _SCHEMA_OF[model]}}}
    }
    for code in errors:
        responses[code] = {"description": "error", **error}
    return responses


def create_app(
    engine: Engine,
    feed: MarketFeed | None = None,
    api_settings: ApiSettings | None = None,
    stale_after_s: float = 10.0,
    recorder: Recorder | None = None,
    started_ns: int | None = None,
    clock: Callable[[], int] = time.time_ns,
    signals: SignalEngine | None = None,
    trader: Trader | None = None,
    write_token: str | None = None,
    alerts: AlertSettings | None = None,
    footprints: Footprints | None = None,
) -> FastAPI:
    """The API over `engine` (and `feed`'s connections and `recorder`'s disk, for health, and
    `signals`' factors, regimes and scores; None when switched off).

    `stale_after_s`: with no frame for this long, health answers 503. `api_settings`: the
    WebSocket stream's throttle and per-client queue (host and port are the server's).
    `clock`: "now" in ns for ages and staleness: the wall clock, or a paced replay's clock.
    `trader`: the trading core, served under /api/trading (its writes need `write_token`).
    Every request's Host must be loopback or one of `api_settings.allowed_hosts`.
    `alerts`: the alert rules, fed from the signals, trader and feed (None: no alerts).
    `footprints`: the footprint candles the engine's tap keeps (None: not kept).
    """
    api_settings = api_settings or ApiSettings()
    app = FastAPI(
        docs_url=None,  # served below from the vendored Swagger UI: the default loads a CDN
        redoc_url=None,
        title="scalper",
        summary="Market-microstructure state of every tracked symbol (read-only).",
        version="0.1.0",
    )
    health = HealthReporter(
        engine, feed, started_ns or clock(), stale_after_s, recorder, clock=clock
    )
    monitor = (
        AlertMonitor(AlertRules(alerts), signals, trader, health) if alerts is not None else None
    )
    hub = StreamHub(
        engine,
        feed,
        tick_s=api_settings.ws_tick_s,
        queue_size=api_settings.ws_queue_size,
        clock=clock,
        signals=signals,
        alerts=monitor,
    )
    app.state.hub = hub
    app.state.health = health
    _install_error_handlers(app)
    _install_openapi(app)
    hosts = allowed_hosts(api_settings.allowed_hosts)
    app.add_middleware(HostCheck, hosts=hosts)
    if trader is not None:
        if write_token is None:
            raise ValueError("a trader's API needs a write token")
        add_trading_routes(app, trader, write_token, hosts, MsgspecResponse, _doc)

    def state_of(symbol: str) -> SymbolState:
        name = symbol.upper()
        state = engine.symbols.get(name)
        if state is None:
            raise HTTPException(404, f"unknown symbol {name}: GET /api/symbols lists them")
        return state

    sortable = sort_keys(engine.config.flow_windows)

    @app.get("/api/symbols", response_class=MsgspecResponse, responses=_doc(SymbolsView, 422))
    async def symbols(
        sort: Annotated[
            str,
            Query(
                description="a column, or `delta_<window>` / `volume_<window>` of a configured "
                "flow window; '-' first for descending",
                json_schema_extra={"enum": sortable},
            ),
        ] = "symbol",
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    ) -> Response:
        """Every tracked symbol: mid, spread, top-10 imbalance, delta and volume over each
        configured flow window, age; the signal score, direction, confluence and regimes."""
        if sort not in sortable:
            raise _bad_parameter("sort", sort, f"unknown sort; one of {', '.join(sortable)}")
        now_ns = clock()
        rows = [
            symbol_row(engine, state, feed, now_ns, signals) for state in engine.symbols.values()
        ]
        rows = sort_rows(rows, sort)[:limit]
        return MsgspecResponse(SymbolsView(len(rows), rows))

    @app.get(
        "/api/symbol/{symbol}/basic",
        response_class=MsgspecResponse,
        responses=_doc(BasicView, 404, 422),
    )
    async def basic(symbol: SymbolPath) -> Response:
        """Top of book, spread, imbalance set, flow totals and windows, last update; plus
        `orderbook` (25 levels a side, `lastUpdateAt` in epoch ms) and `trades` (the last 20
        and their flow), the shapes the replaced system's runbooks query."""
        view = basic_view(engine, state_of(symbol), feed, clock(), True)
        return MsgspecResponse(view)

    @app.get(
        "/api/symbol/{symbol}/profile",
        response_class=MsgspecResponse,
        responses=_doc(SymbolView, 404, 422),
    )
    async def profile(
        symbol: SymbolPath, levels: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10
    ) -> Response:
        """The full state: book (top `levels`), metrics, walls, flow, candles of every timeframe."""
        return MsgspecResponse(symbol_view(engine, state_of(symbol), levels))

    @app.get(
        "/api/symbol/{symbol}/signals",
        response_class=MsgspecResponse,
        responses=_doc(SignalsView, 404, 422),
    )
    async def symbol_signals(symbol: SymbolPath) -> Response:
        """Every factor (value, status, weight, z-score, contribution), the score with its
        direction, confluence and gates, the regimes with their inputs and last change, as of
        the last closed tick (`as_of_ns`). The contributions add up to the score."""
        state = state_of(symbol)
        if signals is None:
            raise HTTPException(404, "signals are switched off (signals.enabled = false)")
        view = signals.view(state.symbol)
        if view is None:
            raise HTTPException(404, f"no signals yet for {state.symbol}")
        return MsgspecResponse(view)

    @app.get(
        "/api/symbol/{symbol}/candles",
        response_class=MsgspecResponse,
        responses=_doc(CandlesView, 404, 422),
    )
    async def candles(
        symbol: SymbolPath,
        tf: Annotated[
            str | None,
            Query(
                description="a timeframe (the engine's first by default)",
                json_schema_extra={"enum": list(engine.config.timeframes)},
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> Response:
        """The last `limit` closed candles of one timeframe (oldest first) and the forming one."""
        timeframes = engine.config.timeframes
        # Case matters: 1m is a minute, 1M (a month, by convention) is not a timeframe here.
        timeframe = timeframes[0] if tf is None else tf
        if timeframe not in timeframes:
            raise _bad_parameter("tf", tf, f"unknown timeframe; one of {', '.join(timeframes)}")
        return MsgspecResponse(candles_view(state_of(symbol), timeframe, limit))

    if footprints is not None:
        _add_footprint_route(app, engine, footprints, state_of)
    if monitor is not None:
        _add_alerts_route(app, monitor, clock)

    @app.get(
        "/api/symbol/{symbol}/book",
        response_class=MsgspecResponse,
        responses=_doc(BookView, 404, 422),
    )
    async def book(
        symbol: SymbolPath, depth: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25
    ) -> Response:
        """The order book, `depth` levels a side."""
        state = state_of(symbol)
        if state.book is None:
            raise HTTPException(404, f"no book yet for {state.symbol}")
        instrument = feed.instruments.get(state.symbol) if feed is not None else None
        return MsgspecResponse(
            book_view(state.book, depth, instrument.tick_size if instrument else None)
        )

    @app.get(
        "/api/symbol/{symbol}/trades",
        response_class=MsgspecResponse,
        responses=_doc(TradesView, 404, 422),
    )
    async def trades(
        symbol: SymbolPath, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50
    ) -> Response:
        """The symbol's most recent trades, newest first."""
        return MsgspecResponse(recent_trades(state_of(symbol), engine, limit))

    @app.get("/api/monitor/trades", response_class=MsgspecResponse, responses=_doc(TradesView, 422))
    async def trade_monitor(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100, large_only: bool = False
    ) -> Response:
        """Recent trades across every symbol, newest first; large trades flagged."""
        return MsgspecResponse(monitor_trades(engine, limit, large_only))

    @app.get(
        "/api/monitor/health",
        response_class=MsgspecResponse,
        responses={**_doc(HealthView), 503: {"description": "feed down or stale (same body)"}},
    )
    async def health_check() -> Response:
        """Connections, lag, gaps, resyncs, reconnects, decode errors, memory, uptime.

        503 when no connection is open or no frame arrived within `stale_after_s`."""
        report = health.report(len(hub.clients), hub.dropped)
        return MsgspecResponse(report, status_code=200 if report.status in SERVING else 503)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def metrics() -> Response:
        """Prometheus exposition, read from the engine at scrape time."""
        return Response(exposition(engine, health, signals, trader), media_type=CONTENT_TYPE)

    @app.websocket("/ws")
    async def stream(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        """Swagger UI from /static/vendor (npm's swagger-ui-dist): works offline."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="scalper API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        """The live dashboard (its assets are under /static/)."""
        return FileResponse(DASHBOARD_DIR / "index.html")

    # Under a prefix, not at "/": a mount at "/" would shadow every route added after it.
    app.mount("/static", StaticFiles(directory=DASHBOARD_DIR), name="dashboard")
    return app


def _add_footprint_route(
    app: FastAPI, engine: Engine, footprints: Footprints, state_of: Callable[[str], SymbolState]
) -> None:
    timeframe = footprints.settings.timeframe

    @app.get(
        "/api/symbol/{symbol}/footprint",
        response_class=MsgspecResponse,
        responses=_doc(FootprintsView, 404, 422),
    )
    async def footprint(
        symbol: SymbolPath,
        tf: Annotated[
            str | None,
            Query(
                description="the footprint timeframe (`footprint.timeframe`)",
                json_schema_extra={"enum": [timeframe]},
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 30,
    ) -> Response:
        """Footprint candles (oldest first, the last may be forming): buy and sell volume of
        aggressors at each price level, delta, point of control."""
        state = state_of(symbol)
        if tf is not None and tf != timeframe:
            raise _bad_parameter("tf", tf, f"footprints are kept for {timeframe} only")
        view = footprints.view(state.symbol, limit, engine.clock_ns)
        if view is None:
            raise HTTPException(404, f"no trades yet for {state.symbol}")
        return MsgspecResponse(view)

    @app.get(
        "/api/symbol/{symbol}/volume-profile",
        response_class=MsgspecResponse,
        responses=_doc(SessionProfileView, 404, 422),
    )
    async def volume_profile(
        symbol: SymbolPath,
        center: Annotated[
            float | None,
            Query(gt=0, le=1e12, description="a price (the last trade's by default)"),
        ] = None,
        levels: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 60,
    ) -> Response:
        """The session's volume at each price (since 00:00 UTC, or the first trade seen if
        later): buy and sell volume per footprint level within `levels` levels of `center`
        (no levels and `since_ns` null before the symbol's first trade)."""
        state = state_of(symbol)
        if center is None and state.recent_trades:
            center = state.recent_trades[-1].price
        return MsgspecResponse(footprints.profile(state.symbol, center, levels))


def _add_alerts_route(app: FastAPI, monitor: AlertMonitor, clock: Callable[[], int]) -> None:
    @app.get("/api/alerts", response_class=MsgspecResponse, responses=_doc(AlertsView, 422))
    async def alert_list(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50) -> Response:
        """The latest alerts the rules of `alerts.rules` fired (newest first)."""
        monitor.poll(clock())
        return MsgspecResponse(monitor.view(limit))


def _bad_parameter(name: str, value: object, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", name), "msg": message, "type": "value_error", "input": value}]
    )


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON with a `message`; no stack trace ever reaches a client."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return MsgspecResponse(
            ErrorBody(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [_shortened(error) for error in jsonable_encoder(exc.errors())]
        parts = [
            f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg')}"
            for error in errors
        ]
        return MsgspecResponse(
            ErrorBody(f"invalid request: {'; '.join(parts)}", errors), status_code=422
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return MsgspecResponse(ErrorBody("internal error (logged on the server)"), status_code=500)


_ECHO_CHARS: Final = 100
"""At most this much of a rejected input is echoed back (a 100 KB symbol gets a short 422)."""


def _shortened(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error with its echoed input cut to _ECHO_CHARS characters."""
    value = error.get("input")
    if isinstance(value, str) and len(value) > _ECHO_CHARS:
        error = {**error, "input": f"{value[:_ECHO_CHARS]}... ({len(value)} characters)"}
    ctx = error.get("ctx")
    if isinstance(ctx, dict):
        error = {**error, "ctx": {k: v for k, v in ctx.items() if k != "error"}}
    return error


def _install_openapi(app: FastAPI) -> None:
    """FastAPI's schema plus the msgspec view schemas the routes reference."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_COMPONENTS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
