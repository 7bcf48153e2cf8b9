"""scalper: a real-time order-flow engine for crypto perpetual futures (Bybit v5 first)."""

__version__ = "0.1.0"
