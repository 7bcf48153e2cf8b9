"""bench/replay.py on a tiny market: both paths run, agree on the engine state, and the table
says so."""

from __future__ import annotations

from bench.replay import main


def test_both_paths_replay_the_same_recording_to_the_same_state(capsys) -> None:
    assert main(["--symbols", "3", "--seconds", "2", "--frames", "2000", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "engine state after each pass (full view digest): identical" in out
    assert "columns" in out and "json" in out
