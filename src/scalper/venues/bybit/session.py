"""One Bybit v5 public connection's protocol, sans I/O: bytes in, events out, bytes to send.

`BybitSession` decodes every received frame; a control reply (subscription ack or error, pong)
is consumed here, where it is understood, and only market events (and malformed frames) go on to
the engine. What the session wants sent (subscriptions on connect, retries after a rejected
topic, resyncs, pings) waits in its outbox until the connection (connection.py) sends it: nothing
here touches a socket or a clock, so it is tested on bytes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

from scalper.events import Event
from scalper.feed_status import ConnectionStats
from scalper.venues.bybit._wire import receive_frame
from scalper.venues.bybit.subscriptions import SubscriptionBook
from scalper.venues.bybit.wire import ControlMessage

log = logging.getLogger(__name__)


class BybitSession:
    """The subscriptions of one connection, its outbox and its figures."""

    def __init__(self, name: str, url: str, topics: Iterable[str], category: str) -> None:
        self.name = name
        self.topics = list(topics)
        self.subscriptions = SubscriptionBook(category)
        self.stats = ConnectionStats(name, url, len(self.topics))
        self.outbox: deque[bytes] = deque()
        """Payloads to send, oldest first (bounded: every entry is an answer to a finite set of
        topics, see SubscriptionBook)."""
        self.on_outgoing: Callable[[], None] = _nothing
        """Called whenever the outbox gains a payload (the connection wakes its sender)."""

    def connected(self) -> None:
        """A new connection is open: subscribe every topic (again, after a reconnect)."""
        self.outbox.clear()  # what was meant for the old socket is void
        book = self.subscriptions
        if book.subscribed or book.pending:
            self._send(book.all_topics_payloads())
        else:
            self._send(book.subscribe(self.topics))

    def receive(self, raw: bytes, recv_ns: int) -> Event | None:
        """Decode one received frame: the event for the engine, or None for a control reply
        (consumed here, by `on_control`). Compiled (`_wire.receive_frame`): the connection's
        receiver calls that in C."""
        return receive_frame(raw, recv_ns, self.on_control)  # type: ignore[no-any-return]

    def on_control(self, message: ControlMessage) -> None:
        """Feed an ack to the subscription book; queue what it asks to retry."""
        self.stats.control_messages += 1
        outcome = self.subscriptions.on_ack(message)
        for topic, reason in outcome.failed.items():
            log.warning("%s: subscription %s rejected: %s", self.name, topic, reason)
        self._send(outcome.retry)

    def request_resync(self, topic: str) -> bool:
        """Unsubscribe and resubscribe one topic, so the venue sends a fresh snapshot."""
        if topic not in self.topics:
            return False
        self._send(self.subscriptions.resync_payloads(topic))
        self.stats.resyncs_sent += 1
        return True

    def ping(self) -> None:
        self._send((self.subscriptions.ping_payload(),))

    def _send(self, payloads: Iterable[bytes]) -> None:
        before = len(self.outbox)
        self.outbox.extend(payloads)
        if len(self.outbox) > before:
            self.on_outgoing()


def _nothing() -> None:
    """The wake-up of a session no connection drives (tests)."""
