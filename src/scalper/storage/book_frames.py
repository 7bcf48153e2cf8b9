"""Order-book frames split into columns for storage, and joined back byte for byte.

Much of what zstd cannot squeeze out of a recorded book frame is its four counters: `ts`,
`u`, `seq` and `cts` (ten-odd digits each, different in every frame). Stored as int64 columns
next to frames of the same topic they delta-encode to almost nothing. The level prices and
sizes go to two text columns a side: prices of one symbol resemble each other more than they
resemble sizes (measured with bench/recording.py, variant "books whole" vs default).

Lossless by construction: a frame is split only if joining the parts gives back exactly the
same bytes; any other frame (another layout, extra fields, odd spacing) is stored whole.
Layout of a Bybit v5 book frame (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook):
`{"topic":T,"type":K,"ts":N,"data":{"s":S,"b":[...],"a":[...],"u":N,"seq":N},"cts":N}`.
"""

from __future__ import annotations

from typing import Final

BOOK_TOPIC_PREFIX: Final = "orderbook."

BookParts = tuple[str, int, bytes, bytes, bytes, bytes, int, int, int]
"""(type, ts, bid prices, bid sizes, ask prices, ask sizes, u, seq, cts) of one book frame;
prices and sizes are the level strings joined by commas, best first as in the frame."""

_TEMPLATE: Final = (
    b'{"topic":"%s","type":"%s","ts":%d,"data":{"s":"%s",'
    b'"b":[%s],"a":[%s],"u":%d,"seq":%d},"cts":%d}'
)


def join_levels(prices: bytes, sizes: bytes) -> bytes:
    """`["p1","s1"],["p2","s2"]` of `p1,p2` and `s1,s2` (empty for no level)."""
    if not prices:
        return b""
    pairs = map(b'","'.join, zip(prices.split(b","), sizes.split(b","), strict=True))
    return b'["' + b'"],["'.join(pairs) + b'"]'


def split_levels(text: bytes) -> tuple[bytes, bytes] | None:
    """(prices, sizes) of a level array's text, or None if it is not in the plain layout."""
    if not text:
        return b"", b""
    if not (text.startswith(b'["') and text.endswith(b'"]')):
        return None
    prices = []
    sizes = []
    for pair in text[2:-2].split(b'"],["'):
        price, separator, size = pair.partition(b'","')
        if not separator or not price or b"," in price or b"," in size:
            return None
        prices.append(price)
        sizes.append(size)
    return b",".join(prices), b",".join(sizes)


def join_book_frame(topic: str, symbol: str, parts: BookParts) -> bytes:
    """The frame bytes of split parts."""
    kind, ts, bid_prices, bid_sizes, ask_prices, ask_sizes, update_id, seq, cts = parts
    return _TEMPLATE % (
        topic.encode(),
        kind.encode(),
        ts,
        symbol.encode(),
        join_levels(bid_prices, bid_sizes),
        join_levels(ask_prices, ask_sizes),
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
    bid_levels = split_levels(bids)
    ask_levels = split_levels(asks)
    if bid_levels is None or ask_levels is None:
        return None
    try:
        text = kind.decode()
    except UnicodeDecodeError:
        return None
    parts = (text, int(ts), *bid_levels, *ask_levels, int(update_id), int(seq), int(cts))
    return parts if join_book_frame(topic, symbol, parts) == raw else None
