"""Bybit v5 public subscriptions: topics, sharding, request payloads and ack bookkeeping.

Sans-I/O: nothing here touches a socket or a clock. The WebSocket layer sends the bytes this
module builds and feeds back the `ControlMessage`s the decoder (wire.py) makes of Bybit's acks;
`SubscriptionBook` keeps one connection's topic states and says what to send next.

Protocol facts are from Bybit's /docs/v5/ws/connect unless a comment says otherwise.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import msgspec

from scalper.venues.bybit.limits import MAX_ARGS_CHARS, SPOT_MAX_ARGS_PER_REQUEST
from scalper.venues.bybit.topics import topics_for
from scalper.venues.bybit.wire import ControlMessage

MAX_ARGS_PER_REQUEST: Final = SPOT_MAX_ARGS_PER_REQUEST
"""Args per subscribe/unsubscribe request: spot's limit (limits.py), for every category: linear's
"no args limit for now" can change without notice, and a small request is cheap to bisect when
one bad topic fails it (at most 4 halvings)."""

CATEGORIES: Final = frozenset({"spot", "linear", "inverse", "option"})
_SUBSCRIBE: Final = "subscribe"
_UNSUBSCRIBE: Final = "unsubscribe"
_ALREADY_SUBSCRIBED: Final = "already subscribed"
_NAME_TOKEN: Final = re.compile(r"[A-Za-z0-9_.\-]+")


def args_chars(topics: Iterable[str]) -> int:
    """Length of `topics` serialized as a compact JSON array: what MAX_ARGS_CHARS bounds."""
    return max(2, 1 + sum(_topic_chars(topic) for topic in topics))  # "[]" when empty


def _topic_chars(topic: str) -> int:
    return len(topic) + 3  # two quotes and a separator (the last separator is the "]")


def shard(
    symbols: list[str],
    max_symbols: int = 100,
    max_topic_chars: int = MAX_ARGS_CHARS,
    depth: int = 50,
) -> list[list[str]]:
    """Split symbols over connections, in order, so each stays within both limits.

    Greedy and deterministic: a connection takes symbols until the next one would exceed
    `max_symbols` or make its topics' args array longer than `max_topic_chars`.
    """
    if max_symbols < 1:
        raise ValueError(f"max_symbols must be at least 1, not {max_symbols}")
    _reject_duplicates(symbols)
    shards: list[list[str]] = []
    current: list[str] = []
    chars = 1
    for symbol in symbols:
        cost = sum(_topic_chars(topic) for topic in topics_for(symbol, depth))
        if 1 + cost > max_topic_chars:
            raise ValueError(f"the topics of {symbol} alone exceed {max_topic_chars} characters")
        if current and (len(current) == max_symbols or chars + cost > max_topic_chars):
            shards.append(current)
            current, chars = [], 1
        current.append(symbol)
        chars += cost
    if current:
        shards.append(current)
    return shards


def _reject_duplicates(symbols: list[str]) -> None:
    duplicates = sorted(s for s, n in Counter(symbols).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate symbols: {', '.join(duplicates)}")


def batch(topics: list[str], category: str) -> list[list[str]]:
    """Split topics into subscribe requests of at most MAX_ARGS_PER_REQUEST args each."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(CATEGORIES)}")
    step = MAX_ARGS_PER_REQUEST
    return [topics[i : i + step] for i in range(0, len(topics), step)]


class _Request(msgspec.Struct):
    op: str
    args: list[str]
    req_id: str


class _Ping(msgspec.Struct):
    op: str
    req_id: str


def ping_payload(req_id: str) -> bytes:
    """`{"op":"ping","req_id":…}`; send every `ConnectionSettings.ping_interval_s` (20 s)."""
    return msgspec.json.encode(_Ping("ping", req_id))


class TopicState(enum.Enum):
    PENDING = "pending"
    SUBSCRIBED = "subscribed"
    FAILED = "failed"
    UNSUBSCRIBING = "unsubscribing"


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """What one ack changed, and what to send because of it (`retry`, in order)."""

    op: str = ""
    known: bool = False
    subscribed: tuple[str, ...] = ()
    unsubscribed: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    retry: tuple[bytes, ...] = ()


