"""What Bybit's private API can answer besides success, as our exceptions.

Every retCode the client can receive maps to one class with a message a user can act on; a code
not in the table becomes an `OrderRejectedError` naming the code and Bybit's own message. Codes
and meanings: /docs/v5/error (UTA table) and /docs/v5/rate-limit. No error ever carries a key,
a secret or a signature: they are built from the path, the retCode and retMsg only.
"""

from __future__ import annotations

from typing import Final

from scalper.errors import ConfigError
from scalper.venues.bybit.public_rest import VenueError


class CredentialsError(ConfigError):
    """The API key or secret is missing, or kept where others could read it."""


class LiveTradingRefused(ConfigError):
    """Mainnet was asked for without both `live` and the confirmation setting."""


class PrivateApiError(VenueError):
    """Bybit refused a private request (`ret_code` is its retCode; 0 for an HTTP error)."""

    def __init__(self, message: str, *, ret_code: int = 0, ret_msg: str = "") -> None:
        super().__init__(message)
        self.ret_code = ret_code
        self.ret_msg = ret_msg


class AuthenticationError(PrivateApiError):
    """Bad key, bad signature, missing permission or IP: retrying will not help."""


class TimeWindowError(PrivateApiError):
    """The request's timestamp was outside the receive window (our clock is off)."""


class RateLimitError(PrivateApiError):
    """Too many requests: per account (10006) or per IP (HTTP 403)."""

    def __init__(
        self, message: str, *, ret_code: int = 0, ret_msg: str = "", retry_after_s: float = 0.0
    ) -> None:
        super().__init__(message, ret_code=ret_code, ret_msg=ret_msg)
        self.retry_after_s = retry_after_s


class DuplicateOrderError(PrivateApiError):
    """The orderLinkId was used before: the order is already placed (110072)."""


class OrderNotFoundError(PrivateApiError):
    """No such open order: unknown, or already filled or cancelled."""


class OrderBusyError(PrivateApiError):
    """The order is being processed; try again shortly (110079)."""


class ParameterError(PrivateApiError):
    """A request parameter is wrong (a bug on our side or a symbol's filter)."""


class ServerError(PrivateApiError):
    """Bybit's side failed or timed out; the request's fate is unknown."""


class OrderRejectedError(PrivateApiError):
    """Bybit refused the order for a trading reason (balance, price, reduce-only, ...)."""


_TABLE: Final[dict[int, tuple[type[PrivateApiError], str]]] = {
    -1: (TimeWindowError, "request expired: the timestamp is outside the receive window"),
    10000: (ServerError, "server timeout"),
    10001: (ParameterError, "a request parameter is invalid"),
    10002: (TimeWindowError, "the timestamp is outside the receive window (clock skew)"),
    10003: (
        AuthenticationError,
        "the API key is invalid, or belongs to another environment (mainnet, testnet, demo)",
    ),
    10004: (AuthenticationError, "the signature is wrong (check the API secret)"),
    10005: (AuthenticationError, "the API key lacks the permission for this request"),
    10006: (RateLimitError, "too many requests for this account (rate limit)"),
    10007: (ServerError, "response timeout from Bybit's backend; the request's fate is unknown"),
    10010: (AuthenticationError, "this IP is not bound to the API key"),
    10014: (DuplicateOrderError, "duplicate request"),
    10016: (ServerError, "internal server error or service restarting"),
    10017: (ParameterError, "request path not found or method invalid"),
    10018: (RateLimitError, "IP rate limit exceeded"),
    10027: (AuthenticationError, "trading is banned for this account"),
    10029: (ParameterError, "the symbol is not in the API key's allowed list"),
    33004: (AuthenticationError, "the API key has expired"),
    110001: (OrderNotFoundError, "the order does not exist"),
    110007: (OrderRejectedError, "insufficient available balance for the order"),
    110008: (OrderNotFoundError, "the order has been completed or cancelled"),
    110072: (DuplicateOrderError, "the orderLinkId is a duplicate: the order is already placed"),
    110079: (OrderBusyError, "the order is being processed; try again shortly"),
}
"""retCode -> (class, what it means); /docs/v5/error."""

RETRYABLE_CODES: Final = frozenset({10002, 10006})
"""Codes the client retries itself: 10002 after resyncing the clock, 10006 after a pause."""


def error_for(ret_code: int, ret_msg: str, what: str) -> PrivateApiError:
    """The exception for a non-zero retCode answered to request `what` (e.g. a path)."""
    cls, meaning = _TABLE.get(ret_code, (OrderRejectedError, "refused"))
    message = f"Bybit {what}: retCode {ret_code}: {meaning} (retMsg {ret_msg!r})"
    return cls(message, ret_code=ret_code, ret_msg=ret_msg)


def error_for_http(status: int, body: str, what: str, ip_ban_backoff_s: float) -> PrivateApiError:
    """The exception for an HTTP error status (no Bybit envelope to read)."""
    sample = body[:200]
    if status == 403:
        return RateLimitError(
            f"Bybit {what}: HTTP 403 (an IP rate-limit ban, or a region Bybit does not serve):"
            f" every request pauses {ip_ban_backoff_s:g} s; body {sample!r}",
            retry_after_s=ip_ban_backoff_s,
        )
    if status == 401:
        return AuthenticationError(f"Bybit {what}: HTTP 401: key missing or wrong; {sample!r}")
    if status == 429:
        return RateLimitError(f"Bybit {what}: HTTP 429 (system-level frequency protection)")
    if status >= 500:
        return ServerError(f"Bybit {what}: HTTP {status}: {sample!r}")
    return ParameterError(f"Bybit {what}: HTTP {status}: {sample!r}")
