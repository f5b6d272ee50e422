# Two entry points, both idempotent on a fresh machine:
#   make course   set up .venv and open the course in JupyterLab
#   make test     set up .venv and run every test (library, notebooks, lint)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup course test lint bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

setup: $(STAMP)

course: setup
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

test: setup
	$(BIN)/ruff check course_lib tests benchmarks
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/bench_ops.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
