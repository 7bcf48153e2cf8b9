"""Who may change the trading state: a token for every write, and no foreign Host or Origin.

Loopback alone protects nothing: any web page the trader opens can POST to 127.0.0.1, and a
DNS-rebinding page passes as same-origin unless the `Host` header is checked. So the app checks
`Host` against an allow-list (`HostCheck`: Starlette's TrustedHostMiddleware's rule, answering
403 in JSON where Starlette answers 400 in text),
write requests with an `Origin` must come from an allowed host, and every write carries the
token (`Authorization: Bearer <token>`): created at first start in the data dir, readable by its
owner only. The dashboard reads it same-origin (`GET /api/trading/token`), which a foreign page
cannot (no CORS headers, and its Host or Origin is refused).
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from scalper.errors import ConfigError

TOKEN_FILE: Final = "api-token"
LOCAL_HOSTS: Final = ("localhost", "127.0.0.1", "::1", "[::1]")


def allowed_hosts(extra: tuple[str, ...]) -> list[str]:
    """Host names the API answers to: loopback names and the configured ones."""
    return [*LOCAL_HOSTS, *extra]


def load_or_create_token(data_dir: Path) -> str:
    """The write token of `data_dir` (created with mode 0600 on first use). A token file that
    others can read is refused: anyone on the machine could trade with it."""
    path = data_dir / TOKEN_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token


def token_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())


def origin_allowed(origin: str | None, host_header: str | None, hosts: list[str]) -> bool:
    """A request without `Origin` (curl, a script) passes on to the token check; a browser's
    must be same-origin: its host allowed and equal to the `Host` it sent to."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.hostname not in hosts and host not in hosts:
        return False
    return host_header is not None and parts.netloc == host_header


def _read_token(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 it"
        )
    token = path.read_text().strip()
    if len(token) < 32:
        raise ConfigError(f"{path} holds no token: delete it to create a new one")
    return token


class HostCheck:
    """ASGI middleware: a request (HTTP or WebSocket) whose `Host` is not allowed gets 403."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b'{"message":"forbidden Host header: the API answers to loopback names only"}'
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, scope: Scope) -> bool:
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if host.startswith("["):  # [::1]:8090
            name = host.split("]", 1)[0] + "]"
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in self.hosts
