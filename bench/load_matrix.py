"""`python -m bench.load_matrix`: the live client on several WebSocket clients and event loops,
side by side in one run, against one publisher (bench/load_publisher.py).

    nice -n 5 .venv/bin/python -m bench.load_matrix --symbols 300 --rate 1 --seconds 30 \\
        --variants default/asyncio,picows/uvloop --before /tmp/scalper-main

One publisher process serves the same pre-encoded market to every variant; each variant is a
client process of its own (`bench.load --url`, so an event loop policy or an import never
carries over), run one after the other and, with `--rounds`, interleaved round after round.
A variant is `client/loop` (client: `default` = the feed's own connection, or a name in
`bench.load_clients`; loop: asyncio or uvloop); `before/<loop>` runs the feed's own connection
with the `scalper` package of another checkout (`--before DIR`: its `src` goes first on the
path), e.g. main's code for a before/after table in the same run. Several checkouts: `--before
LABEL=DIR` once each, and `LABEL/<loop>` as their variants.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec
from rich.console import Console
from rich.table import Table

from bench.load import LoadResult, PublisherProcess
from bench.machine import machine

_REPO_ROOT = Path(__file__).resolve().parents[1]


def run_variant(variant: str, url: str, status: Path, args: argparse.Namespace) -> LoadResult | str:
    """One client process; its result, or its error output."""
    client, _, loop = variant.partition("/")
    env = dict(os.environ)
    checkouts = dict(
        entry.split("=", 1) if "=" in entry else ("before", entry) for entry in args.before or ()
    )
    if client in checkouts:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(checkouts[client]) / "src"), str(_REPO_ROOT)])
        client = "default"
    elif client == "before":
        return "before/* needs --before DIR"
    command = [
        sys.executable,
        *("-m", "bench.load", "--url", url, "--status", str(status), "--json"),
        *("--client", client, "--loop", loop or "asyncio"),
        *("--symbols", str(args.symbols), "--rate", str(args.rate), "--seed", str(args.seed)),
        *("--seconds", str(args.seconds), "--warmup", str(args.warmup)),
    ]
    done = subprocess.run(
        command, cwd=_REPO_ROOT, env=env, capture_output=True, check=False, timeout=600
    )
    if done.returncode != 0:
        return done.stderr.decode(errors="replace")[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    return msgspec.convert(_nan_for_null(msgspec.json.decode(last)), LoadResult)


def _nan_for_null(value: object) -> object:
    """JSON has no NaN (msgspec writes null): back to NaN, except where None is allowed."""
    if isinstance(value, dict):
        return {k: v if k == "sim_fps" else _nan_for_null(v) for k, v in value.items()}
    return float("nan") if value is None else value


async def _with_publisher(args: argparse.Namespace, console: Console) -> dict[str, list]:
    results: dict[str, list[LoadResult | str]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory() as tmp:
        status = Path(tmp) / "status.json"
        async with PublisherProcess(args.symbols, args.rate, args.seed, status) as publisher:
            console.print("encoding the publisher's window...", style="dim")
            await publisher.wait_until_ready()
            for round_ in range(1, args.rounds + 1):
                for variant in args.variants:
                    console.print(f"round {round_}: {variant}", style="dim")
                    result = await asyncio.to_thread(
                        run_variant, variant, publisher.ws_url, status, args
                    )
                    if isinstance(result, str):
                        console.print(f"{variant} failed:\n{result}", style="red")
                    results[variant].append(result)
    return results


def matrix_table(args: argparse.Namespace, results: dict[str, list]) -> Table:
    table = Table(
        title=f"Live client, {args.symbols} symbols x {args.rate:g}, {args.seconds} s after "
        f"{args.warmup} s warm-up, one publisher; one row per run"
    )
    for column in (
        "variant",
        "round",
        "published/s",
        "applied",
        "client CPU µs/frame",
        "of which receive-to-state µs",
        "p50 / p99 ms",
        "reconnects / drops",
        "load avg",
    ):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for variant, runs in results.items():
        for round_, r in enumerate(runs, 1):
            if isinstance(r, str):
                table.add_row(variant, str(round_), "failed")
                continue
            applied = f"{r.client_fps / r.sim_fps:.1%}" if r.sim_fps else f"{r.client_fps:,.0f}/s"
            table.add_row(
                variant,
                str(round_),
                f"{r.sim_fps:,.0f}" if r.sim_fps else "n/a",
                applied,
                f"{r.client_cpu_us:.1f}",
                f"{r.latency_mean_us:.1f}",
                f"{r.latency_p50_ms:.2f} / {r.latency_p99_ms:.2f}",
                f"{r.reconnects} / {r.slow_clients_dropped}",
                f"{r.load_start:.1f}-{r.load_end:.1f}",
            )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load_matrix", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=["default/asyncio", "default/uvloop"],
        help="comma-separated client/loop pairs",
    )
    parser.add_argument(
        "--before",
        action="append",
        help="a checkout whose scalper the before/* variants run (LABEL=DIR: the LABEL/* ones)",
    )
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    for key, value in machine().items():
        console.print(f"{key:9} {value}")
    results = asyncio.run(_with_publisher(args, console))
    if args.json:
        args.json.write_bytes(msgspec.json.encode(results))
    console.print(matrix_table(args, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
