"""How a liquidity-taking order fills against an L2 book: level by level, best first.

Pure functions, so the rules are tested on plain lists (TRADING.md "Fill model"; nautilus_trader
fills MARKET orders on L2 the same way): a taker order takes each opposite level's size that our
earlier fills have not already taken (`liquidity.ConsumedLiquidity`), from the best price to its
limit; a market order's limit is Bybit's slippage band beyond the best price (create-order.mdx:
"the market order [is converted] into an IOC limit order ... If there are no orderbook entries
within price slippage limit, the order will not be executed").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from scalper.events import Level
from scalper.trading.prices import QTY_EPS, at_or_better


def walk(
    levels: Iterable[Level],
    qty: float,
    limit: float,
    is_buy: bool,
    taken: Mapping[float, float],
) -> list[Level]:
    """The (price, qty) fills of a taker order for `qty` against the opposite side's `levels`
    (best first: asks for a buy, bids for a sell) at or better than `limit`.

    `taken` is what our own fills took per price since the level was last shown afresh: only
    the rest of a level is available. The fills sum to at most `qty`; less when the levels
    within the limit hold less.
    """
    fills: list[Level] = []
    left = _exact(qty)  # decimals of the floats' shortest text: fills sum to `qty` exactly
    for price, size in levels:
        if not at_or_better(price, limit, is_buy):
            break
        available = _exact(size) - _exact(taken.get(price, 0.0))
        if available <= QTY_EPS:
            continue
        fill = min(available, left)
        fills.append((price, float(fill)))
        left -= fill
        if left <= QTY_EPS:
            break
    return fills


def _exact(value: float) -> Decimal:
    return Decimal(repr(value))


def first_available(levels: Iterable[Level], taken: Mapping[float, float]) -> float | None:
    """The best price of `levels` (best first) with size left after what we took; None if the
    side is empty or all taken."""
    for price, size in levels:
        if size - taken.get(price, 0.0) > QTY_EPS:
            return price
    return None


def band_limit(best: float, is_buy: bool, slippage_bps: float) -> float:
    """A market order's limit: `slippage_bps` beyond the best opposite price."""
    offset = best * slippage_bps / 10_000.0
    return best + offset if is_buy else best - offset


def vwap(fills: Iterable[Level]) -> float:
    """Volume-weighted average price of (price, qty) fills (0.0 for none)."""
    notional = 0.0
    total = 0.0
    for price, qty in fills:
        notional += price * qty
        total += qty
    return notional / total if total > 0.0 else 0.0
