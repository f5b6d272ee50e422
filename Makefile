# Two entry points, both idempotent on a fresh machine:
#   make course   set up .venv and open the course in JupyterLab
#   make test     set up .venv and run every test (library, notebooks, exercises, browser)
# and a few more for instructors:
#   make slides [LESSON=02_convolution]   offline reveal.js decks + PDFs in build/slides/
#   make app LESSON=02_convolution        a lesson as a widgets-only app (Voila, code hidden)
#   make bench                            benchmarks (print timings and ratios)
#   make site                             the course website in build/site/ (offline)
#   make site-check                       open every page of it in Chromium (offline, no CDN)
#   make release-student                  build/release/: the course without solutions/ (+ .zip)
#   make lock                             regenerate requirements-lock.txt (needs PyPI)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ASSETS := build/slides/assets/SOURCES.json
LESSON ?=

.PHONY: setup course test slides app bench site site-check release-student lock clean

# requirements-lock.txt pins every package of requirements.txt (the lessons) and
# requirements-dev.txt (tests, slides, website, grader) with hashes: a fresh clone gets exactly
# what CI tested, and nothing else (--no-deps: the lock is the whole environment). course_lib
# itself is installed editable, without dependencies.
$(STAMP): requirements.txt requirements-dev.txt requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# Offline slide assets: reveal.js, require.js, jQuery, MathJax from installed wheels.
$(ASSETS): $(STAMP)
	$(BIN)/python -m course_lib.slides --assets-only

course: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" notebooks/00_start_here.ipynb

# One BLAS thread per process: the tests run many small ops, where OpenBLAS threads only
# fight each other (and any other process) for the cores. Three pytest workers on two cores
# (much of the suite waits on kernels and Chromium);
# --dist loadfile keeps each file (and each notebook's cells, in order) on one worker.
# OpenBLAS's AVX2 kernels on every x86-64 CPU: an AVX-512 CPU would otherwise round float32
# sums differently, and the lessons' stored outputs (made with these kernels) would not match.
test: setup $(ASSETS)
	$(BIN)/ruff check course_lib tests benchmarks website tools
	OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell $(BIN)/python -m pytest -n 3 --dist loadfile

slides: setup $(ASSETS)
	$(BIN)/python -m course_lib.slides $(LESSON)

app: setup
	$(BIN)/python -m course_lib.slides.app $(LESSON)

# Default malloc: the layers keep their large scratch arrays in workspaces (no page faults).
bench: setup
	$(BIN)/python benchmarks/bench_ops.py
	$(BIN)/python benchmarks/bench_train.py

# The course website from the committed notebooks (nothing executed); includes the decks and
# PDFs when `make slides` built them first. Open build/site/index.html, or publish build/site/.
site: setup
	$(BIN)/python website/build_site.py

site-check: site
	$(BIN)/python website/check_site.py

# The course for students without solutions/ (and without tests/ and CI files that read it).
release-student: setup
	$(BIN)/python tools/release_student.py

# Re-pin the environment after changing requirements*.txt (keeps every other pin it can).
# Left out: rfc3987-syntax (and its lark), jsonschema's optional checker of the "iri" format,
# which no notebook or Jupyter schema uses. It builds some 35 parsers when imported: 1.2 s of
# CPU at every start of a Jupyter server, nbconvert, nbval, the grader and the slide tools.
lock:
	test -x build/uv/bin/uv || ($(PYTHON) -m venv build/uv && build/uv/bin/pip install --quiet uv==0.13.8)
	build/uv/bin/uv pip compile --quiet --universal --python-version 3.11.5 --generate-hashes \
		--custom-compile-command "make lock" --no-emit-package rfc3987-syntax \
		--no-emit-package lark requirements-dev.txt -o requirements-lock.txt

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
