"""`scalper replay` as a user runs it: a real subprocess on real frames, plain, gzip and zstd."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import zstandard


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "scalper.cli", *map(str, args)],
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def frame_files(tmp_path: Path, xrp_frames: list[bytes]) -> dict[str, Path]:
    body = b"\n".join(xrp_frames) + b"\n"
    files = {
        "plain": tmp_path / "xrp.jsonl",
        "gz": tmp_path / "xrp.jsonl.gz",
        "zst": tmp_path / "xrp.jsonl.zst",
    }
    files["plain"].write_bytes(body)
    files["gz"].write_bytes(gzip.compress(body))
    files["zst"].write_bytes(zstandard.ZstdCompressor().compress(body))
    return files


def test_replay_is_byte_identical_across_runs_and_compressions(frame_files, tmp_path) -> None:
    outputs = []
    for name, path in frame_files.items():
        out = tmp_path / f"{name}.json"
        result = run_cli("replay", path, "--json", out)
        assert result.returncode == 0, result.stderr.decode()
        outputs.append((result.stdout, out.read_bytes()))
    again = tmp_path / "again.json"
    result = run_cli("replay", frame_files["plain"], "--json", again)
    outputs.append((result.stdout, again.read_bytes()))
    assert all(item == outputs[0] for item in outputs)
    assert b"XRPUSDT" in outputs[0][0] and b"in_sync" in outputs[0][0]


def test_replay_json_holds_top_levels_flow_and_candles(frame_files, tmp_path) -> None:
    out = tmp_path / "state.json"
    assert run_cli("replay", frame_files["zst"], "--json", out, "--levels", "10").returncode == 0
    state = msgspec.json.decode(out.read_bytes())
    xrp = state["symbols"]["XRPUSDT"]
    assert state["frames"] == 50
    assert xrp["book"]["update_id"] == 20254918
    assert len(xrp["book"]["bids"]) == 10 and len(xrp["book"]["asks"]) == 10
    assert xrp["book"]["best_bid"] == [1.9537, 10605.0]
    assert set(xrp["candles"]) == {"15s", "1m", "5m"}
    assert set(xrp["windows"]) == {"10s", "1m", "5m"}
    assert 0.0 <= xrp["imbalance"]["values"]["top10"] <= 1.0


def test_replay_accepts_receive_time_prefixes(tmp_path, xrp_frames) -> None:
    path = tmp_path / "stamped.jsonl"
    path.write_bytes(b"".join(b"%d %s\n" % (i * 1000, line) for i, line in enumerate(xrp_frames)))
    out = tmp_path / "state.json"
    assert run_cli("replay", path, "--json", out).returncode == 0
    assert msgspec.json.decode(out.read_bytes())["malformed"] == {}


def test_missing_file_is_a_message_not_a_traceback(tmp_path) -> None:
    result = run_cli("replay", tmp_path / "nope.jsonl")
    assert result.returncode == 2
    assert b"cannot open" in result.stderr and b"Traceback" not in result.stderr


def test_corrupt_compressed_file_is_a_message_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"this is not gzip")
    result = run_cli("replay", path)
    assert result.returncode == 2
    assert b"unreadable" in result.stderr and b"Traceback" not in result.stderr
