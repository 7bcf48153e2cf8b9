"""HTTP + WebSocket API: reads engine state, never mutates it.

app = create_app(engine, feed, started_ns=time.time_ns())
server = await serve_api(app, port=8090)   # on the engine's own event loop
...
await server.stop()
"""

from fastapi import FastAPI

from scalper.api.app import create_app
from scalper.embedded_server import RunningServer, serve_app

ApiServer = RunningServer


async def serve_api(app: FastAPI, host: str = "127.0.0.1", port: int = 8090) -> RunningServer:
    """Start serving `app` on this loop (the engine's: every request reads the state between
    two events, never during one); returns once listening."""
    return await serve_app(app, host, port, "API")


__all__ = ["ApiServer", "create_app", "serve_api"]
