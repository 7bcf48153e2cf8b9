"""`/api/trading/*` over HTTP: the trading core's state as served, and the write endpoints'
guards: a token for every write (401 without), no foreign Host (403) and no foreign Origin
(403). The trader runs over a synthetic market fed offline, so it has trades to show."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.unit.trading.test_trader import MARKET, SIGNALS, STRATEGY

from scalper.api import create_app, serve_api
from scalper.api.access import TOKEN_FILE, load_or_create_token
from scalper.engine import Engine
from scalper.errors import ConfigError
from scalper.settings import EngineSettings, TradingSettings
from scalper.signals import SignalEngine
from scalper.trading.paper import PaperBroker
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.simulator.market import SyntheticMarket, generate_frames


@pytest.fixture(scope="module")
def trader() -> Iterator[Trader]:
    contracts = SyntheticMarket(MARKET).instruments.values()
    instruments = {c.symbol: c.instrument for c in contracts}
    settings = TradingSettings(enabled=True, strategy=STRATEGY)
    engine = Engine(EngineSettings())
    signals = SignalEngine(engine, SIGNALS)
    trader = Trader(
        engine,
        signals,
        ReferenceStrategy(STRATEGY),
        PaperBroker(settings.paper, instruments),
        settings,
        instruments,
        10_000.0,
        id_prefix="mx7r202i-",  # ids stamped per start, as the runtime makes them
    )
    applier = FrameApplier(engine)
    for recv_ns, frame in generate_frames(MARKET):
        applier(frame, recv_ns)
    yield trader


def serve(trader: Trader, tmp_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    token = load_or_create_token(tmp_path)

    async def main() -> None:
        app = create_app(trader.engine, signals=trader.signals, trader=trader, write_token=token)
        server = await serve_api(app, port=0)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                await scenario(client, token, server.url)
        finally:
            await server.stop()

    asyncio.run(main())


def test_reads_serve_the_trading_core_as_it_is(trader: Trader, tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, token: str, url: str) -> None:
        state = (await client.get("/api/trading/state")).json()
        assert state["state"] == "active" and state["strategy"] == "reference"
        assert state["symbols"] == trader.machine_states()
        assert state["equity"] == pytest.approx(trader.portfolio.equity)
        pnl = (await client.get("/api/trading/pnl", params={"points": 5})).json()
        assert pnl["trades"] == len(trader.portfolio.trades) > 0
        assert pnl["fees"] == pytest.approx(trader.portfolio.pnl().fees)
        assert len(pnl["equity_curve"]) == 5
        fills = (await client.get("/api/trading/fills", params={"limit": 3})).json()["fills"]
        newest = trader.fills[-1]
        assert len(fills) == 3 and fills[0]["client_id"] == newest.client_id
        every = (await client.get("/api/trading/fills", params={"limit": 10_000})).json()["fills"]
        assert {f["intent"] for f in every} == {"entry", "exit"}
        placed = [*trader.finished, *trader.orders.values()]
        exits = {o.request.client_id for o in placed if o.request.reduce_only}
        assert all((f["client_id"] in exits) == (f["intent"] == "exit") for f in every)
        orders = (await client.get("/api/trading/orders")).json()
        assert {o["client_id"] for o in orders["open"]} == set(trader.orders)
        assert orders["recent"][0]["client_id"] == trader.finished[-1].client_id
        symbol = trader.fills[0].symbol
        audit = (await client.get("/api/trading/audit", params={"symbol": symbol.lower()})).json()
        assert audit["records"] and {r["symbol"] for r in audit["records"]} == {symbol}
        positions = (await client.get("/api/trading/positions")).json()["positions"]
        held = {s for s, e in trader.portfolio.exposures().items() if e.qty}
        assert {p["symbol"] for p in positions} == held

        metrics = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families((await client.get("/metrics")).text)
            for sample in family.samples
        }
        assert metrics[("scalper_trading_equity", ())] == pytest.approx(trader.portfolio.equity)
        assert metrics[("scalper_trading_state", (("state", "active"),))] == 1.0
        assert metrics[("scalper_trading_trades_total", ())] == len(trader.portfolio.trades)
        assert metrics[("scalper_trading_open_positions", ())] == len(held)
        filled = sum(1 for o in trader.finished if o.status.value == "filled")
        assert metrics[("scalper_trading_orders", (("status", "filled"),))] == filled
        for reason, count in trader.risk.refusals.items():
            key = ("scalper_trading_risk_refusals_total", (("reason", reason.value),))
            assert metrics[key] == count

        missing = await client.get("/api/trading/audit", params={"symbol": "NOPEUSDT"})
        assert missing.status_code == 404 and "not traded" in missing.json()["message"]
        bad = await client.get("/api/trading/fills", params={"limit": 0})
        assert bad.status_code == 422 and "limit" in bad.json()["message"]

    serve(trader, tmp_path, scenario)


def test_writes_need_the_token_a_local_host_and_no_foreign_origin(
    trader: Trader, tmp_path: Path
) -> None:
    async def scenario(client: httpx.AsyncClient, token: str, url: str) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        missing = await client.post("/api/trading/halt")
        assert missing.status_code == 401 and "Bearer" in missing.json()["message"]
        wrong = await client.post("/api/trading/halt", headers={"Authorization": "Bearer x" * 5})
        assert wrong.status_code == 401
        foreign = await client.post(
            "/api/trading/halt", headers={**auth, "Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403 and "cross-origin" in foreign.json()["message"]
        rebound = await client.get("/api/trading/state", headers={"Host": "evil.example"})
        assert rebound.status_code == 403 and "Host" in rebound.json()["message"]
        rebound_write = await client.post(
            "/api/trading/halt", headers={**auth, "Host": "evil.example:8090"}
        )
        assert rebound_write.status_code == 403
        stolen = await client.get("/api/trading/token", headers={"Origin": "http://evil.example"})
        assert stolen.status_code == 403
        assert trader.risk.state.name == "ACTIVE"  # nothing above changed anything

        same_origin = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        assert (await client.get("/api/trading/token", headers=same_origin)).json() == {
            "token": token
        }
        halted = await client.post(
            "/api/trading/halt", headers={**auth, **same_origin}, json={"reason": "test"}
        )
        assert halted.status_code == 200
        assert halted.json()["state"] == "halted" and halted.json()["reason"] == "manual: test"
        state = (await client.get("/api/trading/state")).json()
        assert state["state"] == "halted"
        assert set(state["symbols"].values()) <= {"halted", "position_exit", "in_position"}
        resumed = await client.post("/api/trading/resume", headers=auth)
        assert resumed.json()["state"] == "active"
        flattened = await client.post("/api/trading/flatten", headers=auth)
        assert flattened.status_code == 200

    serve(trader, tmp_path, scenario)


def test_the_token_file_is_the_owners_alone(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(tmp_path) == token  # kept across starts
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_or_create_token(tmp_path)


def test_the_cli_kill_switch_halts_the_running_trader(trader: Trader, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scalper.cli", "trading", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    async def scenario(client: httpx.AsyncClient, token: str, url: str) -> None:
        no_token = await asyncio.to_thread(
            cli, "halt", "--url", url, "--data-dir", str(tmp_path / "elsewhere")
        )
        assert no_token.returncode == 2 and "no API token" in no_token.stderr
        assert trader.risk.state.name == "ACTIVE"
        halted = await asyncio.to_thread(
            cli, "halt", "--url", url, "--data-dir", str(tmp_path), "--reason", "from a shell"
        )
        assert halted.returncode == 0, halted.stderr
        assert json.loads(halted.stdout)["reason"] == "manual: from a shell"
        state = await asyncio.to_thread(cli, "state", "--url", url)
        assert json.loads(state.stdout)["state"] == "halted"
        resumed = await asyncio.to_thread(cli, "resume", "--url", url, "--data-dir", str(tmp_path))
        assert json.loads(resumed.stdout)["state"] == "active"

    serve(trader, tmp_path, scenario)
