"""trading.funding: the amount's sign rule and the schedule read from tickers."""

from __future__ import annotations

import pytest

from scalper.events import TickerFields
from scalper.trading.funding import FundingTerms, funding_amount

MS = 1_000_000


def test_longs_pay_a_positive_rate_and_shorts_receive_it() -> None:
    # 2 contracts at a mark of 100 and 0.01 %: 2 * 100 * 0.0001 = 0.02
    assert funding_amount(2.0, 100.0, 0.0001) == pytest.approx(0.02)
    assert funding_amount(-2.0, 100.0, 0.0001) == pytest.approx(-0.02)


def test_a_negative_rate_reverses_who_pays() -> None:
    assert funding_amount(2.0, 100.0, -0.0001) == pytest.approx(-0.02)
    assert funding_amount(-2.0, 100.0, -0.0001) == pytest.approx(0.02)


def test_a_snapshot_sets_the_terms_and_schedules_the_funding_time() -> None:
    terms = FundingTerms()
    fields = TickerFields(funding_rate=0.0001, next_funding_time_ms=8_000, mark_price=100.0)
    assert terms.update(fields, is_snapshot=True) == 8_000 * MS
    assert (terms.rate, terms.mark_price) == (0.0001, 100.0)


def test_a_delta_changes_only_what_it_carries() -> None:
    terms = FundingTerms()
    terms.update(TickerFields(funding_rate=0.0001, next_funding_time_ms=8_000), True)
    assert terms.update(TickerFields(mark_price=101.0), False) is None
    assert (terms.rate, terms.mark_price, terms.next_funding_ns) == (0.0001, 101.0, 8_000 * MS)
    assert terms.update(TickerFields(funding_rate=-0.0002), False) is None
    assert terms.rate == -0.0002


def test_a_funding_time_is_due_once() -> None:
    terms = FundingTerms()
    terms.update(TickerFields(funding_rate=0.0001, next_funding_time_ms=8_000), True)
    assert terms.due(8_000 * MS - 1) is None
    assert terms.due(8_000 * MS) == 8_000 * MS
    terms.settled_ns = 8_000 * MS
    assert terms.due(9_000 * MS) is None
    # a late ticker repeating the settled time schedules nothing
    assert terms.update(TickerFields(next_funding_time_ms=8_000), True) is None
    assert terms.update(TickerFields(next_funding_time_ms=16_000), False) == 16_000 * MS
