"""Hand-made event streams for one symbol into an engine with signals, and what they give."""

from __future__ import annotations

import math

from scalper.engine import Engine
from scalper.events import BookUpdate, Level, Trade, TradeBatch
from scalper.settings import EngineSettings, SignalSettings
from scalper.signals import FACTOR_NAMES, SignalEngine

SYMBOL = "TESTUSDT"
SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND
"""A whole second: the first tick of a stream starting here is [T0, T0 + cadence)."""


class Stream:
    """Events of SYMBOL, in order, and the whole-second samples the signals gave."""

    def __init__(self, settings: SignalSettings | None = None) -> None:
        self.engine = Engine(EngineSettings())
        self.signals = SignalEngine(self.engine, settings or SignalSettings())
        self.samples: dict[int, tuple[dict[str, float | None], float | None, float | None]] = {}
        self.signals.sample_every_second(self._sample)
        self.update_id = 100

    def _sample(
        self, symbol: str, ts_ns: int, values: tuple[float, ...], score: float, mid: float
    ) -> None:
        named = {
            name: None if math.isnan(value) else value
            for name, value in zip(FACTOR_NAMES, values, strict=True)
        }
        self.samples[ts_ns] = (
            named,
            None if math.isnan(score) else score,
            None if math.isnan(mid) else mid,
        )

    def snapshot(self, ts: int, bids: list[Level], asks: list[Level]) -> None:
        self.update_id = 100
        self.engine.on_event(BookUpdate(SYMBOL, 50, True, bids, asks, self.update_id, 0, ts, ts))

    def delta(self, ts: int, bids: list[Level], asks: list[Level], skip: int = 0) -> None:
        """A delta (`skip` update ids jumped: a gap)."""
        self.update_id += 1 + skip
        self.engine.on_event(BookUpdate(SYMBOL, 50, False, bids, asks, self.update_id, 0, ts, ts))

    def trades(self, ts: int, *trades: tuple[int, float] | tuple[int, float, float]) -> None:
        """Trades of one message at `ts`: (side, size) or (side, size, price)."""
        built = [
            Trade(SYMBOL, t[2] if len(t) > 2 else 100.0, t[1], t[0], ts, ts)  # type: ignore[misc]
            for t in trades
        ]
        self.engine.on_event(TradeBatch(SYMBOL, built, ts, ts))

    def factor(self, name: str):
        view = self.signals.view(SYMBOL)
        assert view is not None
        return view.factors[name]

    def at(self, ts: int) -> dict[str, float | None]:
        """The factor values sampled at whole second `ts`."""
        return self.samples[ts][0]


def book(mid: float = 100.0, tick: float = 0.1, levels: int = 10, size: float = 5.0):
    """(bids, asks) of `levels` levels a side one tick apart, a one-tick spread around `mid`."""
    bids = [(round(mid - tick / 2 - k * tick, 6), size) for k in range(levels)]
    asks = [(round(mid + tick / 2 + k * tick, 6), size) for k in range(levels)]
    return bids, asks
