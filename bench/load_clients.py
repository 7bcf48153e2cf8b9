"""The WebSocket clients `bench.load --client` can run the live feed on, by name."""

from __future__ import annotations

from bench.load_websockets_client import WebsocketsConnection
from scalper.venues.bybit.connection import BybitConnection

CLIENTS: dict[str, type] = {
    "picows": BybitConnection,
    "websockets": WebsocketsConnection,
}
