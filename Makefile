# Two commands matter (see README): `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
FLASK   = $(VENV)/bin/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run install db demo test test-sqlite test-postgres services browser lint i18n bench clean

## Install, build the SQLite database, load the demo data, serve http://127.0.0.1:5000
run: install db demo
	$(FLASK) run --host $(HOST) --port $(PORT)

install: $(VENV)/.installed
	@$(PY) translations/manage.py compile

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

db: install
	$(FLASK) db upgrade

demo: install
	$(FLASK) seed-demo

## The whole suite: SQLite, plus the PostgreSQL/Redis/browser tests (services started if down)
test: install services browser
	$(PY) -m pytest $(PYTEST_ARGS)

services:
	@bash .ci/services

browser:
	@bash .ci/browser

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

i18n: install
	$(PY) translations/manage.py update
	$(PY) translations/manage.py check

bench: install
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache
