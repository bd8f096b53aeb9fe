# The book's commands. Every target creates .venv from requirements.txt on first use.
#   make book     build the site into _build/html (zero warnings allowed)
#   make test     everything CI runs: library tests, nbval over every notebook, site build
#   make outputs  re-execute notebooks in place (NB=book/x.ipynb for one) and record time/memory
#   make bench    budgets measured side by side
#   make reproducibility   nbval with 1 and 2 threads and on the AVX2 and baseline CPU paths
#   make serve    serve the built site on http://127.0.0.1:8000
#   make clean    remove the build (and `make distclean` the .venv too)
SHELL := /bin/bash
# PyTorch's OpenMP threads spin while they wait for a core; on a busy machine that makes small
# operations 10-40x slower. Passive waiting costs nothing measurable on a quiet one.
export OMP_WAIT_POLICY ?= PASSIVE
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NB ?= book
NBVAL := $(BIN)/python -m pytest --nbval --nbval-current-env \
	--nbval-sanitize-with tools/nbval_sanitize.cfg -p no:cacheprovider -o testpaths=book
JB := $(BIN)/jupyter-book build . -n -W --keep-going

.PHONY: help book test test-lib test-notebooks test-site outputs bench reproducibility repro-threads-1 repro-threads-2 repro-avx2 repro-baseline serve clean distclean

help:
	@sed -n '2,9p' Makefile

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

book: $(STAMP)
	$(JB)
	@echo "The site is in _build/html/index.html (open it, or run 'make serve')."

test: test-lib test-notebooks test-site

test-lib: $(STAMP)
	$(BIN)/python -m pytest tests -m "not site"

test-notebooks: $(STAMP)
	$(NBVAL) book

test-site: book
	$(BIN)/python -m pytest tests -m site

outputs: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(NB)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

# nbval against the same stored outputs on other machines' code paths, emulated here
# (BOOK_SPEC 9): 1 and 2 threads; the AVX2 kernels of a common laptop or Binder node; the
# baseline kernels with MKL's reproducible mode.
reproducibility: repro-threads-1 repro-threads-2 repro-avx2 repro-baseline

repro-threads-1: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(NBVAL) book

repro-threads-2: $(STAMP)
	OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 $(NBVAL) book

repro-avx2: $(STAMP)
	ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 $(NBVAL) book

repro-baseline: $(STAMP)
	ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE $(NBVAL) book

serve: book
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
