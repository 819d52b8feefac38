# iuran — one command for each thing an operator or a developer does.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90
export PREFECT_LOGGING_LEVEL ?= INFO

.PHONY: help install demo test test-fast lint bench crash-soak up down clean

SEEDS ?= 500
FLOW_SEEDS ?= 30
FIRST_SEED ?= 0

help:
	@echo "make demo   - create .venv, run whole monthly cycles on demo data, print demo counter accounts"
	@echo "make test   - run the test suite"
	@echo "make lint   - ruff + mypy"
	@echo "make bench  - performance benchmarks (bench/results.json)"
	@echo "make crash-soak SEEDS=500 FLOW_SEEDS=30 - runs killed at random moments (FLOW_SEEDS of them"
	@echo "                           Prefect flow runs: the cycle's CLI, payment-status, reminders), each"
	@echo "                           rerun and compared; SEEDS=0 FLOW_SEEDS=60: the flow runs only"
	@echo "make up     - local Prefect server + worker + deployments + the counter (Loket); make down stops them"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/iuran demo

test: $(STAMP)
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest --ignore=tests/flows -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy iuran flows tasks deployments

bench: $(STAMP)
	$(BIN)/python -m bench

crash-soak: $(STAMP)
	IURAN_KILL_SEEDS=$(SEEDS) IURAN_KILL_FLOW_SEEDS=$(FLOW_SEEDS) IURAN_KILL_FIRST_SEED=$(FIRST_SEED) \
		$(BIN)/pytest -q -s tests/crash/test_random_kill.py

up: $(STAMP)
	$(BIN)/python -m deployments.local up

down:
	-$(BIN)/python -m deployments.local down

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
