"""Bybit v5's documented limits: what our client respects and what the simulator enforces.

One place, so that the client and the local exchange that imitates Bybit cannot disagree.
"""

from __future__ import annotations

from typing import Final

MAX_ARGS_CHARS: Final = 21_000
"""/docs/v5/ws/connect, "Public channel - Args limits": "for one public connection, you cannot
have length of "args" array over 21,000 characters" (all categories). We count the array as
it is serialized (quotes, commas and brackets included), which is never less than the sum of
the topic lengths, so either reading of "length" is respected."""

SPOT_MAX_ARGS_PER_REQUEST: Final = 10
"""/docs/v5/ws/connect: "Spot can input up to 10 args for each subscription request sent to one
connection". Linear, inverse: "No args limit for Futures and Spread for now" (options: 2,000
args per connection, no per-request figure)."""

INSTRUMENTS_PAGE_LIMIT: Final = (500, 1000)
"""instruments-info `limit`: default 500, at most 1000 (/docs/v5/market/instrument); linear
has more than 500 symbols, so clients paginate with `cursor`. Spot ignores both."""
