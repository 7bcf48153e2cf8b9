"""deploy/: the systemd unit passes `systemd-analyze verify`, the Dockerfile passes hadolint, and
the compose file and the sample settings file are what the rest of the repository expects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from scalper.settings_sources import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    """Verified as written, but for ExecStart pointed at this venv's `scalper` (verify checks
    that the program exists; the unit expects an install in /opt/scalper)."""
    systemd_analyze = shutil.which("systemd-analyze")
    assert systemd_analyze, "systemd-analyze is missing: run `make test` once as root"
    unit = (DEPLOY / "scalper.service").read_text()
    scalper = Path(sys.executable).with_name("scalper")
    assert "ExecStart=/opt/scalper/.venv/bin/scalper run" in unit
    local = tmp_path / "scalper.service"
    local.write_text(unit.replace("/opt/scalper/.venv/bin/scalper", str(scalper)))
    done = subprocess.run(
        [systemd_analyze, "verify", str(local)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    for needed in (
        "User=scalper",
        "Restart=on-failure",
        "MemoryMax=",
        "TimeoutStopSec=",
        "KillSignal=SIGTERM",
        "StandardError=journal",
    ):
        assert needed in unit, needed


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    done = subprocess.run(
        [str(hadolint), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for needed in (
        "AS build",
        "USER 10001",
        'VOLUME ["/data"]',
        "HEALTHCHECK",
        "/api/monitor/health",
    ):
        assert needed in dockerfile, needed


def test_compose_mounts_the_sample_settings_and_the_data_volume() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service = compose["services"]["scalper"]
    assert (DEPLOY / service["build"]["dockerfile"].removeprefix("deploy/")).is_file()
    assert "./scalper.toml:/etc/scalper/scalper.toml:ro" in service["volumes"]
    assert service["environment"]["SCALPER_CONFIG"] == "/etc/scalper/scalper.toml"
    assert service["ports"] == ["127.0.0.1:8090:8090"]


def test_the_sample_settings_load() -> None:
    loaded = load_settings(config_file=DEPLOY / "scalper.toml")
    assert (
        loaded.settings.venue.testnet is False
        and loaded.settings.recorder.max_disk_bytes == 50 * 10**9
    )
