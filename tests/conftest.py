"""Shared fixtures: real recorded Bybit frames and small real-shaped frames.

The recorded data lives outside the repository, in `shared/` beside it (CI copies it next to a
fresh clone), so it is resolved from the repository root, never from the working directory.
A missing file fails the test with a message saying where it was looked for: real data is the
point of these tests, so they are never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests judge correctness, not speed: no per-example deadline, which a busy 2-CPU
# machine (CI, or a benchmark running beside the tests) would otherwise turn into flakes.
settings.register_profile("scalper", deadline=None)
settings.load_profile("scalper")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
XRP_OB500 = SHARED_DATA / "bybit" / "2024-12-01_XRPUSDT_ob500.jsonl"
BYBIT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bybit"


def _read_required(path: Path, what: str) -> bytes:
    if not path.is_file():
        pytest.fail(
            f"{what} not found at {path}. The tests expect the shared data directory beside the "
            f"repository ({REPO_ROOT.parent / 'shared'}); copy shared/ there.",
            pytrace=False,
        )
    return path.read_bytes()


@pytest.fixture(scope="session")
def xrp_frames() -> list[bytes]:
    """The 50 raw XRPUSDT orderbook.500 frames (1 snapshot + 49 deltas), one bytes per line."""
    lines = _read_required(XRP_OB500, "Recorded XRPUSDT ob500 frames").splitlines()
    frames = [line for line in lines if line.strip()]
    assert len(frames) == 50, f"{XRP_OB500} should hold 50 frames, holds {len(frames)}"
    return frames


@pytest.fixture(scope="session")
def bybit_fixture() -> Callable[[str], bytes]:
    """Load tests/fixtures/bybit/<name>.json as the raw bytes a WebSocket would deliver."""

    def load(name: str) -> bytes:
        return _read_required(BYBIT_FIXTURES / f"{name}.json", f"Fixture {name!r}")

    return load
