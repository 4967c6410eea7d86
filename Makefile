# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# Python and pytest keep compiled modules (and the test modules with their asserts rewritten) in
# __pycache__ (git-ignored), whatever the shell says: collecting the suite takes ~15 s without
# that cache, ~10 s with it, in every worker.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast lint install install-dev clean-demo

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-spark.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Install requirements and start the app (embedded demo workspace when nothing is configured).
run: install
	$(PY) -m streamlit run app.py --server.port $(PORT)

# Install dev requirements (Spark included: requirements-spark.txt) and run the whole suite,
# browser and Spark tests included.
test: lint
	$(PY) -m pytest -n 4 --dist loadgroup

# Unit tests only: no browser, server process, Spark, PostgreSQL, seeded demo or AppTest (the
# markers come from the fixtures a test uses: tests/conftest.py) and none marked slow.
FAST := not (e2e or server or spark or postgres or demo or apptest or databricks or slow or cli)
test-fast: install-dev
	$(PY) -m pytest -n 2 --dist loadgroup -m "$(FAST)"

# Format, lint and types (configuration: pyproject.toml); `make test` runs it first, so CI fails
# on a lint or type error. mypy: strict on services/, check_untyped_defs on the UI, tests/ and
# bench/.
lint: install-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy services components pages app.py tests bench

clean-demo:
	rm -rf .driftgate
