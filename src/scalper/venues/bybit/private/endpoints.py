"""Where orders go: testnet unless live trading is asked for twice (a flag and a sentence).

An override URL (the local simulator, tests) that names a mainnet host counts as mainnet, so a
setting cannot reach the real exchange by the back door.
"""

from __future__ import annotations

from typing import Final, NamedTuple
from urllib.parse import urlsplit

from scalper.settings import LIVE_CONFIRMATION, BybitPrivateSettings
from scalper.venues.bybit.private.errors import LiveTradingRefused

MAINNET_HOSTS: Final = frozenset({"api.bybit.com", "api.bytick.com", "stream.bybit.com"})
"""/docs/v5/guide and /docs/v5/ws/connect: the real exchange's REST and stream hosts."""


class Endpoints(NamedTuple):
    rest_url: str
    ws_url: str
    mainnet: bool


def resolve_endpoints(settings: BybitPrivateSettings) -> Endpoints:
    """The REST and private stream URLs; LiveTradingRefused if they would reach mainnet
    without `live` and the exact `live_confirmation`."""
    if settings.live:
        if settings.live_confirmation != LIVE_CONFIRMATION:
            raise LiveTradingRefused(
                "live trading on Bybit mainnet needs trading.bybit.live_confirmation set to"
                f" {LIVE_CONFIRMATION!r} (or --confirm-live with that sentence) as well as --live"
            )
        rest = settings.rest_url or settings.mainnet_rest_url
        ws = settings.ws_url or settings.mainnet_ws_url
        return Endpoints(rest, ws, True)
    rest = settings.rest_url or settings.testnet_rest_url
    ws = settings.ws_url or settings.testnet_ws_url
    for url in (rest, ws):
        if urlsplit(url).hostname in MAINNET_HOSTS:
            raise LiveTradingRefused(
                f"{url} is Bybit mainnet: trading there needs --live and"
                " trading.bybit.live_confirmation"
            )
    return Endpoints(rest, ws, False)
