# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
DEMO_DIR := .demo
DEMO_AS_OF ?= 2026-11-20

.PHONY: install test test-all test-fast lint demo bench bench-nightly bench-case-show lock clean

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(BIN)/.installed

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ehcp_workflow flows deployments

# The suite on both cores (a file's tests share one worker, so the Prefect harness starts once):
# lint, pure rules, database (SQLite, and PostgreSQL where reachable), flows. The few long
# end-to-end tests marked `slow` (year-long replays, the regional deployment, the demo) run where
# CI=true, as CI sets it, and with `make test-all`; a laptop's `make test` leaves them out.
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadfile
test: lint
	$(PYTEST) $(if $(filter true,$(CI)),,-m "not slow")

test-all: lint
	$(PYTEST)

# The fast loop while editing: no Prefect harness, no year-long replays.
test-fast: install
	$(BIN)/python -m pytest -q -m "not flows and not slow"

demo: install
	$(BIN)/ehcp demo --dir $(DEMO_DIR) --as-of $(DEMO_AS_OF)

bench: install
	$(BIN)/python -m bench.engine

# The nightly at scale, end to end: ehcp demo-data + ehcp import build the store (once), then
# ehcp nightly runs a first and a later night; prints each against a bare driver fetch.
# BENCH_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ehcp_bench for PostgreSQL.
CASES ?= 200000
bench-nightly: install
	$(BIN)/python -m bench.nightly --cases $(CASES) $(if $(BENCH_URL),--url $(BENCH_URL))

# ehcp case show as a whole process (median and fastest of 15 runs) on the store bench-nightly built.
bench-case-show: install
	$(BIN)/python -m bench.case_show --url $(or $(BENCH_URL),sqlite:////tmp/ehcp-bench-$(CASES)/store.db)

# Re-resolve the pinned, hashed lock from pyproject.toml (run by hand, commit the result).
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes \
		--no-emit-package ehcp-workflow -o requirements.lock

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
