# Every target bootstraps .venv (and node_modules) on first use. A fresh machine needs python3
# and make; scripts/system-deps installs the rest (a C compiler, node and npm; for the tests also
# chromium, curl and jq) when run as root, and otherwise says the one command to run.
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-stamp
PEERS    := $(VENV)/.peers-stamp
COMPILED := $(VENV)/.compiled-stamp
# The engine's hot path is Cython (src/scalper/*.pyx); pip builds it in place, and rebuilds it
# here whenever a .pyx or .pxd changes.
CYTHON_SOURCES := setup.py $(wildcard src/scalper/*.pyx src/scalper/*.pxd src/scalper/*/*.pyx src/scalper/*/*.pxd src/scalper/*/*/*.pyx src/scalper/*/*/*.pxd)
ARGS     ?=

.PHONY: demo test lint bench bench-extra bench-load soak clean system-test

$(STAMP): pyproject.toml package.json package-lock.json
	scripts/system-deps build
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund  # the dashboard's charting library, copied into static/vendor/
	npm run --silent build
	touch $(STAMP) $(COMPILED)

$(COMPILED): $(STAMP) $(CYTHON_SOURCES)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(COMPILED)

demo: $(COMPILED)  ## simulator + live feed + engine + API/dashboard on :8090; Ctrl-C prints the summary
	$(if $(findstring --workers,$(ARGS)),$(PY) -m pip install --quiet -e '.[dev,scaleout]')
	$(VENV)/bin/scalper demo $(ARGS)

# The peer benchmark's test compares cryptofeed's and nautilus_trader's books with ours, so the
# test suite installs them (the `bench` extra) rather than passing on a "not installed" note;
# likewise Dask (the `distributed` extra), which the sweep tests run on, and NATS (the
# `scaleout` extra) for the `--workers N` tests.
$(PEERS): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench,distributed,scaleout]'
	touch $(PEERS)

system-test:
	scripts/system-deps test

test: system-test $(COMPILED) $(PEERS)  ## lint, architecture contract and the whole test suite
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(ARGS)

lint: $(COMPILED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(COMPILED)  ## benchmark: decode floor vs engine vs seed-style, prints a table
	$(PY) -m bench $(ARGS)

bench-extra: $(PEERS)  ## install the peers `make bench` compares with (cryptofeed, nautilus_trader)

bench-load: $(COMPILED)  ## live path: simulator process vs feed + engine (ARGS="--symbols 300 --rate 10")
	$(PY) -m bench.load $(ARGS)

soak: $(COMPILED)  ## long run of simulator + engine + API + recorder, sampled and judged (ARGS="--duration 20m")
	$(PY) -m pip install --quiet -e '.[dev,soak]'
	$(PY) -m bench.soak $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
