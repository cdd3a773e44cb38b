# ChartWise: `make run` starts the whole system locally, `make test` runs the whole suite.
# Both install what they need first: uv (through pip when missing), then the locked workspace.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export UV_PYTHON_DOWNLOADS ?= never
PYTEST_ARGS ?=

.PHONY: help setup run test lint format contracts docs bench clean

help:
	@echo "make run        start Redis, the MongoDB-compatible server and every service (Ctrl-C stops all)"
	@echo "make test       run the whole test suite against real servers it starts itself"
	@echo "make lint       ruff, mypy (strict) and the import rules between packages"
	@echo "make contracts  regenerate the message schema snapshots after a deliberate contract change"
	@echo "make docs       regenerate the AsyncAPI and OpenAPI documents"
	@echo "make bench      run the benchmarks and write docs/benchmarks.md"

setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --all-packages --locked --quiet

run: setup
	@$(UV) run --no-sync python -m chartwise_devtools.supervisor

test: setup
	@$(UV) run --no-sync pytest $(PYTEST_ARGS)

lint: setup
	@$(UV) run --no-sync ruff check .
	@$(UV) run --no-sync ruff format --check .
	@$(UV) run --no-sync mypy
	@$(UV) run --no-sync lint-imports

format: setup
	@$(UV) run --no-sync ruff format .
	@$(UV) run --no-sync ruff check --fix .

contracts: setup
	@$(UV) run --no-sync python -m chartwise_contracts.snapshots contracts/schemas

docs: setup
	@$(UV) run --no-sync python -m chartwise_devtools.docs

bench: setup
	@$(UV) run --no-sync pytest tests/benchmarks -m benchmark -p no:cacheprovider -s $(PYTEST_ARGS)

clean:
	rm -rf .venv .local .pytest_cache .mypy_cache .ruff_cache
