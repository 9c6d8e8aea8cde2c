# GovConnect: every set-up step is here, so a fresh machine needs only Python 3.11+ and make
# (npm too for the GOV.UK Frontend styles, and `make browsers` once for the browser tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Root runs apt-get itself; any other user goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browsers run test lint format bench clean

# Python packages into .venv, then GOV.UK Frontend into node_modules/ when npm is on PATH.
# Without npm the pages still work, as plain semantic HTML without the GOV.UK styles.
$(STAMP): pyproject.toml package.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm install --no-audit --no-fund (govuk-frontend)"; \
		npm install --no-audit --no-fund; \
	else \
		echo "npm is not on PATH: skipping govuk-frontend; pages are served as plain HTML"; \
	fi
	touch $(STAMP)

install: $(STAMP)

## browsers: Debian's Chromium for the browser tests, unless it is already installed. Needs
## root: run it as root or let it use sudo. Playwright drives this Chromium through the driver
## bundled in its Python package; `playwright install` (its own download) is never needed.
browsers:
	@if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then \
		echo "chromium is installed"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			chromium fonts-liberation; \
	fi

## run: initialise keys and demo data, then serve on http://127.0.0.1:8000 (embedded Redis)
run: install
	$(BIN)/govconnect init --demo
	$(BIN)/govconnect serve

## test: the whole suite against a real Redis (embedded unless GOVCONNECT_TEST_REDIS_URL is set),
## browser tests included (Chromium comes from `make browsers`)
test: install browsers
	$(BIN)/pytest

## lint: ruff (lint + format check) and mypy --strict
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: the benchmark suite (docs/performance.md): GovConnect per worker under wrk, and
## oidc-provider 9 beside it; installs wrk with apt-get unless it is there (root or sudo), and
## oidc-provider with npm into a temporary folder. Takes about four minutes; not run in CI.
## Options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--seconds 5 --no-peer".
bench: install
	@if command -v wrk >/dev/null 2>&1; then \
		echo "wrk is installed"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk; \
	fi
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache .pytest_cache
