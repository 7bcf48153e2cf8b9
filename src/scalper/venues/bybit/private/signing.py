"""Bybit v5 request signing, pure: REST headers and the private WebSocket's auth message.

/docs/v5/guide, "Authentication": the string signed is `timestamp + api_key + recv_window +
payload`, where payload is the exact query string of a GET or the exact JSON body of a POST
(byte for byte what is sent), with HMAC-SHA256 as lowercase hex. /docs/v5/ws/connect: the
private stream authenticates with `{"op":"auth","args":[key, expires, sign("GET/realtime" +
expires)]}`, `expires` a time in ms in the near future.
"""

from __future__ import annotations

from typing import Final

import msgspec

from scalper.venues.bybit.private.credentials import Credentials

SIGNED_HEADERS: Final = ("X-BAPI-API-KEY", "X-BAPI-SIGN", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW")


def rest_payload_to_sign(api_key: str, timestamp_ms: int, recv_window_ms: int, payload: str) -> str:
    return f"{timestamp_ms}{api_key}{recv_window_ms}{payload}"


def rest_headers(
    credentials: Credentials, timestamp_ms: int, recv_window_ms: int, payload: str
) -> dict[str, str]:
    """The four X-BAPI-* headers of a request whose query string or body is `payload`."""
    key = credentials.api_key
    signature = credentials.sign(rest_payload_to_sign(key, timestamp_ms, recv_window_ms, payload))
    return {
        "X-BAPI-API-KEY": key,
        "X-BAPI-SIGN": signature,
        "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": str(recv_window_ms),
    }


def ws_auth_message(credentials: Credentials, expires_ms: int) -> bytes:
    """The private stream's auth request, valid until `expires_ms` (venue time)."""
    signature = credentials.sign(f"GET/realtime{expires_ms}")
    return msgspec.json.encode({"op": "auth", "args": [credentials.api_key, expires_ms, signature]})
