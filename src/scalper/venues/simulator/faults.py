"""Fault injection for the exchange simulator: which faults exist, how often they strike at random.

Every fault can also be triggered on demand through the `ExchangeSimulator` methods; this module
holds only the settings and the seeded dice. Two kinds of rates:

- per book frame (`*_per_frame`): rolled once for every book delta the simulator publishes, and
  the fault hits that delta's symbol;
- per second (`*_per_s`): rolled once per second of stream time (seconds since the source's
  first frame, not the wall clock), so that the schedule follows the frame sequence.

One `random.Random` drives every roll, so the same seed and the same frames give the same faults.
"""

from __future__ import annotations

import random
from typing import Annotated, Final

import msgspec

from scalper.errors import ConfigError

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Seconds = Annotated[float, msgspec.Meta(gt=0.0)]

BOOK_FRAME_FAULTS: Final = ("gap", "reset", "malformed", "truncated")
"""Faults that strike one book delta of one symbol."""
TIMED_FAULTS: Final = ("drop", "stall", "delay")
"""Faults that strike every connection for a while."""
FAULT_KINDS: Final = (*TIMED_FAULTS, *BOOK_FRAME_FAULTS, "reject")
"""The keys of `ExchangeSimulator.fault_counts`."""


class FaultConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Random faults, all off by default."""

    drop_per_s: Probability = 0.0
    """Chance per second that every client socket is cut (no close frame)."""
    stall_per_s: Probability = 0.0
    """Chance per second that every open connection stalls for `stall_seconds` (socket open,
    nothing sent, the frames meanwhile lost: books see a gap afterwards; new connections are
    served normally)."""
    stall_seconds: Seconds = 2.0
    delay_per_s: Probability = 0.0
    """Chance per second that frames are held for `delay_seconds`, then delivered late (none
    lost)."""
    delay_seconds: Seconds = 1.0
    gap_per_frame: Probability = 0.0
    """Chance per book delta that it is not sent to anyone (clients see `u` jump)."""
    reset_per_frame: Probability = 0.0
    """Chance per book delta of a service restart: a `u` = 1 snapshot, then deltas from 2."""
    malformed_per_frame: Probability = 0.0
    """Chance per book delta that it is replaced by a frame that is not JSON."""
    truncated_per_frame: Probability = 0.0
    """Chance per book delta that it is replaced by its first half."""
    reject_symbols: tuple[str, ...] = ()
    """Subscriptions to topics of these symbols fail with an error ack."""
    seed: int | None = None
    """Seed of the dice; None uses the simulator's seed."""

    def __post_init__(self) -> None:
        total = (
            self.gap_per_frame
            + self.reset_per_frame
            + self.malformed_per_frame
            + self.truncated_per_frame
        )
        if total > 1.0:
            raise ConfigError("the per-frame fault rates add up to more than 1")


def parse_fault_spec(spec: str) -> FaultConfig:
    """A FaultConfig from CLI text: `gap_per_frame=0.001,drop_per_s=0.01,reject_symbols=A+B`."""
    fields: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"fault setting {item!r} is not name=value")
        name = name.strip()
        fields[name] = tuple(filter(None, value.split("+"))) if name == "reject_symbols" else value
    try:
        return msgspec.convert(fields, FaultConfig, strict=False)
    except msgspec.ValidationError as exc:
        names = ", ".join(FaultConfig.__struct_fields__)
        raise ConfigError(f"bad fault setting: {exc} (settings: {names})") from exc


class FaultDice:
    """The random faults of a FaultConfig, rolled from one seeded generator."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._random = random.Random(seed).random
        bound = 0.0
        self._frame_bounds: list[tuple[float, str]] = []
        for kind in BOOK_FRAME_FAULTS:
            bound += getattr(config, f"{kind}_per_frame")
            self._frame_bounds.append((bound, kind))
        self._timed = [(getattr(config, f"{kind}_per_s"), kind) for kind in TIMED_FAULTS]

    def book_frame_fault(self) -> str | None:
        """The fault that strikes this book delta, if any (one roll)."""
        roll = self._random()
        for bound, kind in self._frame_bounds:
            if roll < bound:
                return kind
        return None

    def timed_faults(self) -> list[str]:
        """The connection-wide faults that start in this second of stream time."""
        random_ = self._random
        return [kind for chance, kind in self._timed if random_() < chance]


class NoFaultDice:
    """The stand-in when no random fault is configured: never rolls, never strikes."""

    def book_frame_fault(self) -> str | None:
        return None

    def timed_faults(self) -> list[str]:
        return []


def fault_dice(config: FaultConfig, seed: int) -> FaultDice | NoFaultDice:
    """Dice for `config`, or the do-nothing stand-in if every rate is zero."""
    rates = [getattr(config, f"{kind}_per_frame") for kind in BOOK_FRAME_FAULTS]
    rates += [getattr(config, f"{kind}_per_s") for kind in TIMED_FAULTS]
    if not any(rates):
        return NoFaultDice()
    return FaultDice(config, seed if config.seed is None else config.seed)
