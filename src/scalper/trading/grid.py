"""Prices and quantities on an instrument's grid, in exact decimal arithmetic.

Orders carry floats (parsed once at the edge, like the engine's prices), but a venue takes only
multiples of its tick size and quantity step, and a float product such as 0.1 * 3 is not one.
So the arithmetic that decides an order's price and size happens here on `Decimal`s: a float
enters as the decimal its shortest text spells (`exact(0.1) == Decimal("0.1")`, the value the
venue's string had), and leaves as the float nearest to an on-grid decimal, whose text reads
back the same (`float(Decimal("65000.1"))` prints as 65000.1).
"""

from __future__ import annotations

from decimal import Decimal

from scalper.trading.orders import BUY


def exact(value: float | str) -> Decimal:
    """The decimal a float's shortest text (or a venue's string) spells: exact, no binary noise."""
    return Decimal(value) if isinstance(value, str) else Decimal(repr(value))


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` at or below `value` (`step` > 0). Exact: Decimal's
    divmod truncates without rounding (a plain division would round a quotient such as
    2.99999999999999999999999999999 up to 3 at 28 digits)."""
    whole, rest = divmod(value, step)
    return (whole - 1 if rest < 0 else whole) * step


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of `step` at or above `value` (`step` > 0), exactly."""
    whole, rest = divmod(value, step)
    return (whole + 1 if rest > 0 else whole) * step


def limit_price_on_tick(price: Decimal, tick: Decimal, side: int) -> Decimal:
    """A limit price on the tick grid, never more aggressive than asked: a buy rounds down, a
    sell rounds up (so rounding can only cost a fill, never pay more than the strategy meant)."""
    return floor_to_step(price, tick) if side == BUY else ceil_to_step(price, tick)


def stop_price_on_tick(stop: Decimal, tick: Decimal, side: int) -> Decimal:
    """A protective stop on the tick grid, rounded away from the position (a long's stop down,
    a short's up): the stop distance used for sizing can only grow, so the risk only shrink."""
    return floor_to_step(stop, tick) if side == BUY else ceil_to_step(stop, tick)


def whole_steps(amount: Decimal, unit: Decimal) -> int:
    """How many whole `unit`s fit in `amount` (both > 0), exactly: Decimal's integer division
    is exact (it raises rather than round when the quotient outgrows the context's precision)."""
    return int(amount // unit)
