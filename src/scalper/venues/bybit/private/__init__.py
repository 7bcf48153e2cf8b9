"""Bybit v5 private API: signed REST orders, the private stream, and `BybitExecution`, the
`ExecutionClient` that puts them together (testnet unless live trading is configured).

    execution = BybitExecution.from_settings(settings.trading.bybit)
    execution.set_sink(trader.on_execution_event)
    await execution.start()
    ...
    await execution.close()
"""

from scalper.venues.bybit.private.credentials import Credentials, load_credentials
from scalper.venues.bybit.private.endpoints import Endpoints, resolve_endpoints
from scalper.venues.bybit.private.errors import (
    AuthenticationError,
    CredentialsError,
    DuplicateOrderError,
    LiveTradingRefused,
    OrderBusyError,
    OrderNotFoundError,
    OrderRejectedError,
    ParameterError,
    PrivateApiError,
    RateLimitError,
    ServerError,
    TimeWindowError,
)
from scalper.venues.bybit.private.execution import BybitExecution
from scalper.venues.bybit.private.rest import BybitPrivateRest
from scalper.venues.bybit.private.stream import PrivateStream

__all__ = [
    "AuthenticationError",
    "BybitExecution",
    "BybitPrivateRest",
    "Credentials",
    "CredentialsError",
    "DuplicateOrderError",
    "Endpoints",
    "LiveTradingRefused",
    "OrderBusyError",
    "OrderNotFoundError",
    "OrderRejectedError",
    "ParameterError",
    "PrivateApiError",
    "PrivateStream",
    "RateLimitError",
    "ServerError",
    "TimeWindowError",
    "load_credentials",
    "resolve_endpoints",
]
