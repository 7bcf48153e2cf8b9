"""The scorer's configuration: its version names every setting it reads."""

from __future__ import annotations

import msgspec

from scalper.settings import FactorWeights, ScoreSettings, SignalSettings
from scalper.signals.catalog import FACTOR_NAMES
from scalper.signals.scoring import GATE_NAMES, gate_names, scorer_version, tracker_config


def test_the_version_changes_with_any_weight_and_only_with_scorer_settings() -> None:
    base = SignalSettings()
    heavier = SignalSettings(
        score=ScoreSettings(weights=msgspec.structs.replace(FactorWeights(), ofi_5s=1.5))
    )
    assert scorer_version(base) == scorer_version(SignalSettings())
    assert scorer_version(base) != scorer_version(heavier)
    assert scorer_version(base) == scorer_version(SignalSettings(vpin_buckets=7))
    assert scorer_version(base).startswith("v1-")


def test_weights_land_in_catalog_order_and_undirected_factors_weigh_nothing() -> None:
    weights = dict(zip(FACTOR_NAMES, tracker_config(SignalSettings()).weights, strict=True))
    assert weights["ofi_5s"] == FactorWeights().ofi_5s
    assert weights["vpin"] == weights["realized_vol_1m_bps"] == 0.0


def test_gate_bits_name_the_gates() -> None:
    assert GATE_NAMES == (
        "vpin_toxic",
        "spread_wide",
        "counter_trend",
        "volatility_extreme",
        "volume_quiet",
    )
    assert gate_names(0b10101) == ["vpin_toxic", "counter_trend", "volume_quiet"]
