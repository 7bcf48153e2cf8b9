"""Checks of a run's trading venue before any connection is made: `scalper run --live`
without the confirmation sentence is refused at once, with the reason, and nothing reaches
an exchange (market data included)."""

from __future__ import annotations

from collections.abc import Mapping

from scalper.settings import Settings
from scalper.venues.bybit.private.credentials import load_credentials
from scalper.venues.bybit.private.endpoints import resolve_endpoints
from scalper.venues.bybit.private.errors import LiveTradingRefused


def check_trading_venue(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Raise a ConfigError (LiveTradingRefused, CredentialsError) naming the problem: live
    trading that is not confirmed, not through the exchange or on testnet market data; keys
    that are missing or in a file others may read."""
    trading = settings.trading
    exchange = trading.enabled and trading.execution == "exchange"
    if trading.bybit.live and not exchange:
        raise LiveTradingRefused(
            "trading.bybit.live (--live) sends orders to Bybit mainnet: it needs"
            " trading.enabled and trading.execution = exchange"
        )
    if trading.bybit.live and settings.venue.testnet:
        raise LiveTradingRefused(
            "trading.bybit.live (--live) trades on mainnet: its market data must be mainnet's"
            " too (venue.testnet = false, --mainnet)"
        )
    if exchange:
        resolve_endpoints(trading.bybit)
        load_credentials(trading.bybit.key_file, environ)
