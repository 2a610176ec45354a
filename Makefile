# README command 1: make demo    README command 2: make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint typecheck unit services-up services-down bench dist example clean

# Everything the suite needs: every driver and integration, pytest, mypy, ruff.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.core

# Only what the demo needs: the package itself (its memory store has no driver).
$(VENV)/.core: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.core
	$(PY) -m lexigram_nosql demo

# The FastAPI example service on memory stores, at http://127.0.0.1:8000 (see its README).
example: $(VENV)/.core
	$(PY) -m pip install --quiet -e '.[fastapi]' 'uvicorn>=0.29'
	$(PY) -m examples.fastapi_app

# A wheel and an sdist in dist/, to install elsewhere with pip install dist/*.whl
dist: venv
	rm -rf dist
	$(PY) -m build --outdir dist .

# Installs everything, starts every test server, runs the suite, mypy and ruff, stops the servers.
test: venv
	bash scripts/test.sh

lint: venv
	$(VENV)/bin/ruff check lexigram_nosql tests benchmarks examples
	$(VENV)/bin/ruff format --check lexigram_nosql

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(PY) -m pytest tests -q

services-up:
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

bench: venv
	bash scripts/bench.sh

clean:
	bash scripts/services.sh down || true
	rm -rf $(VENV) dist build *.egg-info .services .pytest_cache .mypy_cache .ruff_cache
