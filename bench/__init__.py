"""Benchmarks of scalper: `python -m bench` (or `make bench`) prints the whole table.

- `bench.__main__`: decode floors vs the engine vs the seed-style reference, on the same frames;
- `bench.seed_style`: the reference, what the replaced Node.js system did;
- `bench.book_structures`: which structure should hold a book side;
- `bench.memory`: the engine's memory once every candle history is full;
- `bench.recording`: the recorder: bytes on disk, CPU per frame, reading back and replay speed;
- `bench.replay`: a recording replayed by the JSON frame path and by the columnar path (same run,
  same engine state required);
- `bench.peers`: the same frames through cryptofeed's Bybit handler and nautilus_trader's order
  book (installed by `make bench-extra`; skipped with a message when absent);
- `bench.load` (`make bench-load`): the live path, simulator process vs feed + engine.
"""
