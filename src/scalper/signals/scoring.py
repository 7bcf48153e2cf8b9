"""The scorer's configuration: settings -> the compiled trackers' parameters, and its version.

The arithmetic runs in the tracker (`_tracker.pyx`, SymbolSignals._score_tick) at every tick:

    z_i   = (x_i - ewm_mean_i) / ewm_std_i           each factor against its own recent past
    c_i   = w_i * tanh(z_i / squash) / sum |w_j|     j over the ready weighted factors
    score = sum c_i * gates                          in [-1, 1]; c_i * gates is served as the
                                                     contribution of factor i (they add up)

The gates multiply: toxic VPIN, a wide spread, a score against the trend regime, an extreme
volatility regime, a quiet volume regime (each a setting). A direction is long / short at
|score| >= direction_threshold; the confluence is how many ready factors agree with it at
|z| >= confluence_z. The version names the formula and hashes every setting it reads, so a
score recorded or evaluated under other weights is never mistaken for this one.
"""

from __future__ import annotations

import hashlib
import math
from typing import Final

import msgspec

from scalper.settings import SignalSettings
from scalper.signals._tracker import COMPUTED_GATES, TrackerConfig
from scalper.signals.catalog import FACTOR_NAMES
from scalper.signals.regimes import REGIME_GATES
from scalper.units import parse_duration_ns

FORMULA_VERSION: Final = 1
"""Bumped whenever the tracker's score arithmetic changes."""
GATE_NAMES: Final = (*sorted(COMPUTED_GATES, key=COMPUTED_GATES.__getitem__), *REGIME_GATES)
"""Gate names by bit: the tracker's three, then the regimes'."""


def scorer_version(settings: SignalSettings) -> str:
    """'v<formula>-<8 hex of the score, gates, regimes and cadence settings>'."""
    material = msgspec.json.encode(
        [settings.cadence, settings.score, settings.gates, settings.regimes]
    )
    return f"v{FORMULA_VERSION}-{hashlib.sha256(material).hexdigest()[:8]}"


def gate_names(bits: int) -> list[str]:
    return [name for bit, name in enumerate(GATE_NAMES) if bits >> bit & 1]


def _alpha(halflife_ns: int, cadence_ns: int) -> float:
    """Weight of each new tick in an exponential average of half-life `halflife_ns`."""
    return 1.0 - math.exp(-math.log(2.0) * cadence_ns / halflife_ns)


def tracker_config(settings: SignalSettings) -> TrackerConfig:
    """The compiled trackers' shared parameters."""
    cadence = parse_duration_ns(settings.cadence)
    score, gates = settings.score, settings.gates
    weights = msgspec.structs.asdict(score.weights)
    config = TrackerConfig(
        cadence_ns=cadence,
        max_catch_up=max(1, parse_duration_ns(settings.max_silence) // cadence),
        spread_history=max(1, parse_duration_ns(settings.spread_history) // 1_000_000_000),
        spread_min_samples=settings.spread_min_samples,
        rv_min_returns=settings.rv_min_returns,
        stoikov_min_count=settings.stoikov_min_count,
        stoikov_max_count=settings.stoikov_max_count,
        vpin_bucket_seconds=settings.vpin_bucket_seconds,
        vpin_buckets=settings.vpin_buckets,
        large_multiple=settings.large_trade_multiple,
        large_warmup_trades=settings.large_trade_warmup,
        size_alpha=1.0 / settings.trade_size_memory,
        wall_levels=settings.wall_levels,
        wall_multiple=settings.wall_multiple,
        wall_scale_bps=settings.wall_scale_bps,
        z_alpha=_alpha(parse_duration_ns(score.zscore_halflife), cadence),
        z_warmup_ticks=max(1, parse_duration_ns(score.zscore_warmup) // cadence),
        squash=score.squash,
        direction_threshold=score.direction_threshold,
        confluence_z=score.confluence_z,
        min_ready_share=score.min_ready_share,
        vpin_toxic=gates.vpin_toxic_above,
        vpin_gate=gates.vpin_toxic,
        spread_wide=gates.spread_wide_above,
        spread_gate=gates.spread_wide,
        counter_trend_gate=gates.counter_trend,
    )
    config.weights = [float(weights.get(name, 0.0)) for name in FACTOR_NAMES]
    return config
