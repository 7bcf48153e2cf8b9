"""uvicorn inside someone else's event loop, on a socket bound up front.

Both the API (in the engine's loop) and the exchange simulator serve this way: the loop's owner
decides what Ctrl-C does, and binding first turns a busy port into a clear error (port 0 gives
a free one).

    server = await serve_app(app, "127.0.0.1", 0)
    server.url                      # http://127.0.0.1:<port>
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

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


class RunningServer:
    """A server serving on this loop; `port` is the bound port (useful with port 0)."""

    def __init__(
        self, server: EmbeddedServer, task: asyncio.Task[None], host: str, port: int
    ) -> None:
        self._server = server
        self._task = task
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Close every connection (WebSocket clients get 1012) and stop serving. Idempotent."""
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def serve_app(
    app: Any,
    host: str,
    port: int,
    name: str,
    graceful_s: float = 2.0,
    sock: socket.socket | None = None,
) -> RunningServer:
    """Start serving the ASGI `app` on this loop; returns once listening (ConfigError if the
    port is taken or the server fails to start). `sock`: a socket already bound with
    `listen(host, port)`, for an owner that binds before its other start-up work."""
    sock = sock or listen(host, port)
    bound = sock.getsockname()[1]
    server = EmbeddedServer(
        uvicorn.Config(
            app,
            host=host,
            port=bound,
            log_level="warning",
            # websockets-sansio, not "websockets": that one imports websockets.legacy,
            # deprecated since websockets 14 (a DeprecationWarning, an error in tests).
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=graceful_s,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]), name=name)
    while not server.started:
        if task.done():
            sock.close()
            raise ConfigError(f"the {name} could not serve on {host}:{bound}")
        await asyncio.sleep(0.005)
    return RunningServer(server, task, host, bound)
