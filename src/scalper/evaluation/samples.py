"""The evaluator's samples: every symbol's factor values, score and mid at each whole second.

`SampleCollector.add` is the signal engine's sampler (`SignalEngine.sample_every_second`): one
flat array of doubles per symbol, a row per second (8 bytes a value: 300 symbols x 1 h x 31
columns is about 270 MB), turned into numpy arrays once the replay is done.
"""

from __future__ import annotations

from array import array

import msgspec
import numpy as np
from numpy.typing import NDArray

from scalper.signals.catalog import FACTOR_NAMES

SCORE: str = "score"
COLUMNS: tuple[str, ...] = (*FACTOR_NAMES, SCORE)
"""What is evaluated: every factor, then the score."""


class SymbolSamples(msgspec.Struct):
    """One symbol's samples: ts_ns (whole seconds, increasing), values (rows x COLUMNS) and
    mid, NaN where a value or the mid was not there."""

    symbol: str
    ts_ns: NDArray[np.int64]
    values: NDArray[np.float64]
    mid: NDArray[np.float64]


class SampleCollector:
    """Collects the signal engine's whole-second samples."""

    def __init__(self) -> None:
        self._times: dict[str, array] = {}
        self._rows: dict[str, array] = {}

    def add(
        self, symbol: str, ts_ns: int, values: tuple[float, ...], score: float, mid: float
    ) -> None:
        rows = self._rows.get(symbol)
        if rows is None:
            rows = self._rows[symbol] = array("d")
            self._times[symbol] = array("q")
        self._times[symbol].append(ts_ns)
        rows.extend(values)
        rows.append(score)
        rows.append(mid)

    @property
    def count(self) -> int:
        return sum(len(times) for times in self._times.values())

    def samples(self) -> list[SymbolSamples]:
        """Every symbol's samples, by symbol."""
        width = len(COLUMNS) + 1
        out = []
        for symbol in sorted(self._rows):
            table = np.frombuffer(self._rows[symbol], dtype=np.float64).reshape(-1, width)
            out.append(
                SymbolSamples(
                    symbol,
                    np.frombuffer(self._times[symbol], dtype=np.int64),
                    table[:, :-1],
                    table[:, -1],
                )
            )
        return out
