"""`BybitExecution`: the trading core's `ExecutionClient` on Bybit's private API.

Orders go out over REST (rest.py); everything the trading core hears comes from the private
stream (stream.py), like the paper broker's events: `OrderUpdate`s from the `order` topic and
`Fill`s / `FundingPayment`s from `execution`, joined to our orders by orderId (learnt from the
REST answer or the order push; the fast execution topic leaves orderLinkId empty for maker
fills). A REST refusal becomes a REJECTED update with the reason, as the paper broker reports
one. Each order gets its own orderLinkId (order_ids.py), reused by its retry: a duplicate
answer (110072) means "already placed".

Safety: entries (orders that are not reduce-only) are refused while blocked — every symbol's
from start until the first reconcile and while the private stream is down; one symbol's while
its market data is lost — with the reason (`entries_blocked(symbol)`; `blocked` and
`blocked_reason` tell about any block). When the private stream, or the market data of a symbol
where we hold an order or a position, has been lost for `disconnect_cancel_s`, our open orders
(there) are cancelled over REST (Bybit's own disconnect-cancel is for institutional accounts);
entries stay blocked until both are back and a reconcile has run. The runtime feeds the market
half: an engine tap calls `note_market_data` on every market event (market_watch.py).

After the stream comes back, executions it missed are read over REST (/v5/execution/list, from
when it went down less `replay_margin_ms`) and reported once each: every execution id reported
is remembered (`exec_id_memory`), whichever path brought it.

Reconcile (at start and after each reconnect): fee rates and instrument filters (start only),
open orders, positions and wallet are read over REST and compared with what we hold. The rule:
the venue wins, and every difference is logged (and kept in `differences`). Orders with our
prefix that we do not know are leftovers of an earlier run and are cancelled; orders without
it are someone else's and left alone.

How to drive it: `BybitExecution.from_settings(settings.trading.bybit)`, `set_sink`, `await
start()`, then `submit`/`cancel`/`amend` from the loop's thread; call `note_market_data(symbol)`
on every market event of a traded symbol; `await close()` at the end. Times of events are the
venue's (ms -> ns); the watchdog alone reads the local monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

import msgspec

from scalper.settings import BybitPrivateSettings
from scalper.trading.execution import EventSink
from scalper.trading.orders import (
    ExecutionEvent,
    Fill,
    FundingPayment,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
)
from scalper.venues.bybit.private import wire
from scalper.venues.bybit.private.credentials import load_credentials
from scalper.venues.bybit.private.endpoints import resolve_endpoints
from scalper.venues.bybit.private.errors import (
    DuplicateOrderError,
    OrderNotFoundError,
    PrivateApiError,
    ServerError,
)
from scalper.venues.bybit.private.order_ids import is_ours, new_order_link_id
from scalper.venues.bybit.private.rest import BybitPrivateRest, format_decimal
from scalper.venues.bybit.private.stream import PrivateStream

log = logging.getLogger(__name__)

CLOSED_MEMORY: Final = 1024
"""Closed orders remembered (oldest forgotten first), to answer late pushes and cancels."""
PENDING_EXECUTIONS: Final = 1024
"""Executions held until their order is known (its REST answer may come after the push)."""
DIFFERENCES_KEPT: Final = 256
STREAM_DOWN: Final = "private stream down"
STARTING: Final = "not reconciled yet"


def _ns(ms: int) -> int:
    return ms * 1_000_000


class BybitExecution:
    """Bybit's private API behind the `ExecutionClient` protocol (module docstring)."""

    def __init__(
        self,
        rest: BybitPrivateRest,
        settings: BybitPrivateSettings,
        *,
        stream_factory: Callable[[BybitExecution], PrivateStream],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest = rest
        self._settings = settings
        self._prefix = settings.order_link_prefix
        self._monotonic = monotonic
        self._sink: EventSink | None = None
        self._stream = stream_factory(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._reconciling: dict[str, asyncio.Task[None]] = {}
        """Reconciles in progress, by the block each will lift."""
        self._orders: dict[str, Order] = {}
        """client id -> our latest view of the order (open ones, and closed ones until
        forgotten)."""
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._link_of: dict[str, str] = {}
        self._client_of_link: dict[str, str] = {}
        self._client_of_order_id: dict[str, str] = {}
        self._pending: OrderedDict[str, list[wire.Execution]] = OrderedDict()
        self._exec_ids: OrderedDict[str, None] = OrderedDict()
        self._blocks: dict[str, str] = {"start": STARTING}
        self._stream_down_since: float | None = None
        self._stream_cancelled = False
        self._market_seen: dict[str, float] = {}
        self._market_cancelled: set[str] = set()
        self.positions: dict[str, wire.VenuePosition] = {}
        self.wallet: wire.Wallet | None = None
        self.fee_rates: dict[str, wire.FeeRate] = {}
        self.instruments: dict[str, wire.InstrumentFilter] = {}
        self.differences: deque[str] = deque(maxlen=DIFFERENCES_KEPT)
        """What the last reconciles found different (newest last), as logged."""
        self.reconciles = 0
        self.disconnect_cancels = 0
        self._outages = 0
        self._replay_from_ms: int | None = None
        """Venue time from which executions may have been missed (the stream was down)."""
        self.replayed_executions = 0
        """Executions the stream missed, read over REST after it came back and reported."""

    @classmethod
    def from_settings(
        cls, settings: BybitPrivateSettings, environ: Mapping[str, str] | None = None
    ) -> BybitExecution:
        """Testnet unless live trading is confirmed (endpoints.py); keys from the environment
        or the key file (credentials.py). Raises ConfigError subclasses naming the problem."""
        endpoints = resolve_endpoints(settings)
        credentials = load_credentials(settings.key_file, environ)
        if endpoints.mainnet:
            log.warning("LIVE: orders go to Bybit mainnet (%s)", endpoints.rest_url)
        rest = BybitPrivateRest(credentials, settings, base_url=endpoints.rest_url)

        def stream(owner: BybitExecution) -> PrivateStream:
            return PrivateStream(
                endpoints.ws_url,
                credentials,
                settings,
                on_message=owner.on_stream_message,
                on_state=owner.on_stream_state,
                venue_now_ms=rest.venue_now_ms,
            )

        return cls(rest, settings, stream_factory=stream)

    def __repr__(self) -> str:
        return f"BybitExecution({self.rest!r}, blocked={self.blocked_reason!r})"

    # ------------------------------------------------------------------ state for risk and API

    @property
    def blocked(self) -> bool:
        """Whether entries are refused now (reduce-only orders still go)."""
        return bool(self._blocks)

    @property
    def blocked_reason(self) -> str:
        return "; ".join(self._blocks.values())

    @property
    def stream_connected(self) -> bool:
        return self._stream.connected

    @property
    def requests_in_flight(self) -> int:
        """Order requests (create, amend, cancel) sent and not answered yet."""
        return len(self._tasks)

    @property
    def pushes_received(self) -> int:
        """Topic pushes the private stream has handed on (all its sessions)."""
        return self._stream.pushes

    def entries_blocked(self, symbol: str) -> str:
        """Why an entry on `symbol` is refused now ("" when it is not): a block of every
        symbol (start, the private stream) or that symbol's lost market data."""
        reasons = [r for k, r in self._blocks.items() if not k.startswith("market:")]
        market = self._blocks.get(f"market:{symbol}")
        if market is not None:
            reasons.append(market)
        return "; ".join(reasons)

    def market_data_age_s(self, symbol: str) -> float | None:
        """Seconds since `symbol`'s last market event was noted (None: never)."""
        seen = self._market_seen.get(symbol)
        return None if seen is None else self._monotonic() - seen

    def open_orders(self) -> list[Order]:
        """Copies of our orders the venue holds open, as we know them."""
        return [msgspec.structs.replace(o) for o in self._orders.values() if o.open]

    def order_link_id(self, client_id: str) -> str:
        return self._link_of.get(client_id, "")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Clock, filters, fee rates, a first reconcile; then the stream and the watchdog.
        Entries stay blocked until the stream is up and reconciled."""
        await self.rest.sync_clock()
        self.instruments = await self.rest.instruments()
        self.fee_rates = await self.rest.fee_rates()
        await self.reconcile()
        self._blocks.pop("start", None)
        self._blocks["stream"] = STREAM_DOWN
        self._stream_down_since = self._monotonic()
        self._missing_from(self.rest.venue_now_ms(), margin_ms=0)  # orders before: reconciled
        self._runner = asyncio.create_task(self._stream.run(), name="bybit-private-stream")
        self._watchdog = asyncio.create_task(self._watch(), name="bybit-disconnect-watchdog")

    async def close(self) -> None:
        """Stop the stream and the watchdog, wait for requests in flight, close the client."""
        await self._stream.stop()
        for task in (self._watchdog, *self._reconciling.values()):
            if task is not None:
                task.cancel()
        tasks = [t for t in (self._runner, self._watchdog) if t is not None]
        tasks.extend(self._reconciling.values())
        tasks.extend(self._tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.rest.close()

    # ------------------------------------------------------------------ the execution protocol

    def set_sink(self, sink: EventSink) -> None:
        self._sink = sink

    def submit(self, request: OrderRequest) -> None:
        """Place an order (its fate arrives as events); an entry while blocked is rejected."""
        if self._sink is None:
            raise RuntimeError("set_sink() before submit(): the client's events need a sink")
        if request.client_id in self._orders:
            self._reject_later(request, f"duplicate client_id {request.client_id!r}")
            return
        blocked = "" if request.reduce_only else self.entries_blocked(request.symbol)
        if blocked:
            self._reject_later(request, f"entries blocked: {blocked}")
            return
        link = new_order_link_id(self._prefix)
        self._orders[request.client_id] = Order(request=request)
        self._link_of[request.client_id] = link
        self._client_of_link[link] = request.client_id
        self._spawn(self._place(request, link))

    def cancel(self, client_id: str, ts_ns: int) -> None:
        """Cancel an open order; its cancellation arrives from the stream."""
        self._spawn(self._cancel(client_id, ts_ns))

    def amend(
        self, client_id: str, *, qty: float | None = None, price: float | None = None
    ) -> None:
        """Change an open order's quantity or price (the stream reports the result)."""
        self._spawn(self._amend(client_id, qty, price))

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every open order of `symbol` on the account (ours and others'); how many."""
        return len(await self.rest.cancel_all(symbol))

    # ------------------------------------------------------------------ requests

    async def _place(self, request: OrderRequest, link: str) -> None:
        instrument = self.instruments.get(request.symbol)
        for attempt in (1, 2):
            try:
                ack = await self.rest.create_order(request, link, instrument)
            except DuplicateOrderError:
                # A retry of a create that reached Bybit: the order exists already.
                log.info("order %s (%s) already placed", request.client_id, link)
                await self._learn_order_id(request.client_id, link)
                return
            except ServerError as exc:
                if attempt == 1:
                    log.warning("create %s: %s; retrying with the same orderLinkId", link, exc)
                    continue
                if not await self._placed_after_all(request.client_id, link):
                    self._reject(request, str(exc))
                return
            except PrivateApiError as exc:
                self._reject(request, str(exc))
                return
            self._learn(request.client_id, ack.order_id)
            return

    async def _placed_after_all(self, client_id: str, link: str) -> bool:
        """After a create whose fate is unknown (timed out twice): whether the venue has the
        order (its push told us, or a query by orderLinkId finds it); never a reject then."""
        order = self._orders.get(client_id)
        if order is not None and order.venue_id:
            return True
        try:
            await self._learn_order_id(client_id, link)
        except PrivateApiError as exc:
            log.warning("create %s: its fate is unknown and the query failed: %s", link, exc)
            return False
        order = self._orders.get(client_id)
        return order is not None and bool(order.venue_id)

    async def _learn_order_id(self, client_id: str, link: str) -> None:
        order = self._orders.get(client_id)
        if order is None:
            return
        for venue in await self.rest.open_orders(order.request.symbol, order_link_id=link):
            if venue.order_link_id == link:
                self._learn(client_id, venue.order_id)
                self._apply_order(venue)

    async def _cancel(self, client_id: str, ts_ns: int) -> None:
        order = self._orders.get(client_id)
        if order is None:
            self._emit_cancel_rejected(client_id, ts_ns, f"cancel rejected: no order {client_id!r}")
            return
        if not order.open:
            self._emit_cancel_rejected(
                client_id,
                ts_ns,
                f"cancel rejected: order {client_id!r} is already {order.status.value}",
            )
            return
        try:
            await self.rest.cancel_order(
                order.request.symbol,
                order_id=order.venue_id,
                order_link_id=self._link_of[client_id],
            )
        except OrderNotFoundError as exc:
            # Filled or cancelled meanwhile: its final state is on its way, or read it now.
            log.info("cancel %s: %s", client_id, exc)
            await self._learn_order_id(client_id, self._link_of[client_id])
        except PrivateApiError as exc:
            log.warning("cancel %s failed: %s", client_id, exc)

    async def _amend(self, client_id: str, qty: float | None, price: float | None) -> None:
        order = self._orders.get(client_id)
        if order is None or not order.open:
            log.warning("amend %s: no open order", client_id)
            return
        instrument = self.instruments.get(order.request.symbol)
        try:
            await self.rest.amend_order(
                order.request.symbol,
                order_id=order.venue_id,
                order_link_id=self._link_of[client_id],
                qty=None if qty is None else format_decimal(qty, _step(instrument, "qty")),
                price=None if price is None else format_decimal(price, _step(instrument, "px")),
            )
        except PrivateApiError as exc:
            log.warning("amend %s failed: %s", client_id, exc)
            return
        order.request = msgspec.structs.replace(
            order.request,
            qty=order.request.qty if qty is None else qty,
            price=order.request.price if price is None else price,
        )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ the stream

    def on_stream_message(self, message: wire.StreamTopic) -> None:
        """A push of the private stream (called by the stream)."""
        if message.topic == "order":
            for row in message.rows:
                assert isinstance(row, wire.VenueOrder)
                self._apply_order(row)
        elif message.topic == "execution":
            for row in message.rows:
                assert isinstance(row, wire.Execution)
                self._apply_execution(row)
        elif message.topic == "position":
            for row in message.rows:
                assert isinstance(row, wire.VenuePosition)
                self.positions[row.symbol] = row
        elif message.topic == "wallet" and message.rows:
            row = message.rows[-1]
            assert isinstance(row, wire.Wallet)
            self.wallet = row

    def on_stream_state(self, connected: bool, reason: str) -> None:
        """The stream came up (authenticated, subscribed) or went down."""
        if connected:
            self._stream_down_since = None
            self._stream_cancelled = False
            self._schedule_reconcile("stream")
        else:
            log.warning("Bybit private stream down (%s): entries blocked", reason)
            self._stream_down_since = self._monotonic()
            self._blocks["stream"] = STREAM_DOWN
            self._missing_from(self.rest.venue_now_ms(), self._settings.replay_margin_ms)

    def _apply_order(self, row: wire.VenueOrder) -> None:
        client_id = self._client_of_link.get(row.order_link_id) or self._client_of_order_id.get(
            row.order_id
        )
        if client_id is None:
            return
        order = self._orders.get(client_id)
        if order is None:
            return
        updated_ns = _ns(row.updated_ms)
        if updated_ns < order.updated_ns or (
            updated_ns == order.updated_ns
            and row.status is order.status
            and row.filled_qty == order.filled_qty
        ):
            self._learn(client_id, row.order_id)
            return
        order.status = row.status
        order.filled_qty = row.filled_qty
        order.avg_price = row.avg_price
        order.venue_id = row.order_id
        order.reason = row.reason
        order.updated_ns = updated_ns
        self._emit(OrderUpdate(order=msgspec.structs.replace(order), ts_ns=updated_ns))
        # Executions held for this order go after its update (the machine takes either first).
        self._learn(client_id, row.order_id)
        if not order.open:
            self._remember_closed(client_id)

    def _apply_execution(self, row: wire.Execution) -> None:
        if row.fast:
            # The full `execution` push of the same fill brings its fee; that one is used.
            return
        if row.exec_id in self._exec_ids:
            return
        if row.exec_type == "Funding":
            self._remember_exec(row.exec_id)
            position = self.positions.get(row.symbol)
            self._emit(
                FundingPayment(
                    symbol=row.symbol,
                    amount=row.fee,
                    rate=row.fee_rate,
                    position_qty=position.size if position else row.side * row.qty,
                    mark_price=row.price,
                    ts_ns=_ns(row.time_ms),
                )
            )
            return
        client_id = self._client_of_order_id.get(row.order_id) or self._client_of_link.get(
            row.order_link_id
        )
        if client_id is None:
            if row.order_link_id and not is_ours(row.order_link_id, self._prefix):
                return
            self._hold(row)
            return
        self._remember_exec(row.exec_id)
        request = self._orders[client_id].request if client_id in self._orders else None
        if request is None:
            return
        self._emit(
            Fill(
                client_id=client_id,
                symbol=row.symbol,
                side=row.side or request.side,
                price=row.price,
                qty=row.qty,
                fee=row.fee,
                liquidity=Liquidity.MAKER if row.is_maker else Liquidity.TAKER,
                ts_ns=_ns(row.time_ms),
                exec_id=row.exec_id,
            )
        )

    def _hold(self, row: wire.Execution) -> None:
        self._pending.setdefault(row.order_id, []).append(row)
        self._pending.move_to_end(row.order_id)
        while len(self._pending) > PENDING_EXECUTIONS:
            order_id, dropped = self._pending.popitem(last=False)
            log.warning("dropped %d executions of unknown order %s", len(dropped), order_id)

    def _learn(self, client_id: str, order_id: str) -> None:
        if not order_id:
            return
        self._client_of_order_id[order_id] = client_id
        order = self._orders.get(client_id)
        if order is not None and not order.venue_id:
            order.venue_id = order_id
        for row in self._pending.pop(order_id, []):
            self._apply_execution(row)

    def _remember_exec(self, exec_id: str) -> None:
        self._exec_ids[exec_id] = None
        while len(self._exec_ids) > self._settings.exec_id_memory:
            self._exec_ids.popitem(last=False)

    def _remember_closed(self, client_id: str) -> None:
        self._closed[client_id] = None
        self._closed.move_to_end(client_id)
        while len(self._closed) > CLOSED_MEMORY:
            old, _ = self._closed.popitem(last=False)
            self._orders.pop(old, None)
            link = self._link_of.pop(old, "")
            self._client_of_link.pop(link, None)

    # ------------------------------------------------------------------ events out

    def _emit(self, event: ExecutionEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def _reject(self, request: OrderRequest, reason: str) -> None:
        order = self._orders.get(request.client_id) or Order(request=request)
        order.status = OrderStatus.REJECTED
        order.reason = reason
        order.updated_ns = _ns(self.rest.venue_now_ms())
        if request.client_id in self._orders:
            self._remember_closed(request.client_id)
        self._emit(OrderUpdate(order=msgspec.structs.replace(order), ts_ns=order.updated_ns))

    def _reject_later(self, request: OrderRequest, reason: str) -> None:
        """Rejected without asking the venue; reported from the loop, never from inside the
        caller's `submit` (the paper broker's sink contract)."""
        asyncio.get_running_loop().call_soon(
            self._emit,
            OrderUpdate(
                order=Order(
                    request=request,
                    status=OrderStatus.REJECTED,
                    reason=reason,
                    updated_ns=_ns(self.rest.venue_now_ms()),
                ),
                ts_ns=_ns(self.rest.venue_now_ms()),
            ),
        )

    def _emit_cancel_rejected(self, client_id: str, ts_ns: int, reason: str) -> None:
        known = self._orders.get(client_id)
        request = (
            known.request
            if known is not None
            else OrderRequest(
                client_id=client_id,
                symbol="",
                side=0,
                qty=0.0,
                order_type=OrderType.LIMIT,
                decided_ns=ts_ns,
            )
        )
        now = _ns(self.rest.venue_now_ms())
        rejected = Order(
            request=request, status=OrderStatus.REJECTED, reason=reason, updated_ns=now
        )
        self._emit(OrderUpdate(order=rejected, ts_ns=now))

    # ------------------------------------------------------------------ reconcile

    def _schedule_reconcile(self, block: str) -> None:
        """Reconcile, then lift `block`; a newer request for the same block replaces an older
        one still running (another block's reconcile runs on)."""
        running = self._reconciling.get(block)
        if running is not None and not running.done():
            running.cancel()
        self._reconciling[block] = asyncio.get_running_loop().create_task(
            self._reconcile_then(block), name=f"bybit-reconcile-{block}"
        )

    async def _reconcile_then(self, block: str) -> None:
        """Reconcile, then lift the block; retried until it succeeds (a failure is logged)."""
        delay = self._settings.backoff_initial_s
        while True:
            try:
                if block == "stream":
                    await self.replay_missed_executions()
                await self.reconcile()
            except PrivateApiError as exc:
                log.warning("reconcile failed (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.backoff_max_s)
                continue
            if block == "stream" and self._stream.connected:
                self._blocks.pop("stream", None)
            elif block.startswith("market:"):
                self._blocks.pop(block, None)
            return

    def _missing_from(self, venue_ms: int, margin_ms: int) -> None:
        """The stream is down from `venue_ms` (less a margin for pushes lost as it died); an
        earlier outage not replayed yet keeps its start."""
        self._outages += 1
        if self._replay_from_ms is None:
            self._replay_from_ms = venue_ms - margin_ms

    async def replay_missed_executions(self) -> int:
        """After the stream came back: read our executions since it went down
        (/v5/execution/list) and report those it did not deliver, once each (by execId);
        how many. Failing, it raises and the next try reads from the same time."""
        since, outages = self._replay_from_ms, self._outages
        if since is None:
            return 0
        replayed = 0
        for row in await self.rest.executions(since):
            if row.exec_id in self._exec_ids:
                continue
            ours = (
                row.exec_type == "Funding"
                or row.order_id in self._client_of_order_id
                or is_ours(row.order_link_id, self._prefix)
            )
            if ours:
                self._apply_execution(row)
                replayed += 1
        if replayed:
            log.warning("replayed %d executions the private stream missed", replayed)
        self.replayed_executions += replayed
        if self._outages == outages:  # else the stream went down again meanwhile: keep it
            self._replay_from_ms = None
        return replayed

    async def reconcile(self) -> None:
        """Read open orders, positions and wallet; the venue wins; differences are logged."""
        venue_orders = [
            o for o in await self.rest.open_orders() if is_ours(o.order_link_id, self._prefix)
        ]
        positions = await self.rest.positions()
        wallet = await self.rest.wallet()
        seen: set[str] = set()
        for venue in venue_orders:
            client_id = self._client_of_link.get(venue.order_link_id)
            if client_id is None:
                self._differ(
                    f"{venue.symbol}: open order {venue.order_link_id} is ours but unknown"
                    " (an earlier run's): cancelling it"
                )
                try:
                    await self.rest.cancel_order(venue.symbol, order_id=venue.order_id)
                except PrivateApiError as exc:
                    log.warning("cancelling leftover %s failed: %s", venue.order_link_id, exc)
                continue
            seen.add(client_id)
            local = self._orders[client_id]
            if local.status is not venue.status or local.filled_qty != venue.filled_qty:
                self._differ(
                    f"{venue.symbol}: order {client_id} is {venue.status.value} with"
                    f" {venue.filled_qty:g} filled at the venue, {local.status.value} with"
                    f" {local.filled_qty:g} here: taking the venue's"
                )
            self._learn(client_id, venue.order_id)
            self._apply_order(venue)
        for client_id, local in list(self._orders.items()):
            in_flight = local.status is OrderStatus.PENDING and not local.venue_id
            if local.open and client_id not in seen and not in_flight:
                await self._settle_missing(client_id, local)
        self._reconcile_positions(positions)
        if self.wallet is not None and wallet.total_equity != self.wallet.total_equity:
            self._differ(
                f"wallet equity {wallet.total_equity:g} at the venue,"
                f" {self.wallet.total_equity:g} here: taking the venue's"
            )
        self.wallet = wallet
        self.reconciles += 1

    async def _settle_missing(self, client_id: str, local: Order) -> None:
        """An order open here but not at the venue: read its final state."""
        link = self._link_of[client_id]
        found = [
            o
            for o in await self.rest.open_orders(local.request.symbol, order_link_id=link)
            if o.order_link_id == link
        ]
        if found:
            self._differ(
                f"{local.request.symbol}: order {client_id} is {found[0].status.value} at the"
                f" venue, {local.status.value} here: taking the venue's"
            )
            self._apply_order(found[0])
            return
        self._differ(
            f"{local.request.symbol}: order {client_id} is unknown to the venue:"
            " taking it as cancelled"
        )
        now = _ns(self.rest.venue_now_ms())
        local.status = OrderStatus.CANCELLED
        local.reason = "not found at the venue on reconcile"
        local.updated_ns = now
        self._emit(OrderUpdate(order=msgspec.structs.replace(local), ts_ns=now))
        self._remember_closed(client_id)

    def _reconcile_positions(self, positions: list[wire.VenuePosition]) -> None:
        venue = {p.symbol: p for p in positions if p.size != 0.0}
        for symbol in sorted(set(venue) | {s for s, p in self.positions.items() if p.size}):
            here = self.positions.get(symbol)
            there = venue.get(symbol)
            here_size = here.size if here else 0.0
            there_size = there.size if there else 0.0
            if here_size != there_size:
                self._differ(
                    f"{symbol}: position {there_size:g} at the venue, {here_size:g} here:"
                    " taking the venue's"
                )
        self.positions = venue

    def _differ(self, what: str) -> None:
        log.warning("reconcile: %s", what)
        self.differences.append(what)

    # ------------------------------------------------------------------ own disconnect-cancel

    def note_market_data(self, symbol: str) -> None:
        """A market event of `symbol` arrived now (the watchdog's view of its feed)."""
        self._market_seen[symbol] = self._monotonic()
        if symbol in self._market_cancelled:
            self._market_cancelled.discard(symbol)
            self._schedule_reconcile(f"market:{symbol}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._settings.watchdog_interval_s)
            await self.check_disconnects()

    async def check_disconnects(self) -> None:
        """Cancel our open orders where the stream or a symbol's market data is lost too long."""
        now = self._monotonic()
        limit = self._settings.disconnect_cancel_s
        down = self._stream_down_since
        if down is not None and now - down >= limit and not self._stream_cancelled:
            self._stream_cancelled = True
            log.error("private stream lost for %.1f s: cancelling our open orders", now - down)
            await self._cancel_ours(None)
        for symbol, seen in self._market_seen.items():
            if (
                now - seen >= limit
                and symbol not in self._market_cancelled
                and self._exposed(symbol)
            ):
                self._market_cancelled.add(symbol)
                self._blocks[f"market:{symbol}"] = f"market data of {symbol} lost"
                if any(o.open and o.request.symbol == symbol for o in self._orders.values()):
                    log.error("market data of %s lost: cancelling our open orders there", symbol)
                    await self._cancel_ours(symbol)

    def _exposed(self, symbol: str) -> bool:
        """Whether we hold an open order or a position on `symbol` (a quiet symbol without
        either is no risk, and blocking it would refuse its first entry when it wakes)."""
        position = self.positions.get(symbol)
        if position is not None and position.size:
            return True
        return any(o.open and o.request.symbol == symbol for o in self._orders.values())

    async def _cancel_ours(self, symbol: str | None) -> None:
        """Cancel, one by one, every open order of ours the venue or we know of (others' are
        left alone: cancel-all would take them too)."""
        self.disconnect_cancels += 1
        targets: dict[str, tuple[str, str]] = {}
        try:
            for venue in await self.rest.open_orders(symbol or ""):
                if is_ours(venue.order_link_id, self._prefix):
                    targets[venue.order_link_id] = (venue.symbol, venue.order_id)
        except PrivateApiError as exc:
            log.error("listing open orders to cancel failed: %s", exc)
        for client_id, order in self._orders.items():
            if order.open and (symbol is None or order.request.symbol == symbol):
                link = self._link_of.get(client_id, "")
                targets.setdefault(link, (order.request.symbol, order.venue_id))
        for link, (order_symbol, order_id) in targets.items():
            try:
                await self.rest.cancel_order(order_symbol, order_id=order_id, order_link_id=link)
            except OrderNotFoundError:
                continue
            except PrivateApiError as exc:
                log.error("cancel-on-disconnect of %s failed: %s", link, exc)


def _step(instrument: wire.InstrumentFilter | None, which: str) -> str:
    if instrument is None:
        return ""
    return instrument.qty_step if which == "qty" else instrument.tick_size
