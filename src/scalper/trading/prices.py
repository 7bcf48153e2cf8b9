"""Comparing prices and quantities the way the paper venue matches them.

Book prices are floats parsed from the venue's strings, so the same price is always the same
float; an order's price, though, may be computed (rounded to the tick by the risk engine), and
`3 * 0.1` is not `0.3`. Two prices within a relative 1e-9 are the same price: far below any
tick (a tick is at least ~1e-6 of the price on Bybit's perpetuals) and far above float noise.
"""

from __future__ import annotations

from typing import Final

PRICE_RTOL: Final = 1e-9
QTY_EPS: Final = 1e-9
"""A quantity at or below this is nothing (float dust after partial fills); Bybit's smallest
quantity steps are many orders of magnitude larger."""


def same_price(a: float, b: float) -> bool:
    return abs(a - b) <= PRICE_RTOL * max(abs(a), abs(b))


def at_or_better(price: float, limit: float, is_buy: bool) -> bool:
    """Whether a level at `price` is within a `limit` for a buyer (at or below) or a seller
    (at or above)."""
    if same_price(price, limit):
        return True
    return price < limit if is_buy else price > limit
