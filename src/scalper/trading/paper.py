"""The paper broker: a simulated venue that fills our orders against the live (or replayed) book.

It implements `ExecutionClient`, so the trading core cannot tell it from a real venue, and runs
on event time only: the same events and seed give the same fills, live, replayed or in a
backtest. This module is the venue's clock; what happens at one instant is `matching`'s (the
fill rules of TRADING.md "Fill model"), with `taker`, `queue`, `liquidity` and `funding`.

How the trading core drives it, for every market event of a traded symbol, after the engine has
applied it: `on_book(update, book)`, `on_trades(batch)`, `on_ticker(update)`; `advance_to(ts_ns)`
when event time passes without one (a timer tick, the end of a replay). Orders go in through
`submit` and `cancel`; everything comes back through the sink given to `set_sink`.

Time. An order reaches the matching engine at `decided_ns` + entry latency and acts on the book
as it is then: every market event up to that time first, none after (an event at exactly that
time goes first). The engine hands us its book already updated, so while orders for a symbol
are on their way the broker keeps a private copy of its book (a "shadow"), and applies each
update to it only after the orders due before the update have acted. Requests reach the venue
in the order they were sent, as on one connection, and never earlier than the latest market
event the broker has seen (its books are that recent). Everything the venue says back
(acknowledgements, fills, cancels, rejects, funding) carries the venue's time and reaches the
sink at that time + response latency, in order, when a market event or `advance_to` passes the
delivery time. The sink may submit and cancel; it may not feed the broker market data.

Bounded memory: open orders (and `matching.CLOSED_MEMORY` closed ids), a shadow book per symbol
only while an order for it is in flight, consumed liquidity until the level's next data, and
the events not yet delivered.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

from scalper.book import OrderBook
from scalper.errors import ScalperError
from scalper.events import BookUpdate, Instrument, TickerUpdate, TradeBatch
from scalper.settings import PaperSettings
from scalper.trading._tap import BrokerClocks
from scalper.trading.execution import EventSink
from scalper.trading.funding import FundingTerms
from scalper.trading.latency import LatencyModel
from scalper.trading.matching import MatchingEngine
from scalper.trading.orders import ExecutionEvent, Order, OrderRequest
from scalper.trading.queue import QueueEstimate, queue_model


class BrokerUsageError(ScalperError):
    """The paper broker was driven against its contract (a bug in the caller)."""


class _Arrival(NamedTuple):
    request: OrderRequest
    holds_shadow: bool
    """Whether a shadow book was kept for this order (its symbol had a book when sent)."""


class _CancelArrival(NamedTuple):
    client_id: str
    sent_ns: int


class _FundingTime(NamedTuple):
    symbol: str


_Action = _Arrival | _CancelArrival | _FundingTime


class PaperBroker:
    """A deterministic simulated venue (the module docstring says how to drive it)."""

    def __init__(
        self,
        settings: PaperSettings | None = None,
        instruments: Mapping[str, Instrument] | None = None,
    ) -> None:
        """`instruments`: quantity steps, so that queue fills come in whole lots."""
        settings = settings or PaperSettings()
        self._latency = LatencyModel.from_settings(settings)
        self._venue = MatchingEngine(
            maker_fee=settings.maker_fee,
            taker_fee=settings.taker_fee,
            market_slippage_bps=settings.market_slippage_bps,
            queue_model=queue_model(settings.queue_model),
        )
        self._venue_orders, self._venue_taken = self._venue.activity
        for symbol, instrument in (instruments or {}).items():
            self._venue.set_qty_step(symbol, instrument.qty_step)
        self._sink: EventSink | None = None
        self._clocks = BrokerClocks()
        """Its clocks and whether it is delivering (shared with the trading core's compiled
        tap, which moves them on quiet market events)."""
        self._last_arrival_ns = 0
        self._last_delivery_ns = 0
        self._seq = itertools.count()
        """Ties in the heaps break by scheduling order: deterministic, never by the payload."""
        self._actions: list[tuple[int, int, _Action]] = []
        """Heap of what reaches the venue later: orders, cancels, funding times."""
        self._outbox: list[tuple[int, int, ExecutionEvent]] = []
        """Heap of events on their way to the trader, by delivery time."""
        self._books: dict[str, OrderBook] = {}
        """The engine's live book per symbol (the last one `on_book` was given)."""
        self._shadows: dict[str, OrderBook] = {}
        self._in_flight: dict[str, int] = {}
        """Orders on their way per symbol: the shadow book lives while this is above zero."""

    # ------------------------------------------------------------------ the execution protocol

    def set_sink(self, sink: EventSink) -> None:
        self._sink = sink

    def submit(self, request: OrderRequest) -> None:
        """Send an order: it reaches the venue at `decided_ns` + entry latency."""
        if self._sink is None:
            raise BrokerUsageError("set_sink() before submit(): the broker's events need a sink")
        at = self._arrival_time(request.decided_ns)
        self._schedule(at, _Arrival(request, self._hold_book(request.symbol)))

    def cancel(self, client_id: str, ts_ns: int) -> None:
        """Send a cancel decided at `ts_ns`: it reaches the venue after every earlier request."""
        self._schedule(self._arrival_time(ts_ns), _CancelArrival(client_id, ts_ns))

    def fast_path_state(
        self,
    ) -> tuple[
        list[Any],
        list[Any],
        dict[str, OrderBook],
        dict[str, Any],
        dict[Any, Any],
        dict[str, OrderBook],
        BrokerClocks,
        dict[str, FundingTerms],
    ]:
        """The live containers `_quiet` reads, for the trading core's compiled tap
        (`trading/_tap.pyx`), which settles quiet market events as `on_book`, `on_trades` and
        `on_ticker_at` do: the action and delivery heaps, the shadow books, the venue's open
        orders and consumed liquidity, and the book per symbol; the clocks it moves
        (`BrokerClocks`); and the venue's funding terms per symbol, which it merges tickers
        into."""
        return (
            self._actions,
            self._outbox,
            self._shadows,
            self._venue_orders,
            self._venue_taken,
            self._books,
            self._clocks,
            self._venue.funding_terms,
        )

    # ------------------------------------------------------------------ market data and time

    def on_book(self, update: BookUpdate, book: OrderBook) -> None:
        """A book update the engine has applied to `book` (the symbol's live book)."""
        symbol = update.symbol
        if not (
            self._actions
            or self._outbox
            or self._shadows
            or self._clocks.delivering
            or self._venue_orders
            or self._venue_taken
        ):  # nothing anywhere (the common case): only the clock moves
            self._books[symbol] = book
            self._clocks.clock_ns = self._clocks.market_ns = self._clocks.venue_ns = max(
                update.ts_event_ns, self._clocks.clock_ns
            )
            return
        if self._quiet(symbol, update.ts_event_ns):
            # Every book update of every traded symbol comes here; measured, this path costs
            # about five empty Python calls, the full one about twelve.
            self._books[symbol] = book
            self._clocks.clock_ns = self._clocks.market_ns = self._clocks.venue_ns = max(
                update.ts_event_ns, self._clocks.clock_ns
            )
            return
        t = self._enter(update.ts_event_ns)
        self._books[symbol] = book
        shadow = self._shadows.get(update.symbol)
        if shadow is not None and _news_to(shadow, update):
            shadow.apply(update)
        self._venue.on_book(update, book, t)
        self._flush(t)
        self._deliver_until(t)

    def on_trades(self, batch: TradeBatch) -> None:
        """Public trades: they advance our queue positions and fill what they trade through."""
        trades = batch.trades
        if not trades:
            self._deliver_until(self._enter(batch.ts_event_ns))
            return
        last = max(trade.ts_event_ns for trade in trades)
        idle = not (
            self._actions
            or self._outbox
            or self._shadows
            or self._clocks.delivering
            or self._venue_orders
            or self._venue_taken
        )
        if idle or self._quiet(batch.symbol, last):  # no order there, nothing due: only time moves
            self._clocks.clock_ns = self._clocks.market_ns = self._clocks.venue_ns = max(
                last, self._clocks.clock_ns
            )
            return
        t = self._clocks.clock_ns
        for trade in batch.trades:
            t = self._enter(trade.ts_event_ns)
            self._venue.on_trade(batch.symbol, trade, t)
            self._flush(t)
        self._deliver_until(t)

    def on_ticker(self, update: TickerUpdate) -> None:
        """A ticker: funding rate, next funding time and mark price, for funding payments."""
        self.on_ticker_at(update, self._enter(update.ts_event_ns))

    def on_ticker_at(self, update: TickerUpdate, t: int) -> None:
        """`on_ticker` once what was due before the ticker happened and event time is at `t`
        (the trading core's compiled tap calls it directly when nothing was due)."""
        # A funding time at exactly this event is settled on the terms this ticker replaces.
        self._settle_funding(update.symbol, t)
        at = self._venue.update_funding(update)
        if at is not None:
            self._schedule(at, _FundingTime(update.symbol))
        self._deliver_until(t)

    def advance_to(self, ts_ns: int) -> None:
        """Event time has reached `ts_ns`: what is due until then (inclusive) happens."""
        self._check_not_delivering()
        self._clocks.clock_ns = max(ts_ns, self._clocks.clock_ns)
        self._run_until(self._clocks.clock_ns, inclusive=True)
        self._clocks.venue_ns = self._clocks.clock_ns

    # ------------------------------------------------------------------ what it holds

    @property
    def clock_ns(self) -> int:
        return self._clocks.clock_ns

    def position(self, symbol: str) -> float:
        """The venue's signed position: what decides reduce-only and funding (the trader's
        own view lags it by the response latency)."""
        return self._venue.position(symbol)

    def restore_position(self, symbol: str, qty: float) -> None:
        """The paper venue ended with the last process; its positions come back from the
        trading core's store (`Trader.restore`)."""
        self._venue.restore_position(symbol, qty)

    def open_orders(self) -> list[Order]:
        """Copies of the orders resting at the venue."""
        return self._venue.open_orders()

    def undelivered(self) -> int:
        """Events held for their delivery time."""
        return len(self._outbox)

    def in_flight(self) -> int:
        """Requests and funding times not yet reached by event time."""
        return len(self._actions)

    def shadow_books(self) -> int:
        return len(self._shadows)

    def consumed_levels(self) -> int:
        return self._venue.consumed_levels()

    def queue_estimate(self, client_id: str) -> QueueEstimate | None:
        """The size ahead of a resting order in its price level's queue, as the queue model
        (`paper.queue_model`) estimates it; None when the order is not resting at the venue."""
        return self._venue.queue_estimate(client_id)

    # ------------------------------------------------------------------ time

    def _enter(self, ts_ns: int) -> int:
        """A market event at `ts_ns`: what is due before it happens first. Event time only moves
        forward: an event older than the clock (another symbol's, live) counts as now."""
        self._check_not_delivering()
        t = max(ts_ns, self._clocks.clock_ns)
        self._clocks.clock_ns = self._clocks.market_ns = t
        self._run_until(t, inclusive=False)
        self._clocks.venue_ns = t
        return t

    def _quiet(self, symbol: str, ts_ns: int) -> bool:
        """Whether a book update of `symbol` at `ts_ns` can only move the clock: nothing due
        before it, nothing to deliver by then, no order or shadow book or consumed liquidity
        at the symbol."""
        t = max(ts_ns, self._clocks.clock_ns)
        actions, outbox = self._actions, self._outbox
        return (
            not self._clocks.delivering
            and (not actions or actions[0][0] >= t)
            and (not outbox or outbox[0][0] > t)
            and symbol not in self._shadows
            and not self._venue.watches(symbol)
        )

    def _check_not_delivering(self) -> None:
        if self._clocks.delivering:
            raise BrokerUsageError(
                "the broker's sink fed it market data or time; a sink may only submit and cancel"
            )

    def _arrival_time(self, sent_ns: int) -> int:
        """When a request sent at `sent_ns` reaches the venue: after the entry latency, after
        every earlier request, never before what the venue has processed nor before the latest
        market event (a request sent from the sink while the broker catches up with an event
        cannot act on the book before that event: the engine has applied it already)."""
        at = max(
            sent_ns + self._latency.entry_ns(),
            self._last_arrival_ns,
            self._clocks.venue_ns,
            self._clocks.market_ns,
        )
        self._last_arrival_ns = at
        return at

    def _schedule(self, at: int, action: _Action) -> None:
        heapq.heappush(self._actions, (at, next(self._seq), action))

    def _run_until(self, t: int, inclusive: bool) -> None:
        """Perform the actions and deliveries due before `t` (or at it, when inclusive), in time
        order; a delivery goes before an action due at the same time."""
        actions, outbox = self._actions, self._outbox
        while True:
            action_at = actions[0][0] if actions else None
            if action_at is not None and (action_at > t or (action_at == t and not inclusive)):
                action_at = None
            deliver_at = outbox[0][0] if outbox else None
            if deliver_at is not None and (deliver_at > t or (deliver_at == t and not inclusive)):
                deliver_at = None
            if deliver_at is not None and (action_at is None or deliver_at <= action_at):
                self._clocks.venue_ns = deliver_at
                self._deliver_next()
            elif action_at is not None:
                _, _, action = heapq.heappop(actions)
                self._clocks.venue_ns = action_at
                self._perform(action, action_at)
            else:
                return

    def _perform(self, action: _Action, at: int) -> None:
        if isinstance(action, _Arrival):
            symbol = action.request.symbol
            if action.holds_shadow:
                self._venue.arrive(action.request, self._shadows[symbol], at)
                self._release_book(symbol)
            else:
                self._venue.arrive(action.request, self._books.get(symbol), at)
        elif isinstance(action, _CancelArrival):
            self._venue.cancel(action.client_id, action.sent_ns, at)
        else:
            self._settle_funding(action.symbol, at)
        self._flush(at)

    def _settle_funding(self, symbol: str, now_ns: int) -> None:
        if not self._venue.funding_due(symbol, now_ns):  # most tickers: nothing to settle
            return
        book = self._books.get(symbol)
        self._venue.settle_funding(symbol, now_ns, book.mid() if book is not None else None)
        self._flush(now_ns)

    def _flush(self, venue_ns: int) -> None:
        """Send what the venue just produced, as one message: it reaches the trader after one
        response latency, never before anything sent earlier."""
        events = self._venue.take_events()
        if not events:
            return
        at = max(venue_ns + self._latency.response_ns(), self._last_delivery_ns)
        self._last_delivery_ns = at
        for event in events:
            heapq.heappush(self._outbox, (at, next(self._seq), event))

    def _deliver_until(self, t: int) -> None:
        while self._outbox and self._outbox[0][0] <= t:
            self._deliver_next()

    def _deliver_next(self) -> None:
        _, _, event = heapq.heappop(self._outbox)
        if self._sink is None:
            return
        self._clocks.delivering = True
        try:
            self._sink(event)
        finally:
            self._clocks.delivering = False

    # ------------------------------------------------------------------ books in flight

    def _hold_book(self, symbol: str) -> bool:
        """Keep a copy of the symbol's book from now until the order arrives (the module
        docstring says why); False if the symbol has no book (the venue will reject it)."""
        book = self._books.get(symbol)
        if book is None:
            return False
        count = self._in_flight.get(symbol, 0)
        if count == 0:
            self._shadows[symbol] = _copy_book(book)
        self._in_flight[symbol] = count + 1
        return True

    def _release_book(self, symbol: str) -> None:
        count = self._in_flight[symbol] - 1
        if count:
            self._in_flight[symbol] = count
        else:
            del self._in_flight[symbol]
            del self._shadows[symbol]


def _copy_book(book: OrderBook) -> OrderBook:
    """A private copy of a live book, to be fed the same updates (same sync rules)."""
    copy = OrderBook(book.symbol, book.depth)
    copy.apply(
        BookUpdate(
            symbol=book.symbol,
            depth=book.depth,
            is_snapshot=True,
            bids=book.bids.top(book.depth),
            asks=book.asks.top(book.depth),
            update_id=book.update_id,
            seq=0,
            ts_event_ns=book.ts_event_ns,
            recv_ns=0,
        )
    )
    if not book.in_sync:
        copy.invalidate(book.out_of_sync_reason or "the live book is out of sync")
    return copy


def _news_to(shadow: OrderBook, update: BookUpdate) -> bool:
    """Whether the shadow has yet to see the update: a shadow made while the broker caught up
    with this very update (an order sent from the sink) was copied from the updated book."""
    return update.is_snapshot or update.update_id == 1 or update.update_id > shadow.update_id
