"""HTTP + WebSocket API: reads engine state, never mutates it.

app = create_app(engine, feed, started_ns=time.time_ns())
server = await serve_api(app, port=8090)   # on the engine's own event loop
...
await server.stop()
"""

from scalper.api.app import create_app
from scalper.api.server import ApiServer, serve_api

__all__ = ["ApiServer", "create_app", "serve_api"]
