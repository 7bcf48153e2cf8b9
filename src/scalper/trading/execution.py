"""The execution protocol: what the trading core asks of a venue, and what it hears back.

The paper broker (`paper.py`) and real venues (Bybit's private API, the simulator's) implement
the same `ExecutionClient`, so the trading core cannot tell paper from real. REST answers mean
"accepted" only: state arrives as `ExecutionEvent`s (order updates, fills, funding).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from scalper.trading.orders import ExecutionEvent, OrderRequest

EventSink = Callable[[ExecutionEvent], None]


class ExecutionClient(Protocol):
    """Places and cancels orders; reports every change through the sink it was given."""

    def set_sink(self, sink: EventSink) -> None:
        """Where order updates, fills and funding go (called once, before any order)."""
        ...

    def submit(self, request: OrderRequest) -> None:
        """Place an order; its fate arrives as events (acknowledged, filled, rejected...)."""
        ...

    def cancel(self, client_id: str, ts_ns: int) -> None:
        """Cancel an open order (its cancellation arrives as an OrderUpdate)."""
        ...
