# The two commands of the README: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-server: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

# The embedding model needs torch; the CPU build is asked for by version so that pip does not choose
# a CUDA build of several GB (override TORCH= on a host with a GPU).
TORCH ?= torch==2.13.0

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet '$(TORCH)' -e '.[test]'
	touch $@ $(VENV)/.installed-server

## Install and start the server on the embedded default (SQLite + DAGY_HOME, default ~/.dagy).
run: $(VENV)/.installed-server
	$(BIN)/dagy server

## Install what tests need, reach PostgreSQL and Redis, run lint, the type checker and the whole suite
## (SQLite + PostgreSQL).
test: $(VENV)/.installed-test
	scripts/test.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py
