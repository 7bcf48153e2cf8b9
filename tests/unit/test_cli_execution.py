"""`--execution`, `--live` and `--confirm-live`: they reach the settings, `--live` implies the
exchange on mainnet, and live trading without the confirmation sentence is refused before any
connection (run_live is replaced by a tripwire: nothing here reaches an exchange)."""

from __future__ import annotations

import os

import pytest

import scalper.runtime
from scalper.cli import build_parser, load, main
from scalper.settings import LIVE_CONFIRMATION, Settings

KEYS = {"BYBIT_API_KEY": "testKey0001", "BYBIT_API_SECRET": "testSecret0001"}


def _settings(*argv: str) -> Settings:
    return load(build_parser().parse_args(list(argv))).settings


@pytest.fixture(autouse=True)
def _no_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any run that got past the checks would fail the test instead of connecting."""

    async def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("run_live reached: the refusal came too late")

    monkeypatch.setattr(scalper.runtime, "run_live", tripwire)
    monkeypatch.setattr(scalper.runtime, "run_demo", tripwire)
    for name in [n for n in os.environ if n.startswith("SCALPER_")]:
        monkeypatch.delenv(name)
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)


def test_execution_flag_reaches_the_settings_and_turns_trading_on() -> None:
    run = _settings("run", "--execution", "exchange")
    assert run.trading.execution == "exchange"
    assert run.trading.enabled
    assert not run.trading.bybit.live
    assert run.venue.testnet
    paper = _settings("run", "--execution", "paper")
    assert (paper.trading.execution, paper.trading.enabled) == ("paper", True)
    demo = _settings("demo", "--execution", "exchange")
    assert (demo.trading.execution, demo.trading.enabled) == ("exchange", True)
    assert _settings("run").trading.execution == "paper"
    assert not _settings("run").trading.enabled


def test_live_flag_means_the_exchange_on_mainnet_with_the_sentence() -> None:
    settings = _settings("run", "--live", "--confirm-live", LIVE_CONFIRMATION)
    assert settings.trading.bybit.live
    assert settings.trading.bybit.live_confirmation == LIVE_CONFIRMATION
    assert settings.trading.execution == "exchange"
    assert settings.trading.enabled
    assert not settings.venue.testnet
    assert not _settings("run").trading.bybit.live


def test_demo_has_no_live_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--live"])
    assert "--live" in capsys.readouterr().err


def test_live_without_the_confirmation_is_refused_clearly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    assert main(["run", "--live", "--duration", "1", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scalper: live trading on Bybit mainnet needs")
    assert LIVE_CONFIRMATION in err and "--confirm-live" in err
    assert "Traceback" not in err

    assert main(["run", "--live", "--confirm-live", "yes", "--duration", "1"]) == 2
    assert "live_confirmation" in capsys.readouterr().err

    # The sentence in the settings instead of the flag counts too; a mainnet URL override
    # without --live is refused as well.
    sentence = f"trading.bybit.live_confirmation={LIVE_CONFIRMATION}"
    with pytest.raises(AssertionError, match="run_live reached"):
        main(["run", "--live", "--set", sentence, "--duration", "1"])
    url = "trading.bybit.rest_url=https://api.bybit.com"
    assert main(["run", "--execution", "exchange", "--set", url, "--duration", "1"]) == 2
    assert "mainnet" in capsys.readouterr().err


def test_live_contradicted_or_from_settings_alone_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--live", "--execution", "paper", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "--live needs trading.execution = 'exchange'" in err
    assert main(["run", "--live", "--testnet", "--duration", "1"]) == 2
    assert "venue.testnet" in capsys.readouterr().err
    # `trading.bybit.live` from a file or --set implies nothing: paper trading with it is refused.
    live = "trading.bybit.live=true"
    sentence = f"trading.bybit.live_confirmation={LIVE_CONFIRMATION}"
    assert main(["run", "--paper", "--set", live, "--set", sentence, "--mainnet"]) == 2
    assert "trading.execution = exchange" in capsys.readouterr().err


def test_exchange_without_keys_is_refused_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--execution", "exchange", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "BYBIT_API_KEY" in err
    assert "Traceback" not in err
