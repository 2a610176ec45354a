# README command 1: make demo    README command 2: make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test lint typecheck unit services-up services-down bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m lexigram_nosql demo

# Installs everything, starts every test server, runs the suite, mypy and ruff, stops the servers.
test: venv
	bash scripts/test.sh

lint: venv
	$(VENV)/bin/ruff check lexigram_nosql tests benchmarks
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
	rm -rf $(VENV) .services .pytest_cache .mypy_cache .ruff_cache
