"""The local Bybit v5-compatible exchange: a market source paced by the wall clock, served on
loopback over WebSocket (`/v5/public/linear`, `/v5/public/spot`) and REST (`/v5/market/*`),
and one trading account on Bybit's private API (signed `/v5/order/*`, `/v5/position/list`,
`/v5/account/*` and the `/v5/private` stream; private_*.py) matched against this market.

Data flow: source (synthetic market or recorded file) -> pump (sends each frame once due, holds
frames while a delay is on) -> publish (applies the frame to the published record, applies
per-frame faults, renumbers `u` after a reset) -> fan-out to each subscriber's bounded queue ->
one writer task per connection. The pump never awaits a client.

    async with ExchangeSimulator(SimulatorSettings(symbols=20)) as simulator:
        url = simulator.ws_url("linear")   # ws://127.0.0.1:<port>/v5/public/linear
        ...
        simulator.inject_gap("SYM003USDT")
        bids, asks = simulator.published_book("SYM003USDT")
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import msgspec
from starlette.applications import Starlette

from scalper.embedded_server import RunningServer, listen, serve_app
from scalper.events import Level
from scalper.settings import SimulatorSettings
from scalper.venues.bybit.topics import book_topic
from scalper.venues.simulator.alpha import planted_alpha
from scalper.venues.simulator.faults import FAULT_KINDS, fault_dice
from scalper.venues.simulator.market import SyntheticMarket
from scalper.venues.simulator.private_auth import PrivateGate
from scalper.venues.simulator.private_faults import PrivateFaults
from scalper.venues.simulator.private_rest import PrivateEndpoints
from scalper.venues.simulator.private_stream import PrivateStreams
from scalper.venues.simulator.private_venue import SimulatedAccount
from scalper.venues.simulator.published import PublishedMarket
from scalper.venues.simulator.publisher import Publisher
from scalper.venues.simulator.rest_endpoints import MarketEndpoints
from scalper.venues.simulator.sessions import Message, Receive, Send, WebSocketDesk
from scalper.venues.simulator.source import (
    RECORDED_BOOK_DEPTHS,
    Catalog,
    market_process_frames,
    replay_frames,
    synthetic_catalog,
    synthetic_frames,
    synthetic_market,
)

PRIVATE_WS_PATH: Final = "/v5/private"
WS_PATHS: Final = {"/v5/public/linear": "linear", "/v5/public/spot": "spot"}
"""Public stream paths (/docs/v5/ws/connect); both serve the same market."""
_BATCH: Final = 256
"""Frames the pump publishes before yielding to the event loop: ~10 ms of work at most, so
handshakes and sends keep moving even when the source is behind."""
_IDLE_S: Final = 0.01
"""Longest pump sleep: bounds how late a delay's end or a stop is noticed."""
_HOLD_LIMIT: Final = 1_000_000
"""Frames held during a delay, at most; when full, the delay ends early and they are sent."""


class _App:
    """ASGI entry: WebSocket scopes go to the desk with uvicorn's own `send` (whose transport a
    dropped connection aborts) or to the private streams, everything else to the Starlette
    REST app."""

    def __init__(
        self, desk: WebSocketDesk, private: PrivateStreams, rest: Callable[..., Any]
    ) -> None:
        self._desk = desk
        self._private = private
        self._rest = rest

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self._rest(scope, receive, send)
            return
        if scope["path"] == PRIVATE_WS_PATH:
            await self._private.serve(scope, receive, send)
            return
        category = WS_PATHS.get(scope["path"])
        if category is None:
            await send({"type": "websocket.close", "code": 1008})
            return
        await self._desk.serve(category, receive, send)


