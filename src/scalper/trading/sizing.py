"""Position sizing by risk, on the instrument's quantity grid, in exact decimals.

quantity = risk_per_trade * equity / stop distance, rounded DOWN to the quantity step: a
position stopped out at its stop loses at most `risk_per_trade` of equity (before fees and
slippage past the stop). Worked example (tests/unit/trading/test_risk.py): equity 10 000 USDT,
risk 0.25 % = 25 USDT, entry 65 000.0, stop 64 870.0 -> distance 130 -> 0.19230… -> 0.192 BTC
on a 0.001 step.
"""

from __future__ import annotations

from decimal import Decimal

from scalper.trading.grid import whole_steps

ZERO = Decimal(0)


def qty_for_risk(
    risk_amount: Decimal, entry_price: Decimal, stop_price: Decimal, step: Decimal
) -> Decimal:
    """The largest multiple of `step` that loses at most `risk_amount` between entry and stop
    (0 when the distance is not positive)."""
    distance = abs(entry_price - stop_price)
    if distance == ZERO or risk_amount <= ZERO:
        return ZERO
    return whole_steps(risk_amount, distance * step) * step


def qty_for_notional(notional: Decimal, price: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` whose notional at `price` fits in `notional` (0 if none)."""
    if notional <= ZERO or price <= ZERO:
        return ZERO
    return whole_steps(notional, price * step) * step
