# Two entry points, both idempotent on a fresh machine:
#   make course   set up .venv and open the course in JupyterLab
#   make test     set up .venv and run every test (library, notebooks, exercises, browser)
# and a few more for instructors:
#   make slides [LESSON=02_convolution]   offline reveal.js decks + PDFs in build/slides/
#   make app LESSON=02_convolution        a lesson as a widgets-only app (Voila, code hidden)
#   make bench                            benchmarks (print timings and ratios)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ASSETS := build/slides/assets/SOURCES.json
LESSON ?=

.PHONY: setup course test slides app bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

setup: $(STAMP)

# Offline slide assets: reveal.js, require.js, jQuery, MathJax from installed wheels and the
# widget renderer from the npm registry (checksum pinned). Without npm the deck tests skip.
$(ASSETS): $(STAMP)
	$(BIN)/python -m course_lib.slides --assets-only || echo "slide assets not built (needs npm): deck tests will be skipped"

course: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" notebooks/00_start_here.ipynb

# One BLAS thread per process: the tests run many small ops, where OpenBLAS threads only
# fight each other (and any other process) for the cores. Three pytest workers on two cores
# (much of the suite waits on kernels and Chromium);
# --dist loadfile keeps each file (and each notebook's cells, in order) on one worker.
test: setup $(ASSETS)
	$(BIN)/ruff check course_lib tests benchmarks
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 3 --dist loadfile

slides: setup $(ASSETS)
	$(BIN)/python -m course_lib.slides $(LESSON)

app: setup
	$(BIN)/python -m course_lib.slides.app $(LESSON)

# glibc keeps freed memory instead of returning (and re-faulting) the large im2col arrays.
BENCH_ENV := MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824
bench: setup
	$(BENCH_ENV) $(BIN)/python benchmarks/bench_ops.py
	$(BENCH_ENV) $(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
