"""bench/peers.py on a tiny market: the peers' books equal ours when they are installed, and a
missing peer is a skip line with the install hint, never an error."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from bench.peers import INSTALL_HINT, differing_symbols, main, run_peers, synthetic_frames


@pytest.fixture(scope="module")
def rows():
    return {row.implementation: row for row in run_peers(synthetic_frames(3, 2.0))}


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def test_engine_books_equal_the_simulator_truth(rows):
    engine = rows["scalper engine"]
    assert engine.books_equal is True
    assert engine.frames > 0
    assert engine.frames_per_s is not None


def test_cryptofeed_books_equal_ours_or_the_row_says_it_was_skipped(rows):
    row = rows["cryptofeed"]
    if _installed("cryptofeed"):
        assert row.note.startswith("= scalper engine (3 symbols"), row.note
        assert row.books_equal is True
        assert row.frames == rows["scalper engine"].frames  # it consumed every frame too
        assert row.ratio_to_scalper is not None
        assert row.peak_rss_mb is not None
    else:
        assert row.note == f"skipped: cryptofeed not installed ({INSTALL_HINT})"
        assert row.frames_per_s is None
        pytest.skip("cryptofeed not installed: its books were not compared (make test installs it)")


def test_nautilus_books_equal_ours_or_the_rows_say_they_were_skipped(rows):
    for name in ("nautilus adapter path", "nautilus book apply"):
        row = rows[name]
        if _installed("nautilus_trader"):
            assert row.books_equal is True, row.note
        else:
            assert row.note == f"skipped: nautilus_trader not installed ({INSTALL_HINT})"
    if not _installed("nautilus_trader"):
        pytest.skip(
            "nautilus_trader not installed: its books were not compared (make test installs it)"
        )


def testdiffering_symbols_counts_a_changed_size_and_a_missing_symbol():
    ours = {"A": ([(1.0, 2.0)], [(1.5, 1.0)]), "B": ([(9.0, 1.0)], [(9.5, 1.0)])}
    assert differing_symbols(ours, dict(ours)) == 0
    assert differing_symbols({**ours, "A": ([(1.0, 2.5)], [(1.5, 1.0)])}, ours) == 1
    assert differing_symbols({"A": ours["A"]}, ours) == 1


def test_main_prints_the_skip_line_and_exits_0_when_the_peers_are_missing(monkeypatch, capsys):
    # A None entry in sys.modules makes the package unimportable here and in the forked children.
    monkeypatch.setitem(sys.modules, "cryptofeed", None)
    monkeypatch.setitem(sys.modules, "nautilus_trader", None)
    assert main(["--symbols", "2", "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    assert "cryptofeed: skipped: cryptofeed not installed (pip install '.[bench]')" in out
    assert "skipped: nautilus_trader not installed" in out
    assert "scalper engine" in out
