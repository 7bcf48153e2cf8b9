"""The Theil-Sen slope of bench/trend.py against slopes worked out by hand."""

from __future__ import annotations

import pytest
from bench.trend import theil_sen


def test_median_of_the_pairwise_slopes():
    # The slopes of pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3) are 2, 0.5, 1, -1, 0.5 and 2;
    # in order -1, 0.5, 0.5, 1, 2, 2; the median is halfway between 0.5 and 1.
    assert theil_sen([0, 1, 2, 3], [10, 12, 11, 13]) == 0.75


def test_an_outlier_does_not_move_it():
    # y = 2x with one wild point: of the 10 pairs, the 4 through (2, 100) are off
    # ((0,2) 50, (1,2) 98, (2,3) -94, (2,4) -46); the 6 others are exactly 2: median 2.
    xs = [0, 1, 2, 3, 4]
    ys = [0, 2, 100, 6, 8]
    assert theil_sen(xs, ys) == 2.0


def test_a_sawtooth_on_a_flat_line_has_no_trend():
    # Teeth of 0, 20, 40 MB repeating: every rise within a tooth is matched by a fall.
    xs = list(range(12))
    ys = [300 + 20 * (x % 3) for x in xs]
    assert theil_sen(xs, ys) == 0.0


def test_repeated_x_values_are_skipped_and_bad_input_refused():
    assert theil_sen([0, 0, 1], [5, 7, 9]) == 3.0  # pairs (0,1) 4 and (0,1) 2; median 3
    with pytest.raises(ValueError):
        theil_sen([1, 1], [1, 2])
    with pytest.raises(ValueError):
        theil_sen([1, 2], [1])
