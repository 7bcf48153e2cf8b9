"""A planted alpha: the synthetic market's mid made a known function of its own trade flow.

With an alpha the true book is pinned, at every book delta, to a target mid path (the whole book
slides by whole ticks: its shape, and so imbalance, OFI and trades, stays the market's own; only
where it sits is planted). Time is cut into intervals of `horizon_ms` (epoch multiples). Over
the interval starting at t_k the target's log-price moves by

    r_k = (beta * FI_k + noise * W_k) / 10_000,

where FI_k = (buy - sell) / (buy + sell) is the aggressor volume imbalance of the trade messages
with a time in [t_k - window, t_k) (0 without trades), beta * FI_k accrues at a constant rate
over the interval and W_k is a Brownian motion's increment over it (a N(0, dt / horizon) step at
each book delta, so W_k ~ N(0, 1) and no return predicts the next). `null`: beta = 0, a random
walk independent of everything the engine sees. `flow`: beta = strength_bps. Sampled at t_k,
the trade-flow imbalance of the same window then has the information coefficient, against the
return to t_k + horizon,

    IC = beta * sd(FI) / sqrt(beta**2 * var(FI) + noise**2)

up to the pinning's rounding (half a tick at either end) and the moves trades make between two
book deltas (undone at the next one). Within an interval the drift is steady, so what follows a
mid move is partly predictable in the flow market (not in the null one): factors that see the
book move (OFI) show it at horizons shorter than the interval.
tests/integration/test_signal_evaluation.py checks that the evaluator recovers it.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Literal

import msgspec

from scalper.settings import PlantedAlphaSettings
from scalper.units import parse_duration_ns


class PlantedAlpha(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    mode: Literal["null", "flow"]
    window_ms: int = 5_000
    horizon_ms: int = 5_000
    strength_bps: float = 10.0
    noise_bps: float = 10.0

    def __post_init__(self) -> None:
        if self.window_ms <= 0 or self.horizon_ms <= 0 or self.noise_bps < 0:
            raise ValueError("window and horizon must be positive, noise_bps not negative")

    @property
    def beta_bps(self) -> float:
        return self.strength_bps if self.mode == "flow" else 0.0


class MidPath:
    """The target mid (in ticks, fractional) of one symbol under a planted alpha."""

    __slots__ = ("_alpha", "_drift", "_last", "_level", "_random", "_start", "_trades")

    def __init__(self, alpha: PlantedAlpha, rng: random.Random) -> None:
        self._alpha = alpha
        self._random = rng
        self._trades: deque[tuple[int, int, int]] = deque()
        """(ts_ms, buy lots, sell lots) of recent trade messages: at most `window` of them."""
        self._start: int | None = None
        self._last = 0
        self._level = 0.0
        """ln(target) at `_last`."""
        self._drift = 0.0
        """The current interval's planted log-return per millisecond."""

    def on_trades(self, ts_ms: int, side: int, lots: int) -> None:
        """A trade message: `lots` taken by the aggressor `side` (+1 buy, -1 sell)."""
        self._trades.append((ts_ms, lots if side > 0 else 0, lots if side < 0 else 0))

    def target(self, ts_ms: int, mid_ticks: float) -> float:
        """Where the mid should be at `ts_ms` (the first call anchors the path at `mid_ticks`);
        calls come in time order."""
        horizon = self._alpha.horizon_ms
        if self._start is None:
            self._start = ts_ms - ts_ms % horizon
            self._last = ts_ms
            self._level = math.log(mid_ticks)
            self._drift = self._planted(self._start)
        while ts_ms >= self._start + horizon:
            self._move_to(self._start + horizon)
            self._start += horizon
            self._drift = self._planted(self._start)
        self._move_to(ts_ms)
        return math.exp(self._level)

    def _move_to(self, ts_ms: int) -> None:
        """Drift and a Brownian step from the last move to `ts_ms`."""
        elapsed = ts_ms - self._last
        if elapsed <= 0:
            return
        alpha = self._alpha
        step = math.sqrt(elapsed / alpha.horizon_ms) * self._random.gauss()
        self._level += self._drift * elapsed + alpha.noise_bps * step / 10_000.0
        self._last = ts_ms

    def _planted(self, start_ms: int) -> float:
        """beta * FI / 10_000 per millisecond for the interval starting at `start_ms`."""
        alpha = self._alpha
        trades = self._trades
        while trades and trades[0][0] < start_ms - alpha.window_ms:
            trades.popleft()
        buy = sell = 0
        for ts_ms, bought, sold in trades:
            if ts_ms < start_ms:
                buy += bought
                sell += sold
        imbalance = (buy - sell) / (buy + sell) if buy + sell else 0.0
        return alpha.beta_bps * imbalance / 10_000.0 / alpha.horizon_ms


def planted_alpha(settings: PlantedAlphaSettings) -> PlantedAlpha | None:
    """The alpha `simulator.alpha` asks for; None when it is off."""
    if settings.mode == "off":
        return None
    return PlantedAlpha(
        settings.mode,
        window_ms=parse_duration_ns(settings.window) // 1_000_000,
        horizon_ms=parse_duration_ns(settings.horizon) // 1_000_000,
        strength_bps=settings.strength_bps,
        noise_bps=settings.noise_bps,
    )
