# GovConnect: every set-up step is here, so a fresh machine needs only Python 3.11+ and make
# (npm too for the GOV.UK Frontend styles, and `make browsers` once for the browser tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Schemathesis (tests/resilience/test_openapi_fuzz.py) in a virtualenv of its own: it pins
# jsonschema-rs below the version the gateway needs, so it cannot share .venv.
SCHEMATHESIS := $(VENV)/schemathesis
SCHEMATHESIS_STAMP := $(SCHEMATHESIS)/.installed-stamp
# Root runs apt-get itself; any other user goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browsers run test test-cluster lint format bench clean audit soak redis-server

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
## browser tests included (Chromium comes from `make browsers`); the attack and fault suites
## (tests/fuzz/, tests/resilience/) need Debian's redis-server and Schemathesis too
test: install browsers redis-server $(SCHEMATHESIS_STAMP)
	$(BIN)/pytest

## test-cluster: the same suite against a local Redis Cluster (three masters, three replicas:
## six redis-server processes on loopback ports, in a temporary folder, stopped afterwards),
## with the guard that fails any command touching two hash slots (tests/support/slots.py)
test-cluster: install browsers redis-server $(SCHEMATHESIS_STAMP)
	$(BIN)/python -m tests.support.cluster $(BIN)/pytest

## redis-server: Debian's (7.x, built with TLS) for the Redis hardening and fault-injection
## tests, which start their own servers; installed with apt-get unless it is there.
redis-server:
	@if command -v redis-server >/dev/null 2>&1; then \
		echo "redis-server is installed"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			redis-server; \
	fi

$(SCHEMATHESIS_STAMP):
	$(PYTHON) -m venv $(SCHEMATHESIS)
	$(SCHEMATHESIS)/bin/python -m pip install --quiet 'schemathesis>=4.30,<5'
	touch $(SCHEMATHESIS_STAMP)

## audit: pip-audit over the installed dependencies (fails on a known vulnerability unless
## pyproject.toml's [tool.govconnect.pip-audit] allow-list has an in-date entry for it) and
## bandit over the packages ([tool.bandit] in pyproject.toml)
audit: install
	$(BIN)/python -m tests.resilience.pip_audit
	$(BIN)/bandit -q -c pyproject.toml -r gateway trust_levels messaging payments certs

## soak: the fuzz and fault-injection suites for longer: many Hypothesis examples and a mixed
## load with random SIGKILLs for DURATION seconds; prints operations, faults, items checked
## and items lost. e.g. make soak DURATION=3600
DURATION ?= 600
soak: install redis-server $(SCHEMATHESIS_STAMP)
	GOVCONNECT_SOAK_SECONDS=$(DURATION) HYPOTHESIS_PROFILE=soak \
		$(BIN)/pytest -p no:cacheprovider -s tests/fuzz tests/resilience

## lint: ruff (lint + format check) and mypy --strict
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: the benchmark suite (docs/performance.md): every workload of issue 9 under wrk or
## an async driver, 1 and 2 workers, embedded and external Redis and a local Redis Cluster,
## oidc-provider 9 beside the token workload, a py-spy profile of the slowest; the sizing in
## docs/deployment.md worked out from the figures. Installs the `bench` extra (rich,
## matplotlib, psutil, py-spy), wrk and redis-server with apt-get unless they are there (root
## or sudo), and oidc-provider with npm into a temporary folder. About eight minutes; not run
## in CI. Options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--only submit --no-peer".
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@if command -v wrk >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then \
		echo "wrk and redis-server are installed"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			wrk redis-server; \
	fi
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache .pytest_cache
