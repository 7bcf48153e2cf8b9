"""The order-rate self-throttle: a token bucket in event time.

Bybit allows 10 creates, amends and cancels a second per account (/docs/v5/rate-limit, "Trade"
limits); we stay below with `RiskSettings.max_orders_per_s`. The bucket holds `burst` tokens
(the rate, rounded down, at least 1) and refills at `rate` a second, so at most `burst` requests
pass at once and `rate` a second after that; any window of one second sees at most
`burst + rate` requests (9 at the default 5/s: still below Bybit's 10 per kind).

Implemented as GCRA (the "virtual scheduling" form of a token bucket) on integer nanoseconds:
one "theoretical arrival time" instead of a fractional token count, so the arithmetic is exact
and the same events always give the same answers.
"""

from __future__ import annotations

import math

NS_PER_S = 1_000_000_000


class OrderRateLimiter:
    """`try_take(ts)` spends a token if one is there; `take(ts)` spends one regardless (requests
    that reduce exposure must never wait for our own throttle, but they use up the rate that
    entries then wait for)."""

    def __init__(self, rate_per_s: float) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"the order rate must be positive, not {rate_per_s}")
        self.interval_ns = math.ceil(NS_PER_S / rate_per_s)
        """One token's refill time (rounded up: never faster than the setting)."""
        self.burst = max(1, math.floor(rate_per_s))
        self._tolerance_ns = (self.burst - 1) * self.interval_ns
        self._next_ns = 0
        """When the bucket would be full again had nothing more been taken ("theoretical
        arrival time" of the next request)."""

    def available(self, ts_ns: int) -> bool:
        """Whether a token is there at `ts_ns` (nothing spent)."""
        return max(self._next_ns, ts_ns) - ts_ns <= self._tolerance_ns

    def try_take(self, ts_ns: int) -> bool:
        if not self.available(ts_ns):
            return False
        self.take(ts_ns)
        return True

    def take(self, ts_ns: int) -> None:
        self._next_ns = max(self._next_ns, ts_ns) + self.interval_ns

    def tokens(self, ts_ns: int) -> float:
        """Tokens in the bucket at `ts_ns` (for display; negative after forced takes)."""
        backlog = max(self._next_ns, ts_ns) - ts_ns
        return self.burst - backlog / self.interval_ns
