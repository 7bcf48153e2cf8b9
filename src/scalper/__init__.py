"""scalper: a real-time market-microstructure engine for crypto perpetual futures."""

from scalper.config import EngineConfig
from scalper.engine import Engine
from scalper.venues.bybit.wire import decode_frame

__all__ = ["Engine", "EngineConfig", "decode_frame"]
__version__ = "0.1.0"
