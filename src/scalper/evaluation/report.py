"""From samples to the evaluation: every factor and the score, per symbol and pooled, by horizon.

For a horizon h the samples used are the whole seconds t with t % h == 0 (non-overlapping: one
return never shares a second with the next), paired with the sample at t + h: the forward
return is r = ln(mid(t + h) / mid(t)). A pair needs both mids (books in sync) and the value
(not warming up, not unavailable). Pooled statistics concatenate every symbol's pairs.
"""

from __future__ import annotations

import msgspec
import numpy as np
from numpy.typing import NDArray

from scalper.evaluation.samples import COLUMNS, SCORE, SymbolSamples
from scalper.evaluation.statistics import (
    Bucket,
    Correlation,
    HitRate,
    buckets,
    correlation,
    half_life,
    hit_rate,
    magnitude_quantile,
)
from scalper.settings import SignalSettings
from scalper.signals.catalog import FACTORS
from scalper.units import parse_duration_ns

KINDS = {**{spec.name: spec.kind for spec in FACTORS}, SCORE: "score"}


class HorizonStats(msgspec.Struct):
    correlation: Correlation
    hits: HitRate


class ColumnReport(msgspec.Struct):
    name: str
    kind: str
    pooled: dict[str, HorizonStats]
    """By horizon ("1s", ...)."""
    half_life_s: float | None
    """Of the pooled IC's decay over the horizons (None: fewer than two points or no decay)."""
    per_symbol: dict[str, dict[str, HorizonStats]]


class Evaluation(msgspec.Struct):
    source: str
    scorer_version: str
    horizons: list[str]
    symbols: list[str]
    samples: int
    """Whole-second samples collected (all symbols)."""
    first_ns: int | None
    last_ns: int | None
    hurdles_bps: dict[str, float]
    """Round-trip costs the bucket returns are set against."""
    columns: dict[str, ColumnReport]
    score_buckets: dict[str, list[Bucket]]
    """Mean forward return by score bucket (deciles by default), pooled, by horizon."""
    signal_settings: SignalSettings


class _Pairs(msgspec.Struct):
    rows: NDArray[np.intp]
    """Sample rows of the starts."""
    returns: NDArray[np.float64]


def _pairs(samples: SymbolSamples, horizon_ns: int) -> _Pairs:
    times = samples.ts_ns
    starts = np.flatnonzero(times % horizon_ns == 0)
    ends = np.searchsorted(times, times[starts] + horizon_ns)
    inside = ends < len(times)
    starts, ends = starts[inside], ends[inside]
    found = times[ends] == times[starts] + horizon_ns
    starts, ends = starts[found], ends[found]
    mid = samples.mid
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.log(mid[ends] / mid[starts])
    usable = np.isfinite(returns)
    return _Pairs(starts[usable], returns[usable])


def _stats(
    x: NDArray[np.float64],
    r: NDArray[np.float64],
    threshold: float | None,
    settings: SignalSettings,
) -> HorizonStats:
    evaluation = settings.evaluation
    if threshold is None:
        threshold = magnitude_quantile(x, evaluation.hit_quantile)
    return HorizonStats(correlation(x, r, evaluation.confidence), hit_rate(x, r, threshold))


def hurdles(settings: SignalSettings) -> dict[str, float]:
    """Round trips in bps (TRADING.md): taker/taker, maker in + taker out, maker/maker."""
    taker, maker = settings.evaluation.taker_fee_bps, settings.evaluation.maker_fee_bps
    return {
        "taker_taker": 2 * taker,
        "maker_taker": maker + taker,
        "maker_maker": 2 * maker,
    }


def evaluate(
    samples: list[SymbolSamples], settings: SignalSettings, source: str, version: str
) -> Evaluation:
    """Every statistic of every column, per symbol and pooled, at every horizon."""
    horizons = list(settings.evaluation.horizons)
    horizon_ns = {name: parse_duration_ns(name) for name in horizons}
    pairs = {
        (s.symbol, name): _pairs(s, span) for s in samples for name, span in horizon_ns.items()
    }
    score_threshold = settings.score.direction_threshold
    columns: dict[str, ColumnReport] = {}
    score_buckets: dict[str, list[Bucket]] = {}
    for index, column in enumerate(COLUMNS):
        threshold = score_threshold if column == SCORE else None
        per_symbol: dict[str, dict[str, HorizonStats]] = {}
        pooled: dict[str, HorizonStats] = {}
        for name in horizons:
            xs, rs = [], []
            for s in samples:
                pair = pairs[(s.symbol, name)]
                x = s.values[pair.rows, index]
                known = ~np.isnan(x)
                x, r = x[known], pair.returns[known]
                per_symbol.setdefault(s.symbol, {})[name] = _stats(x, r, threshold, settings)
                xs.append(x)
                rs.append(r)
            x_all = np.concatenate(xs) if xs else np.empty(0)
            r_all = np.concatenate(rs) if rs else np.empty(0)
            pooled[name] = _stats(x_all, r_all, threshold, settings)
            if column == SCORE:
                score_buckets[name] = buckets(x_all, r_all, settings.evaluation.buckets)
        decay = half_life(
            [horizon_ns[name] / 1e9 for name in horizons],
            [pooled[name].correlation.ic for name in horizons],
        )
        columns[column] = ColumnReport(column, KINDS[column], pooled, decay, per_symbol)
    times = [int(s.ts_ns[0]) for s in samples if len(s.ts_ns)]
    ends = [int(s.ts_ns[-1]) for s in samples if len(s.ts_ns)]
    return Evaluation(
        source=source,
        scorer_version=version,
        horizons=horizons,
        symbols=[s.symbol for s in samples],
        samples=sum(len(s.ts_ns) for s in samples),
        first_ns=min(times) if times else None,
        last_ns=max(ends) if ends else None,
        hurdles_bps=hurdles(settings),
        columns=columns,
        score_buckets=score_buckets,
        signal_settings=settings,
    )
