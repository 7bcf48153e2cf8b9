"""Build of the compiled hot path (Cython); everything else is in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

COMPILED = [
    "_book",
    "_candles",
    "_flow",
    "_tickers",
    "_symbol",
    "_event_tap",
    "_footprint",
    "_router",
    "signals/_book_factors",
    "signals/_tracker",
    "trading/_tap",
    "venues/bybit/_wire",
    "venues/bybit/_feed_sink",
    "venues/bybit/_receiver",
]
"""Modules under src/scalper/ written in Cython (`<path>.pyx`, with `<path>.pxd` when
cimported)."""

setup(
    ext_modules=cythonize(
        [
            Extension(f"scalper.{name.replace('/', '.')}", [f"src/scalper/{name}.pyx"])
            for name in COMPILED
        ],
        compiler_directives={"language_level": "3"},
    ),
)
