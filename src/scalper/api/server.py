"""uvicorn embedded in the engine's event loop: the API shares the loop that feeds the engine,
so every request reads the state between two events, never during one."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from fastapi import FastAPI

from scalper.embedded_server import EmbeddedServer, listen
from scalper.errors import ConfigError


class ApiServer:
    """A running API server; `port` is the bound port (useful with port 0)."""

    def __init__(
        self, server: uvicorn.Server, task: asyncio.Task[None], host: str, port: int
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


async def serve_api(app: FastAPI, host: str = "127.0.0.1", port: int = 8090) -> ApiServer:
    """Start serving `app` on this loop; returns once listening."""
    sock = listen(host, port)
    server = EmbeddedServer(
        uvicorn.Config(
            app,
            host=host,
            port=sock.getsockname()[1],
            log_level="warning",
            # websockets-sansio, not "websockets": that one imports websockets.legacy,
            # deprecated since websockets 14 (a DeprecationWarning, an error in tests).
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]), name="api")
    while not server.started:
        if task.done():
            sock.close()
            raise ConfigError(f"the API could not serve on {host}:{port}")
        await asyncio.sleep(0.005)
    return ApiServer(server, task, host, sock.getsockname()[1])
