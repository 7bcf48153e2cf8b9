"""`make bench`'s cost verdicts pair the rounds of two rows, not their best rounds."""

from __future__ import annotations

import pytest
from bench.__main__ import _ratios_table, added_by_round


def test_what_a_row_adds_is_taken_round_by_round() -> None:
    # make bench at 02cf0d4: engine+signals' best round (6.01) was far from its others
    trading = {"rounds_us": [9.30, 9.96, 9.60]}
    signals = {"rounds_us": [8.40, 8.72, 6.01]}
    added = added_by_round(trading, signals)
    assert added == pytest.approx([9.30 / 8.40 - 1, 9.96 / 8.72 - 1, 9.60 / 6.01 - 1])
    assert sorted(added)[1] == pytest.approx(0.1422, abs=1e-4)  # the median: +14 %, not +55 %


def test_rounds_one_row_lacks_are_left_out() -> None:
    assert added_by_round({"rounds_us": [2.0, 3.0]}, {"rounds_us": [1.0]}) == [1.0]
    assert added_by_round({}, {"rounds_us": [1.0]}) == []


def test_the_verdict_is_the_median_of_the_rounds() -> None:
    results = {
        "engine": {"fps": 100.0, "us": 5.0, "rounds_us": [5.0, 5.0, 5.0]},
        "engine+signals": {"fps": 80.0, "us": 6.0, "rounds_us": [6.0, 6.0, 6.0]},
        "+trading": {"fps": 60.0, "us": 6.5, "rounds_us": [9.3, 6.5, 6.6]},
    }
    table = _ratios_table(results)
    assert table is not None
    cells = {column.header: list(column.cells) for column in table.columns}
    trading = next(i for i, r in enumerate(cells["ratio"]) if r.startswith("trading"))
    assert cells["value"][trading] == "10%"  # rounds +55 %, +8 %, +10 %
    assert "PASS" in cells["verdict"][trading]
    assert "+55% +8% +10%" in cells["ratio"][trading]
