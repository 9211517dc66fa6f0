# The two commands of the README: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-k8s lint bench web

# The Python install and the web app's build share nothing: they run side by side.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += --jobs=2
endif

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

# The web app (web/), built by Vite into the Python package, which serves it at `/` (docs/web.md).
WEB_BUILD   := src/dagy/server/webapp/index.html
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

$(WEB_BUILD): web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

## Build the web app when Node.js is here (a wheel ships it built; without either, `/` links the API).
web:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(WEB_BUILD); \
	else echo "note: npm not found: the web app is not built (Node.js 20+ builds it; docs/web.md)"; fi

## Install and start the server on the embedded default (SQLite + DAGY_HOME, default ~/.dagy).
run: $(VENV)/.installed-server web
	$(BIN)/dagy server

## Install what tests need, reach PostgreSQL and Redis, run lint, the type checker and the whole suite
## (SQLite + PostgreSQL), then the web app's unit tests and its end-to-end tests in Chromium.
test: $(VENV)/.installed-test web
	scripts/test.sh

## Run the kubernetes executor's Jobs on a real cluster: the kubeconfig's current context, the namespace
## DAGY_TEST_K8S_NAMESPACE (required, else the tests are skipped), DAGY_TEST_K8S_IMAGE (busybox:1.36).
test-k8s: $(VENV)/.installed-test
	$(BIN)/python -m pytest tests/executors/test_kubernetes_cluster.py -p no:xdist -rs -v

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py
