"""uvicorn inside someone else's event loop, on a socket bound up front.

Both the API (in the engine's loop) and the exchange simulator serve this way: the loop's owner
decides what Ctrl-C does, and binding first turns a busy port into a clear error (port 0 gives
a free one).
"""

from __future__ import annotations

import contextlib
import socket

import uvicorn

from scalper.errors import ConfigError


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket on host:port; ConfigError if it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock
