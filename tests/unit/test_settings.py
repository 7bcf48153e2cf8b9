"""The settings tree: defaults in one place, then a TOML file, SCALPER_* variables and flags, in
that order, each value's source remembered, and every bad key or value a clear error naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scalper.errors import ConfigError
from scalper.settings import EngineSettings, Settings
from scalper.settings_sources import flatten, leaf_types, load_settings, parse_assignment


def test_defaults_come_from_the_tree() -> None:
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert set(loaded.sources) == set(leaf_types()) == {key for key, _ in flatten(Settings())}
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.settings.venue.testnet is True  # no default reaches a real exchange


def test_later_layers_win_and_each_value_says_where_it_came_from(tmp_path: Path) -> None:
    config = tmp_path / "scalper.toml"
    config.write_text(
        '[api]\nport = 9000\nhost = "0.0.0.0"\n\n[recorder]\nmax_disk_bytes = "5GB"\n'
        '[engine]\nflow_windows = ["10s", "1m"]\n'
    )
    env = {"SCALPER_API__PORT": "9001", "SCALPER_RECORDER__RETENTION_DAYS": "7", "HOME": "/x"}
    loaded = load_settings(
        config_file=config,
        env=env,
        flags={"api.port": (9002, "--port")},
        command_defaults={"recorder.data_dir": "data/demo", "api.host": "10.0.0.1"},
    )
    settings, sources = loaded.settings, loaded.sources
    assert settings.api.port == 9002 and sources["api.port"] == "flag --port"
    assert settings.api.host == "0.0.0.0" and sources["api.host"] == f"file {config}"
    assert settings.recorder.max_disk_bytes == 5 * 10**9
    assert settings.recorder.retention_days == 7.0
    assert sources["recorder.retention_days"] == "env SCALPER_RECORDER__RETENTION_DAYS"
    assert settings.recorder.data_dir == "data/demo"
    assert sources["recorder.data_dir"] == "command default"
    assert settings.engine.flow_windows == ("10s", "1m")
    assert sources["engine.timeframes"] == "default"


def test_text_values_are_read_by_type() -> None:
    env = {
        "SCALPER_ENGINE__FLOW_WINDOWS": "10s, 1m",
        "SCALPER_RECORDER__MAX_DISK_BYTES": "512MiB",
        "SCALPER_RECORDER__RETENTION_DAYS": "none",
        "SCALPER_API__ENABLED": "false",
        "SCALPER_SIMULATOR__FAULTS__GAP_PER_FRAME": "0.01",
    }
    settings = load_settings(env=env).settings
    assert settings.engine.flow_windows == ("10s", "1m")
    assert settings.recorder.max_disk_bytes == 512 * 2**20
    assert settings.recorder.retention_days is None
    assert settings.api.enabled is False
    assert settings.simulator.faults.gap_per_frame == 0.01


def test_the_config_file_may_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[feed]\ndepth = 200\n")
    loaded = load_settings(env={"SCALPER_CONFIG": str(config)})
    assert loaded.settings.feed.depth == 200 and loaded.sources["feed.depth"] == f"file {config}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SCALPER_API__PROT": "1"},
            "unknown setting 'api.prot' (env SCALPER_API__PROT); [api] has",
        ),
        ({"SCALPER_API__PORT": "eighty"}, "invalid setting api.port = 'eighty' (env SCALPER_API"),
        ({"SCALPER_API__PORT": "70000"}, "invalid setting api.port = '70000'"),
        ({"SCALPER_NOPE__X": "1"}, "unknown setting 'nope.x' (env SCALPER_NOPE__X); the sections"),
        ({"SCALPER_RECORDER__MAX_DISK_BYTES": "lots"}, "not a size: 'lots'"),
        (
            {"SCALPER_ENGINE__FLOW_WINDOWS": "1500ms"},
            "engine.flow_windows: 1500ms is not a multiple",
        ),
        ({"SCALPER_ENGINE__TIMEFRAMES": "1m,1m"}, "engine.timeframes: 1m, 1m repeats a value"),
        (
            {
                "SCALPER_SIMULATOR__FAULTS__GAP_PER_FRAME": "0.6",
                "SCALPER_SIMULATOR__FAULTS__RESET_PER_FRAME": "0.6",
            },
            "add up to more than 1",
        ),
    ],
)
def test_a_bad_key_or_value_is_an_error_naming_it(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(env=env)
    assert message in str(error.value)


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[api\nport = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(config_file=broken)
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(config_file=tmp_path / "missing.toml")
    table = tmp_path / "table.toml"
    table.write_text("[api.port]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"'api\.port' is a value, not a table"):
        load_settings(config_file=table)


def test_set_assignments() -> None:
    assert parse_assignment("engine.flow_windows=10s,1m") == ("engine.flow_windows", "10s,1m")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_assignment("engine.flow_windows")


def test_engine_settings_check_themselves_when_built_in_code() -> None:
    with pytest.raises(ConfigError, match="not a multiple of flow_bucket"):
        EngineSettings(flow_windows=("1500ms",))


def scalper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scalper.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_config_show_prints_values_and_sources(tmp_path: Path) -> None:
    config = tmp_path / "scalper.toml"
    config.write_text("[api]\nport = 9100\n")
    shown = scalper(
        "config",
        "show",
        "--config",
        str(config),
        "--set",
        "engine.flow_windows=10s,1m",
        "--command",
        "demo",
    )
    assert shown.returncode == 0, shown.stderr
    lines = {line.split(" = ")[0]: line for line in shown.stdout.splitlines()}
    assert (
        lines["api.port"].startswith("api.port = 9100") and f"# file {config}" in lines["api.port"]
    )
    assert (
        '["10s","1m"]' in lines["engine.flow_windows"]
        and "# flag --set" in lines["engine.flow_windows"]
    )
    assert (
        '"data/demo"' in lines["recorder.data_dir"]
        and "# command default" in lines["recorder.data_dir"]
    )
    assert lines["recorder.retention_days"].endswith("# default")
    assert len(lines) == len(leaf_types())


def test_a_bad_setting_stops_the_command_with_one_line() -> None:
    bad = scalper("replay", "nothing.jsonl", "--set", "engine.flow_windows=1500ms")
    assert bad.returncode == 2
    assert bad.stderr.startswith("scalper: engine.flow_windows: 1500ms is not a multiple")
    assert "Traceback" not in bad.stderr
    twice = scalper("run", "--port", "1", "--set", "api.port=2")
    assert twice.returncode == 2 and "api.port is set twice" in twice.stderr


def test_memory_diagnostics_and_the_arrow_pool_are_settings() -> None:
    env = {
        "SCALPER_DIAGNOSTICS__TRACEMALLOC": "true",
        "SCALPER_RECORDER__ARROW_MEMORY_POOL": "jemalloc",
    }
    flags = {"diagnostics.memory_report_file": ("out/memory.jsonl", "--set")}
    settings = load_settings(env=env, flags=flags).settings
    assert settings.diagnostics.tracemalloc is True
    assert settings.diagnostics.memory_report_file == "out/memory.jsonl"
    assert settings.recorder.arrow_memory_pool == "jemalloc"
    with pytest.raises(ConfigError, match="arrow_memory_pool"):
        load_settings(env={"SCALPER_RECORDER__ARROW_MEMORY_POOL": "tcmalloc"})


def test_signal_settings_come_from_every_layer(tmp_path: Path) -> None:
    config = tmp_path / "scalper.toml"
    config.write_text(
        '[signals]\ncadence = "250ms"\n[signals.score.weights]\nofi_5s = 2.5\n'
        "[signals.regimes]\nvolume_zscores = [-2.0, 1.0, 3.0]\n"
    )
    loaded = load_settings(
        config_file=config,
        env={"SCALPER_SIGNALS__GATES__VPIN_TOXIC": "0.25"},
        flags={"signals.score.weights.flow_imbalance_5s": ("0", "--set")},
    )
    signals = loaded.settings.signals
    assert signals.cadence == "250ms"
    assert signals.score.weights.ofi_5s == 2.5
    assert signals.score.weights.flow_imbalance_5s == 0.0
    assert signals.gates.vpin_toxic == 0.25
    assert signals.regimes.volume_zscores == (-2.0, 1.0, 3.0)
    assert loaded.sources["signals.gates.vpin_toxic"] == "env SCALPER_SIGNALS__GATES__VPIN_TOXIC"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("signals.cadence", "300ms", "must divide 1 s"),
        ("signals.regimes.volatility_percentiles", "0.9,0.5,0.95", "three increasing edges"),
        ("signals.evaluation.horizons", "1s,1500ms", "not whole seconds"),
        ("simulator.alpha.mode", "maybe", "Invalid enum value"),
    ],
)
def test_bad_signal_settings_are_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(flags={key: (value, "--set")})


def test_every_directional_factor_has_a_weight_and_nothing_else_does() -> None:
    from scalper.settings import FactorWeights
    from scalper.signals.catalog import DIRECTIONAL

    assert FactorWeights.__struct_fields__ == DIRECTIONAL
