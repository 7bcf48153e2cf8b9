"""The Cython modules keep the layer contract that import-linter checks for the .py modules.

import-linter (grimp) reads only Python sources, so the imports and cimports of
src/scalper/**/*.pyx are checked here against the same `layers` list in pyproject.toml: a module
may import only from layers below its own, and the compiled parts of one module (the two of the
engine, the two of the signals) from each other.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "src" / "scalper").glob("**/*.pyx"))
IMPORT = re.compile(r"^\s*(?:from\s+(scalper[\w.]*)\s+c?import\b|c?import\s+(scalper[\w.]*))", re.M)
FACE = {
    "_book": "book",
    "_candles": "candles",
    "_flow": "flow",
    "_tickers": "tickers",
    "_symbol": "engine",
    "_router": "engine",
    "_event_tap": "engine",
    "_footprint": "footprint",
    "signals._book_factors": "signals",
    "signals._tracker": "signals",
    "trading._tap": "trading",
    "venues.bybit._wire": "venues",
    "venues.bybit._feed_sink": "venues",
    "venues.bybit._receiver": "venues",
}
"""Compiled module (its path under scalper/, dotted) -> the module whose layer it belongs to (its
public import path, or for _symbol the engine, whose per-event work it does)."""
DECLARATIONS = {"_trade_fields": "events"}
"""Declarations without a module of their own (a .pxd of inline C, cimported) -> the module whose
layer they belong to (_trade_fields: the layout of the events' Trade)."""


def compiled_name(path: Path) -> str:
    """'signals._tracker' for src/scalper/signals/_tracker.pyx."""
    relative = path.relative_to(ROOT / "src" / "scalper").with_suffix("")
    return ".".join(relative.parts)


def layer_index(text: str | None = None) -> dict[str, int]:
    config = tomllib.loads(text or (ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return {
        name.strip().strip("()"): depth
        for depth, layer in enumerate(contract["layers"])
        for name in layer.split("|")
    }


def face_of(module: str) -> str:
    """The public module of `scalper.<...>` (a compiled module's face, or its first part)."""
    name = module.split(".", 1)[1]
    for compiled, face in (FACE | DECLARATIONS).items():
        if name == compiled or name.startswith(compiled + "."):
            return face
    return name.split(".")[0]


def layer_of(module: str, layers: dict[str, int]) -> int:
    return layers[f"scalper.{face_of(module)}"]


def imports_not_below(name: str, text: str, layers: dict[str, int]) -> list[str]:
    """The modules `text` (the source of compiled module `name`) imports from its own or a
    higher layer."""
    own = layer_of(f"scalper.{name}", layers)
    imported = [a or b for a, b in IMPORT.findall(text)]
    face = FACE[name]
    return [
        module for module in imported if layer_of(module, layers) <= own and face_of(module) != face
    ]


def test_every_compiled_module_has_a_layer() -> None:
    assert {compiled_name(path) for path in SOURCES} == set(FACE)
    declarations = [
        path
        for path in (ROOT / "src" / "scalper").glob("**/*.pxd")
        if not path.with_suffix(".pyx").exists()
    ]
    assert {compiled_name(path) for path in declarations} == set(DECLARATIONS)


def test_pattern_finds_imports_and_cimports() -> None:
    text = (ROOT / "src" / "scalper" / "_symbol.pyx").read_text()
    found = {a or b for a, b in IMPORT.findall(text)}
    assert {"scalper._book", "scalper.aggregates", "scalper.events"} <= found


def test_an_upward_import_is_caught() -> None:
    """The check fails on a deliberate violation: the engine's router importing a venue."""
    text = (ROOT / "src" / "scalper" / "_router.pyx").read_text()
    broken = text + "\nfrom scalper.venues.bybit.wire import decode_frame\n"
    assert imports_not_below("_router", broken, layer_index()) == ["scalper.venues.bybit.wire"]


def test_the_signals_may_not_import_the_api() -> None:
    """A compiled module of a sub-package is checked too: the tracker importing the API."""
    text = (ROOT / "src" / "scalper" / "signals" / "_tracker.pyx").read_text()
    broken = text + "\nfrom scalper.api.responses import symbol_row\n"
    assert imports_not_below("signals._tracker", broken, layer_index()) == ["scalper.api.responses"]


@pytest.mark.parametrize("source", SOURCES, ids=compiled_name)
def test_compiled_module_imports_only_from_lower_layers(source: Path) -> None:
    found = imports_not_below(compiled_name(source), source.read_text(), layer_index())
    assert found == [], f"{source.name} imports from its own or a higher layer"
