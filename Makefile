# The commands the README names. Everything installs into .venv; nothing global but apt packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench services system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,embedded-redis]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	@scripts/install-system-deps.sh

services:
	@scripts/ensure-services.sh

## make run: the whole product on SQLite, demo data included (Ctrl-C stops it)
run: install system-deps
	$(BIN)/python -m callcenter.devserver

## make test: the whole suite on the local PostgreSQL and Redis (started if needed)
test: install system-deps services
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install services
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
