"""The local Bybit-compatible exchange: a deterministic synthetic market and (later) its server."""

from scalper.venues.simulator.market import (
    Contract,
    MarketConfig,
    SyntheticMarket,
    generate_frames,
)

__all__ = ["Contract", "MarketConfig", "SyntheticMarket", "generate_frames"]
