"""Order-book frames split into columns for storage, and joined back byte for byte.

Most of what zstd cannot squeeze out of a recorded book frame is its four counters: `ts`, `u`,
`seq` and `cts` (ten-odd digits each, different in every frame). Stored as int64 columns next
to frames of the same topic they delta-encode to almost nothing, while the level arrays stay
text. Measured on the benchmark stream (bench/recording.py): book frames take ~40 % fewer bytes.

Lossless by construction: a frame is split only if joining the parts gives back exactly the
same bytes; any other frame (another layout, extra fields, odd spacing) is stored whole.
Layout of a Bybit v5 book frame (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook):
`{"topic":T,"type":K,"ts":N,"data":{"s":S,"b":[...],"a":[...],"u":N,"seq":N},"cts":N}`.
"""

from __future__ import annotations

from typing import Final

BOOK_TOPIC_PREFIX: Final = "orderbook."

BookParts = tuple[str, int, bytes, bytes, int, int, int]
"""(type, ts, bids text, asks text, u, seq, cts) of one book frame."""


_TEMPLATE: Final = (
    b'{"topic":"%s","type":"%s","ts":%d,"data":{"s":"%s",'
    b'"b":[%s],"a":[%s],"u":%d,"seq":%d},"cts":%d}'
)


def join_book_frame(topic: str, symbol: str, parts: BookParts) -> bytes:
    """The frame bytes of split parts."""
    kind, ts, bids, asks, update_id, seq, cts = parts
    return _TEMPLATE % (
        topic.encode(),
        kind.encode(),
        ts,
        symbol.encode(),
        bids,
        asks,
        update_id,
        seq,
        cts,
    )


def split_book_frame(raw: bytes, topic: str, symbol: str) -> BookParts | None:
    """The parts of a book frame, or None when it is not exactly in the layout above."""
    head = b'{"topic":"%s","type":"' % topic.encode()
    if not raw.startswith(head):
        return None
    fields = []
    position = len(head)
    for separator in (
        b'","ts":',
        b',"data":{"s":"%s","b":[' % symbol.encode(),
        b'],"a":[',
        b'],"u":',
        b',"seq":',
        b'},"cts":',
    ):
        end = raw.find(separator, position)
        if end < 0:
            return None
        fields.append(raw[position:end])
        position = end + len(separator)
    fields.append(raw[position:-1])
    kind, ts, bids, asks, update_id, seq, cts = fields
    if not (ts.isdigit() and update_id.isdigit() and seq.isdigit() and cts.isdigit()):
        return None
    try:
        text = kind.decode()
    except UnicodeDecodeError:
        return None
    parts = (text, int(ts), bids, asks, int(update_id), int(seq), int(cts))
    return parts if join_book_frame(topic, symbol, parts) == raw else None
