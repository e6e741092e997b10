# Two commands matter (see README): `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
FLASK   = $(VENV)/bin/flask --app wsgi
PYBABEL = $(VENV)/bin/pybabel
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Test processes: the suite waits on browsers, servers and sockets more than on the CPU,
# so four processes finish it in about half the time on two cores.
WORKERS ?= 4

.PHONY: run install db demo test test-fast services browser lint i18n bench screenshots clean

## Install, build the SQLite database, load the demo data, serve http://127.0.0.1:5000
run: install db demo
	$(FLASK) run --host $(HOST) --port $(PORT)

install: $(VENV)/.installed
	@$(PYBABEL) -q compile -d translations

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
	$(PY) -m pytest -n $(WORKERS) $(PYTEST_ARGS)

## The inner loop: no browser, no gunicorn, no fuzzing, on every core (SQLite)
test-fast: install
	$(PY) -m pytest -n auto -m "not e2e and not slow and not fuzz" $(PYTEST_ARGS)

services:
	@bash .ci/services

browser:
	@bash .ci/browser

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Catalogues: extract the msgids, merge them into fa (then translate the new ones), compile
i18n: install
	$(PYBABEL) -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  --width 100 --project model-control-panel -o translations/messages.pot webapp templates
	$(PYBABEL) -q update -N --ignore-obsolete --width 100 \
	  -i translations/messages.pot -d translations -l fa
	$(PYBABEL) -q compile -d translations
	$(PY) translations/check.py

bench: install
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) bench/run.py

## Every page at 1366×768 and 390×844 (light, a few dark) into artifacts/screenshots/
screenshots: install browser
	$(PY) -m tests.e2e.screenshots

clean:
	rm -rf $(VENV) instance .pytest_cache
