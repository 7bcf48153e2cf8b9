"""Faults of the local exchange's private API, like its public ones: random at the rates of
`simulator.faults` (one seeded generator of their own, so the public faults' schedule is the
same with or without them) and on demand through `ExchangeSimulator`.

- refused creates: retCode 110007 (insufficient available balance) or 10001 (parameters); the
  order is not placed;
- late REST answers of create, amend and cancel (the venue has acted already: its pushes may
  arrive first, and a client that times out retries into a duplicate orderLinkId);
- late pushes of the private stream (in order);
- dropped private stream connections (per second of stream time).
"""

from __future__ import annotations

import random
from collections import deque
from typing import Final

from scalper.settings import FaultSettings

REFUSALS: Final = {
    110007: "insufficient available balance",
    10001: "params error: the order was refused by the venue's checks",
}
"""What the simulator answers with each refusal code it can inject."""
ORDER_PATHS: Final = frozenset({"/v5/order/create", "/v5/order/amend", "/v5/order/cancel"})


class PrivateFaults:
    """The private API's faults now in force, and how many struck (`counts`)."""

    def __init__(self, config: FaultSettings, seed: int) -> None:
        self._random = random.Random(f"private-{seed}").random
        self.reject_per_request = config.order_reject_per_request
        self.reject_code = config.order_reject_code
        self.ack_delay_s = config.ack_delay_s
        """REST answers of order requests are held this long."""
        self.push_delay_s = config.private_push_delay_s
        """Stream pushes are sent this late."""
        self.drop_per_s = config.private_drop_per_s
        self._queued: deque[int] = deque()
        self.counts: dict[str, int] = {"reject": 0, "late_ack": 0, "private_drop": 0}

    def reject_next(self, code: int = 110007, count: int = 1) -> None:
        """Refuse the next `count` creates with `code` (110007 or 10001)."""
        if code not in REFUSALS:
            raise ValueError(f"refusal code {code} (known: {sorted(REFUSALS)})")
        self._queued.extend([code] * count)

    def refusal(self) -> tuple[int, str]:
        """(retCode, retMsg) refusing this create, or (0, "") to let it through."""
        code = 0
        if self._queued:
            code = self._queued.popleft()
        elif self.reject_per_request and self._random() < self.reject_per_request:
            code = self.reject_code
        if not code:
            return 0, ""
        self.counts["reject"] += 1
        return code, REFUSALS[code]

    def ack_delay(self, path: str) -> float:
        """How long to hold the answer to a request of `path`."""
        if self.ack_delay_s <= 0.0 or path not in ORDER_PATHS:
            return 0.0
        self.counts["late_ack"] += 1
        return self.ack_delay_s

    def roll_drop(self) -> bool:
        """Whether the private streams are cut in this second of stream time (one roll)."""
        return bool(self.drop_per_s) and self._random() < self.drop_per_s
