"""Local request budgets: a token bucket per request kind, paused by what Bybit says.

/docs/v5/rate-limit: per account, create, amend, cancel and cancel-all are limited to 10 per
second each (linear), order and execution queries to 50; every answer carries `X-Bapi-Limit`
(the limit), `X-Bapi-Limit-Status` (requests left) and `X-Bapi-Limit-Reset-Timestamp` (ms, when
the window resets). The buckets keep us under the limits; the headers and retCode 10006 pause
a kind until its reset; HTTP 403 (an IP ban) pauses every kind. Times are on a monotonic clock
in seconds, injectable for tests.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Mapping

from scalper.settings import BybitPrivateSettings

Clock = Callable[[], float]


class RequestKind(enum.Enum):
    CREATE = "create"
    AMEND = "amend"
    CANCEL = "cancel"
    CANCEL_ALL = "cancel_all"
    QUERY = "query"


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved; `pause_until` stops it for a while."""

    def __init__(
        self, rate: float, burst: float | None = None, clock: Clock = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self) -> float:
        """Take a token; returns how long (s) to wait before using it (0: now). O(1)."""
        now = self._clock()
        self._refill(now)
        self._tokens -= 1.0
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        return max(wait, self._paused_until - now)

    def pause_until(self, when: float) -> None:
        """No request of this kind before `when` (clock time); the saved tokens are spent."""
        if when > self._paused_until:
            self._paused_until = when
            self._tokens = min(self._tokens, 0.0)

    @property
    def paused_until(self) -> float:
        return self._paused_until


class RateLimiter:
    """The buckets of every request kind of one account."""

    def __init__(self, settings: BybitPrivateSettings, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.buckets = {
            RequestKind.CREATE: TokenBucket(settings.create_per_s, clock=clock),
            RequestKind.AMEND: TokenBucket(settings.amend_per_s, clock=clock),
            RequestKind.CANCEL: TokenBucket(settings.cancel_per_s, clock=clock),
            RequestKind.CANCEL_ALL: TokenBucket(settings.cancel_all_per_s, clock=clock),
            RequestKind.QUERY: TokenBucket(settings.query_per_s, clock=clock),
        }
        self.waits = 0
        """Requests that had to wait for their bucket (a metric)."""

    async def acquire(self, kind: RequestKind) -> None:
        wait = self.buckets[kind].reserve()
        if wait > 0:
            self.waits += 1
            await asyncio.sleep(wait)

    def pause(self, kind: RequestKind, seconds: float) -> None:
        self.buckets[kind].pause_until(self._clock() + seconds)

    def pause_all(self, seconds: float) -> None:
        for bucket in self.buckets.values():
            bucket.pause_until(self._clock() + seconds)

    def on_headers(self, kind: RequestKind, headers: Mapping[str, str], venue_now_ms: int) -> None:
        """Read the limit headers: a limit below our bucket's rate becomes its rate (the
        account's real limit); nothing left in the window pauses the kind until its reset."""
        limit = _int_header(headers, "X-Bapi-Limit")
        bucket = self.buckets[kind]
        if limit is not None and 0 < limit * LEARNED_RATE_SHARE < bucket.rate:
            bucket.rate = limit * LEARNED_RATE_SHARE
            bucket.burst = float(limit)
        left = limit_status(headers)
        if left is not None and left <= 0:
            self.pause(kind, reset_in_s(headers, venue_now_ms, default=1.0))


def limit_status(headers: Mapping[str, str]) -> int | None:
    """X-Bapi-Limit-Status (requests left in the window), or None if absent or unreadable."""
    return _int_header(headers, "X-Bapi-Limit-Status")


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


LEARNED_RATE_SHARE = 0.9
"""A limit learnt from X-Bapi-Limit is paced at this share of it: Bybit's window rolls on its
clock, ours on ours, and requests paced at exactly the limit would graze it."""

RESET_MARGIN_S = 0.05
"""Added to a reset time: our clock and the venue's agree only to a few ms."""


def reset_in_s(headers: Mapping[str, str], venue_now_ms: int, default: float) -> float:
    """Seconds until X-Bapi-Limit-Reset-Timestamp (venue ms), within 0..60; `default` if the
    header is absent or unreadable."""
    try:
        reset_ms = int(headers["X-Bapi-Limit-Reset-Timestamp"])
    except (KeyError, ValueError):
        return default
    return min(60.0, max(0.0, (reset_ms - venue_now_ms) / 1000.0 + RESET_MARGIN_S))
