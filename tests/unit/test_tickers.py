"""tickers.TickerState: a snapshot replaces, a delta merges only the fields it carries.

The rule (`_tickers.pyx`, TickerState._apply): a field a message carries (not None) is taken,
whether snapshot or delta; a field a snapshot does not carry is cleared back to None; a field a
delta does not carry keeps its value. `next_funding_time_ms`, the one integer field, follows
the same rule.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from scalper.events import TickerFields, TickerUpdate
from scalper.tickers import TickerState

FIELD_NAMES = TickerFields.__struct_fields__
FLOAT_FIELDS = FIELD_NAMES[:-1]
MS = 1_000_000


def update(snapshot: bool, ts_ms: int = 1_700_000_000_000, **values: Any) -> TickerUpdate:
    return TickerUpdate(
        symbol="BTCUSDT",
        is_snapshot=snapshot,
        fields=TickerFields(**values),
        ts_event_ns=ts_ms * MS,
        recv_ns=ts_ms * MS + 7,
    )


def applied(*updates: TickerUpdate) -> TickerState:
    state = TickerState()
    for one in updates:
        state.apply(one)
    return state


def test_a_new_state_holds_nothing() -> None:
    state = TickerState()

    assert state.fields == TickerFields()
    assert (state.updates, state.ts_event_ns) == (0, 0)


def test_snapshot_sets_exactly_the_fields_it_carries() -> None:
    state = applied(
        update(True, last_price=100.5, mark_price=100.25, next_funding_time_ms=1_700_028_800_000)
    )

    assert state.fields == TickerFields(
        last_price=100.5, mark_price=100.25, next_funding_time_ms=1_700_028_800_000
    )
    assert state.updates == 1
    assert state.ts_event_ns == 1_700_000_000_000 * MS


def test_delta_merges_only_the_fields_it_carries() -> None:
    state = applied(
        update(True, last_price=100.5, mark_price=100.25, bid1_price=100.0, bid1_size=3.0),
        update(False, 1_700_000_000_100, last_price=101.0, volume_24h=12_345.0),
    )

    assert state.fields == TickerFields(
        last_price=101.0, mark_price=100.25, bid1_price=100.0, bid1_size=3.0, volume_24h=12_345.0
    )
    assert state.updates == 2
    assert state.ts_event_ns == 1_700_000_000_100 * MS


def test_empty_delta_changes_no_value_but_counts_and_moves_the_time() -> None:
    state = applied(
        update(True, last_price=100.5, next_funding_time_ms=5),
        update(False, 1_700_000_000_200),
    )

    assert state.fields == TickerFields(last_price=100.5, next_funding_time_ms=5)
    assert state.updates == 2
    assert state.ts_event_ns == 1_700_000_000_200 * MS


def test_zero_is_a_value_not_an_absence() -> None:
    state = applied(
        update(True, funding_rate=0.0001, open_interest=10.0),
        update(False, funding_rate=0.0, next_funding_time_ms=0),
    )

    assert state.fields.funding_rate == 0.0
    assert state.fields.next_funding_time_ms == 0
    assert state.fields.open_interest == 10.0


def test_later_snapshot_clears_every_field_it_does_not_carry() -> None:
    state = applied(
        update(
            True,
            last_price=100.5,
            mark_price=100.25,
            funding_rate=0.0001,
            next_funding_time_ms=1_700_028_800_000,
        ),
        update(False, index_price=100.3),
        update(True, 1_700_000_001_000, last_price=99.0),
    )

    # the delta's index_price and the first snapshot's other fields are gone, the integer
    # field included
    assert state.fields == TickerFields(last_price=99.0)
    assert state.updates == 3


def test_every_field_round_trips_through_the_state() -> None:
    values = {name: float(i) + 0.25 for i, name in enumerate(FLOAT_FIELDS)}
    values["next_funding_time_ms"] = 1_700_028_800_000
    state = applied(update(True, **values))

    assert msgspec.structs.asdict(state.fields) == values


def test_fields_returns_a_copy_the_caller_cannot_use_to_change_the_state() -> None:
    state = applied(update(True, last_price=100.5, next_funding_time_ms=7))
    first = state.fields
    first.last_price = 1.0
    first.mark_price = 2.0
    first.next_funding_time_ms = 8

    again = state.fields
    assert again == TickerFields(last_price=100.5, next_funding_time_ms=7)
    assert again is not state.fields


# --------------------------------------------------------------------------- property test

_value = st.floats(allow_nan=False, allow_infinity=False, width=64)
_message = st.tuples(
    st.booleans(),
    st.dictionaries(st.sampled_from(FLOAT_FIELDS), _value, max_size=len(FLOAT_FIELDS)),
    st.one_of(st.none(), st.integers(0, 2**62)),
)


@given(st.lists(_message, max_size=12))
def test_state_matches_a_dict_merge_reference(
    messages: list[tuple[bool, dict[str, float], int | None]],
) -> None:
    state = TickerState()
    expected: dict[str, Any] = {}
    for snapshot, floats, funding_time in messages:
        carried: dict[str, Any] = dict(floats)
        if funding_time is not None:
            carried["next_funding_time_ms"] = funding_time
        state.apply(update(snapshot, **carried))
        expected = carried if snapshot else {**expected, **carried}

    assert state.fields == TickerFields(**expected)
    assert state.updates == len(messages)
