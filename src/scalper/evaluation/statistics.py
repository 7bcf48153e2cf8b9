"""The statistics of signal evaluation, on plain arrays (numpy), with no data of their own.

TRADING.md ("Evaluating a signal"): IC = Pearson corr(s, r) and rank IC = Spearman of a signal
against the forward mid log-return on non-overlapping samples; hit rate among samples with r != 0
and |s| above a threshold, the zero-return share reported apart; decay IC(h) = IC0 * exp(-l h)
and half-life ln 2 / l; mean forward return by bucket of the signal, in bps.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import msgspec
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


class Correlation(msgspec.Struct):
    n: int
    ic: float | None
    """Pearson; None with fewer than 3 samples or a constant side."""
    ic_low: float | None
    ic_high: float | None
    """Confidence interval of the IC (Fisher z: atanh(ic) +- q / sqrt(n - 3))."""
    rank_ic: float | None
    """Spearman: Pearson of the average ranks."""


class HitRate(msgspec.Struct):
    threshold: float
    selected: int
    """Samples with |signal| > threshold."""
    zero_return_share: float | None
    """Share of the selected samples whose forward return is exactly 0."""
    hits: int
    hit_rate: float | None
    """Share of the selected samples with r != 0 whose sign matches the signal's."""


class Bucket(msgspec.Struct):
    low: float
    high: float
    """Signal range of the bucket."""
    n: int
    mean_return_bps: float


def pearson(x: Floats, y: Floats) -> float | None:
    if len(x) < 3:
        return None
    dx = x - x.mean()
    dy = y - y.mean()
    denominator = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denominator == 0.0:
        return None
    return max(-1.0, min(1.0, float(np.dot(dx, dy)) / denominator))


def average_ranks(values: Floats) -> Floats:
    """Ranks 1..n, ties sharing the mean of their ranks (what Spearman's rho needs)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(len(values))
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def correlation(x: Floats, y: Floats, confidence: float) -> Correlation:
    n = len(x)
    ic = pearson(x, y)
    low = high = None
    if ic is not None and n > 3:
        if abs(ic) == 1.0:  # a perfect line: atanh is infinite, the interval a point
            low = high = ic
        else:
            q = NormalDist().inv_cdf((1.0 + confidence) / 2.0)
            spread = q / math.sqrt(n - 3)
            low, high = math.tanh(math.atanh(ic) - spread), math.tanh(math.atanh(ic) + spread)
    rank = pearson(average_ranks(x), average_ranks(y)) if n >= 3 else None
    return Correlation(n, ic, low, high, rank)


def hit_rate(x: Floats, r: Floats, threshold: float) -> HitRate:
    selected = np.abs(x) > threshold
    chosen_x, chosen_r = x[selected], r[selected]
    count = len(chosen_x)
    if count == 0:
        return HitRate(threshold, 0, None, 0, None)
    moved = chosen_r != 0.0
    hits = int(np.count_nonzero(np.sign(chosen_x[moved]) == np.sign(chosen_r[moved])))
    moved_count = int(np.count_nonzero(moved))
    return HitRate(
        threshold,
        count,
        1.0 - moved_count / count,
        hits,
        hits / moved_count if moved_count else None,
    )


def magnitude_quantile(x: Floats, q: float) -> float:
    """The q-quantile of |x| (the hit rate's threshold of a factor); 0 for no samples."""
    return float(np.quantile(np.abs(x), q)) if len(x) else 0.0


def half_life(horizons_s: list[float], ics: list[float | None]) -> float | None:
    """ln 2 / l of the least-squares fit of ln|IC(h)| = ln|IC0| - l h over the shortest
    horizons up to the first missing IC or change of sign (past it, what is left is noise or
    another effect); None with fewer than two such points or no decay (l <= 0)."""
    points: list[tuple[float, float]] = []
    positive = ics[0] is not None and ics[0] > 0
    for h, ic in zip(horizons_s, ics, strict=True):
        if ic is None or ic == 0.0 or (ic > 0) != positive:
            break
        points.append((h, math.log(abs(ic))))
    if len(points) < 2:
        return None
    hs = np.array([p[0] for p in points])
    logs = np.array([p[1] for p in points])
    slope = float(np.polyfit(hs, logs, 1)[0])
    return math.log(2.0) / -slope if slope < 0.0 else None


def buckets(x: Floats, r: Floats, count: int) -> list[Bucket]:
    """Equal-count buckets of the signal (ascending; ties broken by sample order) and the mean
    forward return of each, in bps."""
    if len(x) < count:
        return []
    order = np.argsort(x, kind="mergesort")
    return [
        Bucket(
            float(x[part[0]]),
            float(x[part[-1]]),
            len(part),
            float(r[part].mean() * 10_000.0),
        )
        for part in np.array_split(order, count)
    ]
