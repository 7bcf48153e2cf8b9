"""The WebSocket stream: throttled per-symbol state and signals, every closed candle and every
regime change, to each client.

Client -> server: {"op": "subscribe" | "unsubscribe", "symbols": ["BTCUSDT", ...]}, or
{"op": "book", "symbols": ["BTCUSDT"], "depth": 50} to follow one symbol's book and trades
(an empty list stops it; a new one replaces the last).
Server -> client: {"type": "subscribed", "symbols": [...], "unknown": [...]},
{"type": "state", "symbol": ..., "data": <basic view>}, {"type": "signals", "symbol": ...,
"data": <signal summary: score, direction, confluence, regimes>} (with signals on, after each
state), {"type": "candle", "symbol": ..., "timeframe": ..., "candle": <candle view>},
{"type": "regime", "symbol": ..., "data": <regime change and its inputs>},
{"type": "book", "symbol": ..., "data": <book view, `depth` levels a side>, "walls": {"bids":
[...], "asks": [...]}} (at most once a tick, when the book changed),
{"type": "trades", "symbol": ..., "trades": [<trade view>, ...]} (the followed symbol's trades
since the last tick, newest first, at most MAX_BOOK_TRADES), {"type": "alert", "data": <an alert
rule fired (scalper.alerts.Alert)>} to every client, {"type": "error", "message": ...}.

The engine is never slowed by a client: the engine callback and the throttle tick only put
into each client's bounded queue (`queue_size` messages) and a client whose queue is full is
dropped (closed with 1008). State is sent at most once a tick (`tick_s`) per symbol and only
when its frame counter moved, so the newest state always wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final, Literal

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from scalper.alerts import Alert
from scalper.api.alert_feed import AlertMonitor
from scalper.api.responses import basic_view, trade_view
from scalper.engine import CandleClosed, Engine, Notification
from scalper.feed_status import MarketFeed
from scalper.metrics import walls
from scalper.signals import RegimeChanged, SignalEngine
from scalper.views import WallsView, book_view, candle_view

log = logging.getLogger(__name__)

MAX_SYMBOLS_PER_CLIENT: Final = 1000
"""A subscription above this is refused (bounds each tick's work per client)."""
MAX_BOOK_DEPTH: Final = 200
"""Levels a side of a followed book, at most."""
MAX_BOOK_TRADES: Final = 500
"""Trades of the followed symbol in one tick's message, at most (the newest)."""
DROPPED_CLOSE_CODE: Final = 1008


class ClientRequest(msgspec.Struct, forbid_unknown_fields=True):
    op: Literal["subscribe", "unsubscribe", "book"]
    symbols: list[str]
    depth: int = 25
    """Levels a side of a followed book (op "book"), 1 to MAX_BOOK_DEPTH."""


_decode_request = msgspec.json.Decoder(ClientRequest).decode
_encode = msgspec.json.Encoder().encode


class StreamClient:
    """One WebSocket client: its subscriptions and bounded outgoing queue."""

    def __init__(self, queue_size: int) -> None:
        self.symbols: set[str] = set()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.sent_frames: dict[str, int] = {}
        """The symbol's frame counter when its state was last queued: unchanged, no update."""
        self.dropped = asyncio.Event()
        self.book_symbol: str | None = None
        """The symbol whose book and trades the client follows (op "book")."""
        self.book_depth = 25
        self.book_update_id: int | None = None
        """The followed book's update id when last queued: unchanged, no update."""
        self.book_trades: int | None = None
        """The followed symbol's trade counter when its trades were last queued."""

    def offer(self, message: bytes) -> bool:
        """Queue a message; a full queue drops the client (policy: drop the slow client)."""
        if self.dropped.is_set():
            return False
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        return True


class StreamHub:
    """Every connected client, the engine subscription and the throttle tick."""

    def __init__(
        self,
        engine: Engine,
        feed: MarketFeed | None,
        tick_s: float = 0.25,
        queue_size: int = 1024,
        clock: Callable[[], int] = time.time_ns,
        signals: SignalEngine | None = None,
        alerts: AlertMonitor | None = None,
    ) -> None:
        self.engine = engine
        self.alerts = alerts
        self.clock = clock
        self.feed = feed
        self.signals = signals
        self.tick_s = tick_s
        self.queue_size = queue_size
        self.clients: set[StreamClient] = set()
        self.dropped = 0
        self._tick_task: asyncio.Task[None] | None = None
        engine.subscribe(self.on_notification)
        if signals is not None:
            signals.subscribe(self.on_regime_change)
        if alerts is not None:
            alerts.subscribe(self.on_alert)

    def on_alert(self, alert: Alert) -> None:
        """An alert fired: to every client, whatever it subscribed to."""
        if not self.clients:
            return
        message = _encode({"type": "alert", "data": alert})
        for client in tuple(self.clients):
            self._offer(client, message)

    def on_regime_change(self, change: RegimeChanged) -> None:
        """Signals callback (inline): a regime change to the clients subscribed to its symbol."""
        message: bytes | None = None
        for client in tuple(self.clients):
            if change.symbol in client.symbols:
                if message is None:
                    message = _encode({"type": "regime", "symbol": change.symbol, "data": change})
                self._offer(client, message)

    def on_notification(self, notification: Notification) -> None:
        """Engine callback (inline on the hot path): closed candles to subscribed clients."""
        if type(notification) is not CandleClosed or not self.clients:
            return
        closed: CandleClosed = notification  # type: ignore[assignment]
        message: bytes | None = None
        for client in tuple(self.clients):  # _offer may drop a client from the set
            if closed.symbol in client.symbols:
                if message is None:
                    message = _encode(
                        {
                            "type": "candle",
                            "symbol": closed.symbol,
                            "timeframe": closed.timeframe,
                            "candle": candle_view(closed.candle),
                        }
                    )
                self._offer(client, message)

    def connect(self) -> StreamClient:
        client = StreamClient(self.queue_size)
        self.clients.add(client)
        if self._tick_task is None:
            self._tick_task = asyncio.get_running_loop().create_task(self._tick_forever())
        return client

    def disconnect(self, client: StreamClient) -> asyncio.Task[None] | None:
        """Forget the client; the last one's leaving stops the tick task, returned (cancelled)
        for the caller to await."""
        self.clients.discard(client)
        if not self.clients and self._tick_task is not None:
            ticker, self._tick_task = self._tick_task, None
            ticker.cancel()
            return ticker
        return None

    def known(self, symbol: str) -> bool:
        return symbol in self.engine.symbols or (
            self.feed is not None and symbol in self.feed.symbol_stats
        )

    def handle_request(self, client: StreamClient, raw: str | bytes) -> bytes:
        """Apply a client's request; returns the reply."""
        try:
            request = _decode_request(raw)
        except msgspec.DecodeError as exc:
            return _error(f"bad request: {exc}; send {{'op': 'subscribe', 'symbols': [...]}}")
        symbols = [symbol.upper() for symbol in request.symbols]
        if request.op == "book":
            return self._follow_book(client, symbols, request.depth)
        if request.op == "unsubscribe":
            client.symbols.difference_update(symbols)
            return _encode({"type": "subscribed", "symbols": sorted(client.symbols), "unknown": []})
        known = [symbol for symbol in symbols if self.known(symbol)]
        unknown = sorted(set(symbols) - set(known))
        if len(client.symbols | set(known)) > MAX_SYMBOLS_PER_CLIENT:
            return _error(f"at most {MAX_SYMBOLS_PER_CLIENT} symbols per connection")
        client.symbols.update(known)
        for symbol in known:
            client.sent_frames.pop(symbol, None)  # send the current state at the next tick
        return _encode(
            {"type": "subscribed", "symbols": sorted(client.symbols), "unknown": unknown}
        )

    def _follow_book(self, client: StreamClient, symbols: list[str], depth: int) -> bytes:
        if len(symbols) > 1 or not 1 <= depth <= MAX_BOOK_DEPTH:
            return _error(f"op book: one symbol (or none to stop), depth 1 to {MAX_BOOK_DEPTH}")
        if symbols and symbols[0] not in self.engine.symbols:
            return _error(f"op book: unknown symbol {symbols[0]}")
        client.book_symbol = symbols[0] if symbols else None
        client.book_depth = depth
        client.book_update_id = None
        client.book_trades = None
        return _encode({"type": "book_followed", "symbol": client.book_symbol, "depth": depth})

    def reply(self, client: StreamClient, raw: str | bytes) -> None:
        self._offer(client, self.handle_request(client, raw))

    def tick(self) -> None:
        """Queue the state of every subscribed symbol whose frame counter moved."""
        engine = self.engine
        now_ns = self.clock()
        if self.alerts is not None:
            self.alerts.poll(now_ns)
        encoded: dict[str, list[bytes]] = {}
        for client in list(self.clients):
            for symbol in client.symbols:
                state = engine.symbols.get(symbol)
                if state is None or client.sent_frames.get(symbol) == state.counters.frames:
                    continue
                messages = encoded.get(symbol)
                if messages is None:
                    messages = encoded[symbol] = self._state_messages(symbol, now_ns)
                if not all(self._offer(client, message) for message in messages):
                    break
                client.sent_frames[symbol] = state.counters.frames
            if client.book_symbol is not None and client in self.clients:
                self._book_tick(client)

    def _book_tick(self, client: StreamClient) -> None:
        """The followed symbol's book (when it changed) and its trades since the last tick."""
        state = self.engine.symbols.get(client.book_symbol or "")
        if state is None:
            return
        book = state.book
        if book is not None and book.update_id != client.book_update_id:
            tick_size = None
            if self.feed is not None:
                instrument = self.feed.instruments.get(state.symbol)
                tick_size = instrument.tick_size if instrument is not None else None
            message = {
                "type": "book",
                "symbol": state.symbol,
                "data": book_view(book, client.book_depth, tick_size),
                "walls": WallsView(walls(book.bids), walls(book.asks)),
            }
            if not self._offer(client, _encode(message)):
                return
            client.book_update_id = book.update_id
        count = state.counters.trades
        if client.book_trades is not None and count > client.book_trades:
            recent = state.recent_trades
            new = min(count - client.book_trades, len(recent), MAX_BOOK_TRADES)
            threshold = self.engine.config.large_trade_notional
            views = [trade_view(recent[-1 - k], threshold) for k in range(new)]
            message = {"type": "trades", "symbol": state.symbol, "trades": views}
            if not self._offer(client, _encode(message)):
                return
        client.book_trades = count

    def _state_messages(self, symbol: str, now_ns: int) -> list[bytes]:
        state = self.engine.symbols[symbol]
        view = basic_view(self.engine, state, self.feed, now_ns)
        messages = [_encode({"type": "state", "symbol": symbol, "data": view})]
        summary = self.signals.summary(symbol) if self.signals is not None else None
        if summary is not None:
            messages.append(_encode({"type": "signals", "symbol": symbol, "data": summary}))
        return messages

    def _offer(self, client: StreamClient, message: bytes) -> bool:
        if client.offer(message):
            return True
        if client in self.clients:
            self.clients.discard(client)
            self.dropped += 1
            log.warning(
                "websocket client dropped: its queue of %d messages is full", self.queue_size
            )
        return False

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()

    async def serve(self, websocket: WebSocket) -> None:
        """Run one client until it leaves or is dropped."""
        await websocket.accept()
        client = self.connect()
        tasks = [
            asyncio.create_task(_read(websocket, client, self.reply)),
            asyncio.create_task(_write(websocket, client)),
            asyncio.create_task(client.dropped.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            stopped = self.disconnect(client)
            if stopped is not None:
                tasks.append(stopped)
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if client.dropped.is_set():
            # The client is not reading, so the close frame may never go out: bounded wait.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    websocket.close(DROPPED_CLOSE_CODE, "too slow: queue full"), 1.0
                )


async def _read(
    websocket: WebSocket, client: StreamClient, reply: Callable[[StreamClient, Any], None]
) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            reply(client, raw)


async def _write(websocket: WebSocket, client: StreamClient) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await client.queue.get()
            await websocket.send_text(message.decode())


def _error(message: str) -> bytes:
    return _encode({"type": "error", "message": message})
