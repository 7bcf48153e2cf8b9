"""The local Bybit-compatible exchange: a deterministic synthetic market and (later) its server."""

from scalper.venues.simulator.market import (
    Instrument,
    MarketConfig,
    SyntheticMarket,
    generate_frames,
)

__all__ = ["Instrument", "MarketConfig", "SyntheticMarket", "generate_frames"]
