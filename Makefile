# Every target bootstraps .venv (and node_modules) on first use: a fresh machine needs python3,
# node and npm.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: demo test lint bench bench-extra bench-load soak clean

$(STAMP): pyproject.toml package.json package-lock.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund  # the dashboard's charting library, copied into static/vendor/
	npm run --silent build
	touch $(STAMP)

demo: $(STAMP)  ## simulator + live feed + engine + API/dashboard on :8090; Ctrl-C prints the summary
	$(VENV)/bin/scalper demo $(ARGS)

test: $(STAMP)  ## lint, architecture contract and the whole test suite
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)  ## benchmark: decode floor vs engine vs seed-style, prints a table
	$(PY) -m bench $(ARGS)

bench-extra: $(STAMP)  ## install the peers `make bench` compares with (cryptofeed, nautilus_trader)
	$(PY) -m pip install --quiet -e '.[dev,bench]'

bench-load: $(STAMP)  ## live path: simulator process vs feed + engine (ARGS="--symbols 300 --rate 10")
	$(PY) -m bench.load $(ARGS)

soak: $(STAMP)  ## long run of simulator + engine + API + recorder, sampled and judged (ARGS="--duration 20m")
	$(PY) -m pip install --quiet -e '.[dev,soak]'
	$(PY) -m bench.soak $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
