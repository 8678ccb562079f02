# IdeaMine — one entry point for every developer task.
#   make run     run the todo example end to end, embedded (SQLite, in-process queue, offline model)
#   make test    install everything, start PostgreSQL + Redis, lint, run the test suite
#   make chaos   every fault scenario 20 times (CHAOS_ITERATIONS), then docs/reliability.md
#   make soak    continuous runs under random faults for SOAK_SECONDS (600), then docs/reliability.md
SHELL := /bin/bash
PY ?= python3
VENV := venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_FILE ?= examples/orchestrations/todo-app.yaml
OUT ?= out/todo-app
PYTEST_ARGS ?=
CHAOS_ITERATIONS ?= 20
SOAK_SECONDS ?= 600

.PHONY: install proto lint typecheck test test-only run bench chaos soak services-up services-down clean

$(STAMP): pyproject.toml package.json
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
	@touch $(STAMP)

install: $(STAMP)
	@scripts/tools  # promtool (Debian prometheus) for the monitoring tests

proto: install
	$(BIN)/python scripts/gen_proto.py
	$(BIN)/python scripts/gen_api_docs.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if [ -x node_modules/.bin/buf ]; then node_modules/.bin/buf lint && node_modules/.bin/buf format --exit-code >/dev/null && scripts/buf_breaking.sh; fi

typecheck: install
	$(BIN)/mypy ideamine orchestrator agent_host plugins

services-up:
	scripts/services up

services-down:
	scripts/services down

test-only: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: install services-up lint typecheck test-only

run: install
	@rm -rf $(OUT)  # a fresh run each time; `ideamine resume $(OUT)` continues an interrupted one
	$(BIN)/ideamine run $(RUN_FILE) --out $(OUT)

bench: install services-up
	$(BIN)/python -m bench

chaos: install services-up  # a private PostgreSQL cluster and Redis per run; services-up installs them
	CHAOS_ITERATIONS=$(CHAOS_ITERATIONS) CHAOS_RESULTS=tests/chaos/results $(BIN)/pytest -q tests/chaos/test_chaos.py -k scenario -o timeout=1800 $(PYTEST_ARGS)
	$(BIN)/python scripts/chaos_report.py

soak: install services-up
	$(BIN)/python -m tests.chaos.soak --seconds $(SOAK_SECONDS)
	$(BIN)/python scripts/chaos_report.py

clean:
	rm -rf $(VENV) node_modules out .pytest_cache .mypy_cache .ruff_cache
