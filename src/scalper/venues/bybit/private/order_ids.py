"""orderLinkIds: our prefix + random, at most 36 characters of [A-Za-z0-9_-].

/docs/v5/order/create-order: orderLinkId is at most 36 characters of numbers, letters, "-" and
"_", and must be unique; a second create with the same one answers 110072. One id per order,
reused on every retry of that order, is what makes a retry unable to place a second order.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

MAX_LENGTH: Final = 36
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALID: Final = re.compile(r"[A-Za-z0-9_-]{1,36}")
RANDOM_CHARS: Final = 20
"""62^20 ≈ 7e35 ids per prefix: collisions are not a practical concern."""


def new_order_link_id(prefix: str, random_chars: int = RANDOM_CHARS) -> str:
    """`prefix-<random>`; ValueError if the result could not be a valid orderLinkId."""
    link = f"{prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(random_chars))
    if not is_valid(link):
        raise ValueError(f"orderLinkId prefix {prefix!r} gives an invalid id {link!r}")
    return link


def is_valid(link: str) -> bool:
    return len(link) <= MAX_LENGTH and _VALID.fullmatch(link) is not None


def is_ours(link: str, prefix: str) -> bool:
    """Whether an order on the account was placed by us (others are left alone)."""
    return link.startswith(f"{prefix}-")