class ExchangeSimulator:
    """A Bybit v5 public market on loopback: what it published, the model's truth, faults."""

    def __init__(
        self,
        config: SimulatorSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        replay: Iterable[tuple[int, bytes]] | None = None,
        paced: bool = True,
    ) -> None:
        """`replay`: (recv_ns, frame) pairs of a recording (`scalper.replay.iter_frames(path)`)
        to serve instead of the synthetic market, at `config.replay_speed`. `paced=False`: no
        pump; `step()` publishes the next frame, and the venue's clock is the frames' time (a
        test drives the market in lock-step with its client)."""
        self.config = config = config or SimulatorSettings()
        self.host = host
        self._requested_port = port
        self._replay = replay
        self.published = PublishedMarket()
        self.fault_counts: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        """Faults injected so far, by kind (random and on demand)."""
        self.catalog = Catalog(None, RECORDED_BOOK_DEPTHS)
        self._desk = WebSocketDesk(
            self.catalog,
            self.published.snapshot,
            self.fault_counts,
            config.seed,
            config.send_queue_frames,
        )
        self._desk.rejected_symbols = frozenset(config.faults.reject_symbols)
        self._dice = fault_dice(config.faults, config.seed)
        self._publisher = Publisher(self.published, self._desk, self._dice, self.fault_counts)
        self.gate = PrivateGate(config.account)
        """The private API's keys, clock (`gate.skew_ms`) and rate limits."""
        self.private_streams = PrivateStreams(self.gate)
        self.account = SimulatedAccount(config.account, self.private_streams.push)
        """The one trading account, matched against this market."""
        self.private_faults = PrivateFaults(config.faults, config.seed)
        """Refused creates, late answers and pushes, dropped private streams (counts too)."""
        self.private_streams.push_delay_s = config.faults.private_push_delay_s
        self.private_rest = PrivateEndpoints(self.gate, self.account, self.private_faults)
        self._publisher.tap = self.account.on_frame
        self._paced = paced
        self._market_ns = 0
        if not paced:
            self.account.clock = lambda: self._market_ns
        self._held: deque[bytes] = deque()
        self._delay_until = 0.0
        self._frames: Iterator[tuple[int, bytes]] | None = None
        self._origin_ns = 0
        self._second = -1
        self._socket: socket.socket | None = None
        self._server: RunningServer | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self.port = 0
        self.lag_ms = 0.0
        """How late the pump is sending the frames now due (CPU-bound when large)."""
        self.source_done = False
        self._market: SyntheticMarket | None = None
        """The market model, when it runs in this process (the truth of `true_book`)."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, build the source and start pumping; `port` is the bound port afterwards."""
        if self._socket is not None or self._server is not None:
            raise RuntimeError("a simulator starts once; make a new one")
        self._socket = listen(self.host, self._requested_port)  # first: a busy port costs nothing
        self.port = self._socket.getsockname()[1]
        try:
            self._frames = self._open_source()
            self._desk.catalog = self.catalog
            if self.catalog.instruments is not None:
                self.account.set_qty_steps(
                    {s: c.qty_step for s, c in self.catalog.instruments.items()}
                )
            market = MarketEndpoints(self.catalog, self.published)
            market.now_ms = self.gate.now_ms
            rest = Starlette(routes=[*market.app().routes, *self.private_rest.routes()])
            app = _App(self._desk, self.private_streams, rest)
            self._server = await serve_app(
                app, self.host, self.port, "simulator", graceful_s=5.0, sock=self._socket
            )
        except BaseException:
            await self.stop()
            raise
        if self._paced:
            self._pump_task = asyncio.create_task(self._pump(self._frames), name="simulator-pump")

    def step(self) -> tuple[int, bytes] | None:
        """Unpaced only: publish the source's next frame now (faults included) and return
        (due_ns, frame); None at the source's end. The venue's clock moves to `due_ns`."""
        if self._paced or self._frames is None:
            raise RuntimeError("step() drives a started simulator made with paced=False")
        item = next(self._frames, None)
        if item is None:
            return None
        self._market_ns = max(self._market_ns, item[0])
        self._take(item)
        return item

    def _open_source(self) -> Iterator[tuple[int, bytes]]:
        config = self.config
        if self._replay is not None:
            self._origin_ns = time.time_ns()
            return replay_frames(self._replay, config.replay_speed, self._origin_ns)
        market = synthetic_market(
            config.symbols,
            config.seed,
            config.rate,
            config.depth,
            alpha=planted_alpha(config.alpha),
        )
        self.catalog = synthetic_catalog(market)
        self._origin_ns = market.config.start_ms * 1_000_000
        if config.market_process:
            return market_process_frames(market.config)
        self._market = market
        return synthetic_frames(market)

    async def stop(self) -> None:
        """Stop the pump, close every connection (uvicorn sends close code 1012, "service
        restart") and the server. Safe to call twice."""
        if self._pump_task is not None:
            self._pump_task.cancel()
            await asyncio.wait([self._pump_task])
            self._pump_task = None
        close = getattr(self._frames, "close", None)
        if close is not None:  # a recording's generator holds its file open
            close()
        self._frames = None
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def __aenter__(self) -> ExchangeSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def private_ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{PRIVATE_WS_PATH}"

    def ws_url(self, category: str = "linear") -> str:
        return f"ws://{self.host}:{self.port}/v5/public/{category}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- truth ----------------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        """The source's symbols (for a recording: those published so far)."""
        instruments = self.catalog.instruments
        return list(instruments) if instruments is not None else self.published.symbols()

    def published_book(self, symbol: str) -> tuple[list[Level], list[Level]]:
        """(bids, asks) best first of the book as published so far; empty before its snapshot."""
        book = self.published.books_by_symbol.get(symbol)
        return book.levels() if book is not None else ([], [])

    @property
    def has_model(self) -> bool:
        """Whether the market model runs in this process (`true_book` can answer)."""
        return self._market is not None

    def true_book(self, symbol: str, update_id: int) -> tuple[list[Level], list[Level]] | None:
        """(bids, asks) best first that a client's book must hold at `update_id` (as clients
        number it), from the market model itself; None when the model cannot tell (it keeps
        the last two frames' books: a client far behind, or ahead of a gap), or when there is
        no model in this process (a recording, or a market generated in a child process).
        Independent of the published record and of the engine's code: what tests compare a
        client's book with."""
        market = self._market
        if market is None:
            return None
        topic = book_topic(symbol, self.config.depth)
        return market.book_at(symbol, self._publisher.source_update_id(topic, update_id))

    def published_update_id(self, symbol: str) -> int:
        """`u` of the last book frame published for `symbol` (0 before any)."""
        book = self.published.books_by_symbol.get(symbol)
        return book.update_id if book is not None else 0

    def published_ticker(self, symbol: str) -> dict[str, Any]:
        """The merged ticker fields published so far."""
        ticker = self.published.tickers.get(symbol)
        return dict(ticker.values) if ticker is not None else {}

    def recent_trades(self, symbol: str) -> list[dict[str, Any]]:
        """The last trades published (at most 1,000), oldest first, as on the wire."""
        tape = self.published.tapes.get(symbol)
        return [msgspec.structs.asdict(row) for row in tape.trades] if tape is not None else []

    @property
    def frames_published(self) -> int:
        return self._publisher.frames_published

    @property
    def source_errors(self) -> int:
        """Source frames the published record could not read (sent as they were)."""
        return self._publisher.source_errors

    @property
    def connections(self) -> int:
        """Open client connections (a dropped one no longer counts, even before its cleanup)."""
        return sum(not session.closed for session in self._desk.sessions)

    @property
    def slow_clients_dropped(self) -> int:
        """Connections dropped because they did not read fast enough."""
        return self._desk.slow_clients_dropped

    # -- faults on demand -----------------------------------------------------------------------

    def drop_private_streams(self) -> int:
        """End every private stream connection; returns how many."""
        self.private_faults.counts["private_drop"] += 1
        return self.private_streams.drop_all()

    def reject_orders(self, code: int = 110007, count: int = 1) -> None:
        """Refuse the next `count` order creates with retCode `code` (110007 insufficient
        balance, 10001 parameters); nothing is placed."""
        self.private_faults.reject_next(code, count)

    def delay_acks(self, seconds: float) -> None:
        """From now on hold the REST answers of create, amend and cancel `seconds` (0: off)."""
        self.private_faults.ack_delay_s = seconds

    def delay_private_pushes(self, seconds: float) -> None:
        """From now on send the private stream's pushes `seconds` late (0: off)."""
        self.private_streams.push_delay_s = seconds

    def drop_connections(self) -> int:
        """Cut every client socket abruptly (no close frame); returns how many."""
        self.fault_counts["drop"] += 1
        return self._desk.drop_all()

    def stall(self, seconds: float) -> None:
        """Stall every open connection for `seconds`: sockets stay open, nothing at all is sent
        (frames, acks, pongs) and the frames meanwhile are lost to them, so their books see a
        gap afterwards. Connections opened during the stall are served normally."""
        self.fault_counts["stall"] += 1
        self._desk.stall(seconds)

    def delay(self, seconds: float) -> None:
        """Hold every frame for `seconds`, then deliver them all, late and in order."""
        self.fault_counts["delay"] += 1
        self._delay_until = max(self._delay_until, time.monotonic() + seconds)

    def inject_gap(self, symbol: str) -> None:
        """Do not send the next book delta of `symbol` to anyone (clients see `u` jump)."""
        self._inject(symbol, "gap")

    def inject_reset(self, symbol: str, as_delta: bool = False) -> None:
        """Restart `symbol`'s book service: its book with `u` = 1 (a snapshot, or with
        `as_delta` a delta carrying every level), then deltas from 2 on."""
        self._inject(symbol, "reset_delta" if as_delta else "reset")

    def inject_malformed(self, symbol: str) -> None:
        """Replace the next book delta of `symbol` by a frame that is not JSON."""
        self._inject(symbol, "malformed")

    def inject_truncated(self, symbol: str) -> None:
        """Replace the next book delta of `symbol` by its first half."""
        self._inject(symbol, "truncated")

    def reject_subscriptions(self, symbols: Iterable[str]) -> None:
        """From now on, subscribing to any topic of these symbols fails (empty: none does)."""
        self._desk.rejected_symbols = frozenset(symbols)

    def _inject(self, symbol: str, kind: str) -> None:
        if not self.catalog.knows(symbol):
            raise KeyError(f"unknown symbol {symbol!r}")
        self._publisher.inject(symbol, kind)

    def _timed_fault(self, kind: str) -> None:
        faults = self.config.faults
        if kind == "drop":
            self.drop_connections()
        elif kind == "stall":
            self.stall(faults.stall_seconds)
        else:
            self.delay(faults.delay_seconds)

    # -- pump -----------------------------------------------------------------------------------

    async def _pump(self, frames: Iterator[tuple[int, bytes]]) -> None:
        """Publish each frame once due; hold frames while a delay is on."""
        pending = next(frames, None)
        held = self._held
        while pending is not None or held:
            now = time.time_ns()
            budget = _BATCH
            while held and budget and time.monotonic() >= self._delay_until:
                self._publisher.publish(held.popleft())
                budget -= 1
            while pending is not None and budget and pending[0] <= now:
                self._take(pending)
                pending = next(frames, None)
                budget -= 1
            if not budget:
                await asyncio.sleep(0)
                continue
            self.lag_ms = max(0.0, (now - pending[0]) / 1e6) if pending is not None else 0.0
            wait = _IDLE_S
            if pending is not None:
                wait = min(wait, (pending[0] - now) / 1e9)
            if held:
                wait = min(wait, self._delay_until - time.monotonic())
            await asyncio.sleep(max(0.0, wait))
        self.source_done = True

    def _take(self, item: tuple[int, bytes]) -> None:
        due_ns, raw = item
        if not raw:  # the source had nothing ready yet
            return
        second = (due_ns - self._origin_ns) // 1_000_000_000
        if second != self._second:
            self._second = second
            for kind in self._dice.timed_faults():
                self._timed_fault(kind)
            if self.private_faults.roll_drop():
                self.drop_private_streams()
        if self._held or time.monotonic() < self._delay_until:
            if len(self._held) >= _HOLD_LIMIT:
                self._delay_until = 0.0  # full: end the delay; the pump sends what it held
            self._held.append(raw)
            return
        self._publisher.publish(raw)


async def serve_simulator(
    config: SimulatorSettings | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    replay: Iterable[tuple[int, bytes]] | None = None,
) -> ExchangeSimulator:
    """A started simulator (call `await simulator.stop()` when done)."""
    simulator = ExchangeSimulator(config, host=host, port=port, replay=replay)
    await simulator.start()
    return simulator
