"""Order-entry and order-response latency of the paper venue: a constant plus seeded jitter.

hftbacktest splits latency in three (TRADING.md "Latency"; hftbacktest docs/latency_models.rst):
feed latency is in the data already (the engine runs on the venue's event time), order entry is
from our decision to the matching engine, order response from the matching engine back to us
(fills pay it too). Its maintainer warns that a constant latency is unrealistic (issue #256), so
each draw adds an exponential jitter. The draws are seeded, entry and response from separate
streams, so the same events give the same latencies, and one more order does not shift the
response latencies of the others.
"""

from __future__ import annotations

import random

from scalper.settings import PaperSettings

_NS_PER_MS = 1_000_000


class LatencyModel:
    """Draws entry and response latencies in nanoseconds."""

    def __init__(
        self, entry_ms: float, response_ms: float, jitter_ms: float, seed: int = 1
    ) -> None:
        self._entry_ns = entry_ms * _NS_PER_MS
        self._response_ns = response_ms * _NS_PER_MS
        self._jitter_ns = jitter_ms * _NS_PER_MS
        # String seeds are hashed with SHA-512 by `random`: stable across runs and processes.
        self._entry_rng = random.Random(f"{seed}:entry")
        self._response_rng = random.Random(f"{seed}:response")

    @classmethod
    def from_settings(cls, settings: PaperSettings) -> LatencyModel:
        return cls(
            settings.entry_latency_ms,
            settings.response_latency_ms,
            settings.latency_jitter_ms,
            settings.seed,
        )

    def entry_ns(self) -> int:
        """Decision to matching engine."""
        return self._draw(self._entry_ns, self._entry_rng)

    def response_ns(self) -> int:
        """Matching engine back to the trader."""
        return self._draw(self._response_ns, self._response_rng)

    def _draw(self, constant_ns: float, rng: random.Random) -> int:
        if self._jitter_ns <= 0.0:
            return round(constant_ns)
        return round(constant_ns + rng.expovariate(1.0 / self._jitter_ns))
