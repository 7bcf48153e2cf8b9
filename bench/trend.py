"""The Theil-Sen slope: a trend that a sawtooth does not fool.

RSS samples of a long run rise and fall by tens of MB as buffers fill and are written (a row
group every few seconds, a metrics segment every 15 minutes); growth judged from two samples,
or a least-squares line, follows wherever those teeth happen to be at the ends. The Theil-Sen
estimator takes the median of the slopes between every pair of samples: up to ~29 % of the
samples can be arbitrarily far off without moving it, and a periodic tooth adds as many slopes
above the trend as below it.

    theil_sen([0, 1, 2, 3], [10, 12, 11, 13])   # 0.75: median of -1, 0.5, 0.5, 1, 2, 2
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Median slope dy/dx over all pairs of points with different x. O(n²) pairs: a soak's
    post-warm-up samples (720 an hour at one per 5 s) give ~260,000, a fraction of a second."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    if not slopes:
        raise ValueError("a slope needs at least two points with different x")
    return median(slopes)