def _outcome(
    *,
    subscribed: tuple[str, ...] = (),
    failed: dict[str, str] | None = None,
    retry: tuple[bytes, ...] = (),
) -> AckOutcome:
    """The outcome of a known subscribe ack."""
    return AckOutcome(_SUBSCRIBE, True, subscribed=subscribed, failed=failed or {}, retry=retry)


def _counter() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: str(next(numbers))


_LIVE: Final = (TopicState.PENDING, TopicState.SUBSCRIBED)
"""States in which a topic is not asked for again: Bybit refuses a live topic twice."""


class SubscriptionBook:
    """The topics of one connection, their states, and the requests still awaiting an ack.

    Bounded: every in-flight request holds at least one topic and a topic is in at most two
    (an unsubscribe and the subscribe of a resync), so in-flight requests never outnumber
    twice the topics, and the topics are bounded by MAX_ARGS_CHARS.
    """

    def __init__(
        self,
        category: str,
        next_req_id: Callable[[], str] | None = None,
        max_topic_chars: int = MAX_ARGS_CHARS,
    ) -> None:
        batch([], category)  # validates the category
        self.category = category
        self._next_req_id = next_req_id or _counter()
        self._max_topic_chars = max_topic_chars
        self._states: dict[str, TopicState] = {}
        self._messages: dict[str, str] = {}
        self._in_flight: dict[str, _Request] = {}
        self.unknown_acks = 0
        """Acks whose req_id matches no request in flight (late, duplicated or foreign)."""

    @property
    def subscribed(self) -> set[str]:
        return self._in_state(TopicState.SUBSCRIBED)

    @property
    def pending(self) -> set[str]:
        return self._in_state(TopicState.PENDING)

    @property
    def failed(self) -> dict[str, str]:
        """Topics Bybit refused, with its message."""
        return {t: self._messages[t] for t in self._in_state(TopicState.FAILED)}

    def state(self, topic: str) -> TopicState | None:
        return self._states.get(topic)

    def _in_state(self, state: TopicState) -> set[str]:
        return {topic for topic, s in self._states.items() if s is state}

    def subscribe(self, topics: Iterable[str]) -> list[bytes]:
        """Requests for the topics not already subscribed or pending (failed ones are retried)."""
        wanted = [t for t in dict.fromkeys(topics) if self._states.get(t) not in _LIVE]
        self._check_room(wanted)
        for topic in wanted:
            self._set(topic, TopicState.PENDING)
        return [self._request(_SUBSCRIBE, part) for part in batch(wanted, self.category)]

    def unsubscribe(self, topics: Iterable[str]) -> list[bytes]:
        """Requests to drop the topics; each is forgotten once its unsubscribe is acked."""
        known = [t for t in dict.fromkeys(topics) if t in self._states]
        for topic in known:
            self._set(topic, TopicState.UNSUBSCRIBING)
        return [self._request(_UNSUBSCRIBE, part) for part in batch(known, self.category)]

    def resync_payloads(self, topic: str) -> list[bytes]:
        """Unsubscribe then subscribe one topic, so Bybit starts it over with a fresh snapshot.

        A bare re-subscribe of a live topic is refused ("already subscribed"). The topic is
        pending from now on: Bybit answers a connection's requests in order.
        """
        payloads = [self._request(_UNSUBSCRIBE, [topic]), self._request(_SUBSCRIBE, [topic])]
        self._set(topic, TopicState.PENDING)
        return payloads

    def all_topics_payloads(self) -> list[bytes]:
        """After a reconnect: subscribe every topic again (failed ones included), all pending.

        Requests sent on the old connection can no longer be acked, so they are forgotten;
        topics being unsubscribed are dropped, the new connection does not have them.
        """
        self._in_flight.clear()
        for topic in self._in_state(TopicState.UNSUBSCRIBING):
            self._forget(topic)
        topics = list(self._states)
        for topic in topics:
            self._set(topic, TopicState.PENDING)
        return [self._request(_SUBSCRIBE, part) for part in batch(topics, self.category)]

    def ping_payload(self) -> bytes:
        return ping_payload(self._next_req_id())

    def on_ack(self, msg: ControlMessage) -> AckOutcome:
        """Apply one subscribe/unsubscribe ack; other control messages (pongs) are ignored."""
        if msg.op not in (_SUBSCRIBE, _UNSUBSCRIBE):
            return AckOutcome(op=msg.op)
        request = self._in_flight.pop(msg.req_id, None)
        if request is None or request.op != msg.op:
            self.unknown_acks += 1
            return AckOutcome(op=msg.op)
        if request.op == _UNSUBSCRIBE:
            return self._on_unsubscribe_ack(request, msg)
        if msg.success:
            return _outcome(subscribed=self._mark_subscribed(request.args))
        return self._on_subscribe_failure(request, msg.message)

    def _on_unsubscribe_ack(self, request: _Request, msg: ControlMessage) -> AckOutcome:
        """Forget the topics (still unsubscribing) whatever the answer; report a refusal."""
        dropped = [t for t in request.args if self._states.get(t) is TopicState.UNSUBSCRIBING]
        for topic in dropped:
            self._forget(topic)
        failed = {} if msg.success else dict.fromkeys(request.args, msg.message)
        return AckOutcome(_UNSUBSCRIBE, True, unsubscribed=tuple(dropped), failed=failed)

    def _on_subscribe_failure(self, request: _Request, message: str) -> AckOutcome:
        """Settle the topics the message names and retry the rest; if it names none, bisect.

        One bad topic fails a whole request, so the good ones go out again without it. An
        unnamed failure is split in halves until the bad topic stands alone (log2(n) rounds).
        """
        named = named_topics(message, request.args) or (
            set(request.args) if len(request.args) == 1 else set()
        )
        if not named:
            half = len(request.args) // 2
            halves = (request.args[:half], request.args[half:])
            return _outcome(retry=tuple(self._request(_SUBSCRIBE, h) for h in halves))
        good = [t for t in request.args if t not in named]
        retry = (self._request(_SUBSCRIBE, good),) if good else ()
        settled = [t for t in request.args if t in named]
        if _ALREADY_SUBSCRIBED in message.lower():  # the topic is live: that is what we wanted
            return _outcome(subscribed=self._mark_subscribed(settled), retry=retry)
        return _outcome(failed=self._mark_failed(settled, message), retry=retry)

    def _mark_subscribed(self, topics: list[str]) -> tuple[str, ...]:
        done = [t for t in topics if self._states.get(t) is TopicState.PENDING]
        for topic in done:
            self._set(topic, TopicState.SUBSCRIBED)
        return tuple(done)

    def _mark_failed(self, topics: list[str], message: str) -> dict[str, str]:
        failed = {t: message for t in topics if self._states.get(t) is TopicState.PENDING}
        for topic in failed:
            self._set(topic, TopicState.FAILED, message)
        return failed

    def _request(self, op: str, topics: list[str]) -> bytes:
        request = _Request(op, list(topics), self._next_req_id())
        self._in_flight[request.req_id] = request
        return msgspec.json.encode(request)

    def _set(self, topic: str, state: TopicState, message: str = "") -> None:
        self._states[topic] = state
        if message:
            self._messages[topic] = message
        else:
            self._messages.pop(topic, None)

    def _forget(self, topic: str) -> None:
        self._states.pop(topic, None)
        self._messages.pop(topic, None)

    def _check_room(self, new_topics: list[str]) -> None:
        chars = args_chars(dict.fromkeys([*self._states, *new_topics]))
        if chars > self._max_topic_chars:
            raise ValueError(
                f"{len(new_topics)} more topics would make this connection's args "
                f"{chars} characters, over {self._max_topic_chars} (/docs/v5/ws/connect); "
                "shard the symbols over more connections"
            )


def named_topics(message: str, topics: list[str]) -> set[str]:
    """The topics of a request that a failure message names, by topic or by symbol.

    Handles "error:handler not found,topic:orderbook.500.BTCUSDT", "error:already
    subscribed,topic:…" and spot's "Invalid symbol :[XYZ]" (several names allowed). Returns an
    empty set when the message names none of them.
    """
    tokens = {token.rstrip(".") for token in _NAME_TOKEN.findall(message)}
    by_topic = {t for t in topics if t in tokens}
    if by_topic:
        return by_topic
    return {t for t in topics if t.rsplit(".", 1)[-1] in tokens}
