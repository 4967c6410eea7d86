# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test install install-dev clean-demo

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
test: install-dev
	$(PY) -m pytest -n 2 --dist loadfile

clean-demo:
	rm -rf .driftgate
