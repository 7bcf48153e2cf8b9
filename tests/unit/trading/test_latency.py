"""trading.latency: constant plus seeded exponential jitter, in ns."""

from __future__ import annotations

import statistics

from scalper.settings import PaperSettings
from scalper.trading.latency import LatencyModel


def test_without_jitter_the_latency_is_the_constant() -> None:
    model = LatencyModel(entry_ms=3.5, response_ms=1.5, jitter_ms=0.0)
    assert [model.entry_ns() for _ in range(3)] == [3_500_000] * 3
    assert model.response_ns() == 1_500_000


def test_jitter_adds_an_exponential_of_the_given_mean() -> None:
    model = LatencyModel(entry_ms=3.5, response_ms=1.5, jitter_ms=1.0, seed=7)
    draws = [model.entry_ns() - 3_500_000 for _ in range(20_000)]
    assert min(draws) >= 0
    # the mean of 20 000 exponential draws of mean 1 ms is within 3 % of it (sd/sqrt(n) = 0.7 %)
    assert abs(statistics.fmean(draws) - 1_000_000) < 30_000


def test_same_seed_same_draws_and_another_seed_others() -> None:
    def draws(seed: int) -> list[int]:
        model = LatencyModel(3.5, 1.5, 1.0, seed)
        return [model.entry_ns() for _ in range(5)] + [model.response_ns() for _ in range(5)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_entry_draws_do_not_shift_response_draws() -> None:
    busy = LatencyModel(3.5, 1.5, 1.0, seed=3)
    for _ in range(10):
        busy.entry_ns()
    quiet = LatencyModel(3.5, 1.5, 1.0, seed=3)
    assert [busy.response_ns() for _ in range(5)] == [quiet.response_ns() for _ in range(5)]


def test_from_settings() -> None:
    model = LatencyModel.from_settings(
        PaperSettings(entry_latency_ms=2.0, response_latency_ms=0.5, latency_jitter_ms=0.0)
    )
    assert (model.entry_ns(), model.response_ns()) == (2_000_000, 500_000)
