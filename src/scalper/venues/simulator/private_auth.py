"""The local exchange's private API gate: signatures, receive window, per-key rate limits.

Bybit's rules (/docs/v5/guide), checked with this module's own code (never the client's):
a REST request is signed `HMAC_SHA256(secret, timestamp + api_key + recv_window + payload)`,
lowercase hex, payload the query string (GET) or the body bytes (POST); the key must be known
(10003), the signature right (10004), and `server - recv_window <= timestamp < server + 1000`
(10002). The private WebSocket authenticates with `HMAC_SHA256(secret, "GET/realtime" +
expires)` and `expires` in the future. Each key has a window of one second per request kind;
beyond its limit, 10006 with the X-Bapi-Limit* headers.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Final

from scalper.settings import SimulatedAccountSettings

FUTURE_TOLERANCE_MS: Final = 1000
"""A timestamp may be at most this far ahead of the server (/docs/v5/guide)."""
ORDER_KINDS: Final = {
    "/v5/order/create": "create",
    "/v5/order/amend": "amend",
    "/v5/order/cancel": "cancel",
    "/v5/order/cancel-all": "cancel_all",
}
"""Paths limited per kind at `order_per_s`; every other signed path is a query."""


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class PrivateGate:
    """Authenticates requests and counts them per key and kind (one-second windows)."""

    def __init__(
        self,
        settings: SimulatedAccountSettings,
        *,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = {settings.api_key: settings.api_secret}
        self.limits: dict[str, int] = dict.fromkeys(ORDER_KINDS.values(), settings.order_per_s)
        """Requests per second by kind (a test may lower one)."""
        self.limits["query"] = settings.query_per_s
        self.skew_ms = 0
        """Added to the server clock (a test moves it to put clients outside their window)."""
        self._now_ms = now_ms
        self._monotonic = monotonic
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def now_ms(self) -> int:
        return self._now_ms() + self.skew_ms

    def check_rest(self, headers: Mapping[str, str], payload: str) -> tuple[int, str]:
        """(retCode, the key) of a signed REST request: 0 when it may proceed."""
        key = headers.get("x-bapi-api-key", "")
        secret = self._secrets.get(key)
        if secret is None:
            return 10003, key
        ts = headers.get("x-bapi-timestamp", "")
        recv = headers.get("x-bapi-recv-window", "5000")
        given = headers.get("x-bapi-sign", "")
        if not hmac.compare_digest(given, sign(secret, f"{ts}{key}{recv}{payload}")):
            return 10004, key
        if not (ts.isdecimal() and recv.isdecimal()):
            return 10001, key
        now = self.now_ms()
        if not now - int(recv) <= int(ts) < now + FUTURE_TOLERANCE_MS:
            return 10002, key
        return 0, key

    def check_ws_auth(self, key: str, expires: str, given: str) -> str:
        """Why a private stream's auth request fails ("" when it succeeds)."""
        secret = self._secrets.get(key)
        if secret is None:
            return "API key is invalid."
        if not hmac.compare_digest(given, sign(secret, f"GET/realtime{expires}")):
            return "Invalid sign."
        if not expires.isdecimal() or int(expires) <= self.now_ms():
            return "Params Error: expires is in the past."
        return ""

    def take(self, key: str, path: str) -> tuple[bool, dict[str, str]]:
        """Count one request of `key` on `path`: (allowed, the X-Bapi-Limit* headers)."""
        kind = ORDER_KINDS.get(path, "query")
        limit = self.limits[kind]
        now = self._monotonic()
        window = self._windows[key, kind]
        while window and now - window[0] >= 1.0:
            window.popleft()
        allowed = len(window) < limit
        if allowed:
            window.append(now)
        reset_ms = self.now_ms() + int((1.0 - (now - window[0])) * 1000) + 1 if window else 0
        return allowed, {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": str(limit - len(window)),
            "X-Bapi-Limit-Reset-Timestamp": str(reset_ms or self.now_ms() + 1000),
        }
