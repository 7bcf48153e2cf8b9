"""Book frames split into columns and joined back: byte-identical or not split at all."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scalper.storage.book_frames import join_book_frame, split_book_frame

TOPIC = "orderbook.50.BTCUSDT"
FRAME = (
    b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1733011200021,"data":{"s":"BTCUSDT",'
    b'"b":[["97000.5","0"],["96999.0","1.25"]],"a":[],"u":50260700,"seq":42135002839},'
    b'"cts":1733011200020}'
)


def test_real_frames_split_and_join_back(xrp_frames) -> None:
    for raw in xrp_frames:
        parts = split_book_frame(raw, "orderbook.500.XRPUSDT", "XRPUSDT")
        assert parts is not None
        assert join_book_frame("orderbook.500.XRPUSDT", "XRPUSDT", parts) == raw
    kinds = {split_book_frame(raw, "orderbook.500.XRPUSDT", "XRPUSDT")[0] for raw in xrp_frames}
    assert kinds == {"snapshot", "delta"}


def test_parts() -> None:
    assert split_book_frame(FRAME, TOPIC, "BTCUSDT") == (
        "delta",
        1733011200021,
        b'["97000.5","0"],["96999.0","1.25"]',
        b"",
        50260700,
        42135002839,
        1733011200020,
    )


def test_frames_not_in_the_exact_layout_stay_whole() -> None:
    variants = [
        FRAME.replace(b'"u":50260700', b'"u":050260700'),  # leading zero: int() would lose it
        FRAME.replace(b',"cts"', b', "cts"'),  # spacing
        FRAME.replace(b'"seq":42135002839}', b'"seq":42135002839,"x":1}'),  # extra field
        FRAME.replace(b'"ts":1733011200021', b'"ts":"1733011200021"'),  # quoted number
        FRAME[:-1],  # truncated
    ]
    for raw in variants:
        assert split_book_frame(raw, TOPIC, "BTCUSDT") is None
    assert split_book_frame(FRAME, TOPIC, "ETHUSDT") is None  # another symbol
    assert split_book_frame(FRAME, "orderbook.1.BTCUSDT", "BTCUSDT") is None


numbers = st.integers(min_value=0, max_value=2**62)
levels = st.lists(
    st.tuples(st.decimals(0, 10**6, places=4), st.decimals(0, 10**4, places=3)), max_size=5
).map(lambda ls: ",".join(f'["{p}","{s}"]' for p, s in ls).encode())


@given(st.sampled_from(["snapshot", "delta"]), numbers, levels, levels, numbers, numbers, numbers)
def test_join_then_split_is_identity(kind, ts, bids, asks, u, seq, cts) -> None:
    parts = (kind, ts, bids, asks, u, seq, cts)
    raw = join_book_frame(TOPIC, "BTCUSDT", parts)
    assert split_book_frame(raw, TOPIC, "BTCUSDT") == parts


@given(st.binary(max_size=300))
def test_any_bytes_split_only_if_they_join_back(noise) -> None:
    for raw in (noise, FRAME[:60] + noise, FRAME[:-20] + noise):
        parts = split_book_frame(raw, TOPIC, "BTCUSDT")
        assert parts is None or join_book_frame(TOPIC, "BTCUSDT", parts) == raw
