"""Every factor the signals layer computes: its name, kind, unit and where its formula comes from.

The order is the order of the compiled tracker's value array (`_tracker.pyx` checks it at import),
of the API's `factors` and of the evaluator's columns. Kinds:

- `directional`: positive means up-pressure; may carry a weight in the score.
- `gate`: not a direction (VPIN, spread state): scales the score down when toxic or wide.
- `context`: volatility and activity figures shown beside the score and used by the regimes.

Sources (../shared/TRADING.md, research/trading-anchors.md): OFI, Cont, Kukanov and Stoikov
(2014), "The price impact of order book events"; multi-level OFI, Xu, Gould and Howison (2019),
"Multi-level order-flow imbalance in a limit order book"; microprice, Stoikov (2018), "The
micro-price: a high-frequency estimator of future prices"; trade-flow imbalance with true
aggressor signs, Silantyev (2019); VPIN, Easley, López de Prado and O'Hara (2012), used as a
toxicity gate only (Andersen and Bondarenko 2014); ATR, Wilder (1978).
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

Kind = Literal["directional", "gate", "context"]


class FactorSpec(msgspec.Struct, frozen=True):
    name: str
    kind: Kind
    unit: str
    description: str


FACTORS: Final = (
    FactorSpec(
        "imbalance_top1",
        "directional",
        "[-1, 1]",
        "(bid - ask) / (bid + ask) size of the best level (the engine's top-1 imbalance, "
        "2 * ratio - 1)",
    ),
    FactorSpec("imbalance_top5", "directional", "[-1, 1]", "the same over the best 5 levels"),
    FactorSpec("imbalance_top10", "directional", "[-1, 1]", "the same over the best 10 levels"),
    FactorSpec(
        "imbalance_bps10",
        "directional",
        "[-1, 1]",
        "the same over the levels within 10 bps of the mid (the engine's band)",
    ),
    FactorSpec("imbalance_bps25", "directional", "[-1, 1]", "within 25 bps of the mid"),
    FactorSpec(
        "imbalance_change_5s",
        "directional",
        "[-2, 2]",
        "top-5 imbalance now minus its value at the whole second 5 s before",
    ),
    FactorSpec(
        "ofi_1s",
        "directional",
        "depth units",
        "Cont-Kukanov-Stoikov best-level OFI summed over 1 s, divided by the mean best-level "
        "depth (bid + ask) / 2 of the last 30 s",
    ),
    FactorSpec("ofi_5s", "directional", "depth units", "best-level OFI over 5 s, normalised"),
    FactorSpec("ofi_30s", "directional", "depth units", "best-level OFI over 30 s, normalised"),
    FactorSpec(
        "mlofi_1s",
        "directional",
        "depth units",
        "multi-level OFI (Xu-Gould-Howison, levels 1..5): each level's OFI over 1 s divided by "
        "that level's mean depth over 30 s, averaged over the levels",
    ),
    FactorSpec("mlofi_5s", "directional", "depth units", "multi-level OFI over 5 s"),
    FactorSpec("mlofi_30s", "directional", "depth units", "multi-level OFI over 30 s"),
    FactorSpec(
        "microprice_bps",
        "directional",
        "bps",
        "weighted mid I * ask + (1 - I) * bid minus the mid, I = bid / (bid + ask) at the best",
    ),
    FactorSpec(
        "stoikov_bps",
        "directional",
        "bps",
        "Stoikov's micro-price adjustment g(I, S): the mean 1 s mid change after the same "
        "imbalance bin (10 bins) and spread (1 tick or wider), symmetrised, learnt per symbol",
    ),
    FactorSpec(
        "flow_imbalance_1s",
        "directional",
        "[-1, 1]",
        "(aggressor buy - sell volume) / (buy + sell volume) over 1 s; 0 without trades",
    ),
    FactorSpec("flow_imbalance_5s", "directional", "[-1, 1]", "trade-flow imbalance over 5 s"),
    FactorSpec("flow_imbalance_30s", "directional", "[-1, 1]", "trade-flow imbalance over 30 s"),
    FactorSpec("flow_imbalance_1m", "directional", "[-1, 1]", "trade-flow imbalance over 1 m"),
    FactorSpec(
        "cvd_slope_30s",
        "directional",
        "about [-1, 1]",
        "least-squares slope of cumulative volume delta over the last 31 whole-second samples, "
        "divided by the mean volume per second (flow-delta momentum)",
    ),
    FactorSpec(
        "cvd_divergence_30s",
        "directional",
        "[-2, 2]",
        "flow_imbalance_30s minus tanh(30 s mid log-return / (1 s volatility * sqrt(30))): "
        "positive when flow is more bullish than price",
    ),
    FactorSpec(
        "large_trade_imbalance_30s",
        "directional",
        "[-1, 1]",
        "(buy - sell) / (buy + sell) volume of large trades (size >= a multiple of the "
        "symbol's mean trade size) over 30 s; 0 without any",
    ),
    FactorSpec(
        "wall_pressure",
        "directional",
        "[-1, 1]",
        "p(bid wall) - p(ask wall), p = 1 / (1 + distance / scale bps) for the nearest level "
        "of each side at least a multiple of the side's median size (0: no wall)",
    ),
    FactorSpec(
        "vpin",
        "gate",
        "[0, 1]",
        "sum |buy - sell| / sum volume over the last equal-volume buckets, exact aggressor "
        "signs (a toxicity gate, not a direction)",
    ),
    FactorSpec("spread_ticks", "context", "ticks", "spread in ticks (tick = smallest level gap)"),
    FactorSpec(
        "spread_ratio",
        "gate",
        "x median",
        "spread in bps divided by the symbol's median spread over its recent seconds",
    ),
    FactorSpec(
        "realized_vol_1m_bps",
        "context",
        "bps",
        "sqrt of the sum of squared 1 s mid log-returns over the last 60 s",
    ),
    FactorSpec("atr_1m_bps", "context", "bps", "Wilder's ATR(14) of 1m candles, in bps of close"),
    FactorSpec("atr_5m_bps", "context", "bps", "Wilder's ATR(14) of 5m candles, in bps of close"),
    FactorSpec(
        "volume_zscore_1m",
        "context",
        "z",
        "z-score of ln(1 + volume) of the last closed 1m candle against its trailing baseline",
    ),
)
"""The factors, in the tracker's order."""

FACTOR_NAMES: Final = tuple(spec.name for spec in FACTORS)
DIRECTIONAL: Final = tuple(spec.name for spec in FACTORS if spec.kind == "directional")
BOOK_FACTORS: Final = frozenset(
    {
        *(name for name in FACTOR_NAMES if name.startswith(("imbalance", "ofi", "mlofi"))),
        "microprice_bps",
        "stoikov_bps",
        "cvd_divergence_30s",
        "wall_pressure",
        "spread_ticks",
        "spread_ratio",
        "realized_vol_1m_bps",
    }
)
"""Factors read from the book: unavailable (not stale) while it is out of sync."""

DETAILS: Final = (
    "wall_bid_distance_bps",
    "wall_bid_relative_size",
    "wall_ask_distance_bps",
    "wall_ask_relative_size",
    "large_trades_30s",
    "tick_size",
    "median_spread_bps",
    "vpin_bucket_volume",
    "mid",
)
"""Figures behind the factors, served beside them (None when there is none)."""

STATUSES: Final = ("ok", "warming_up", "unavailable")
"""A factor's status, by the tracker's status code."""
