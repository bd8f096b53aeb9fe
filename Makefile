# The book's commands. Every target creates .venv from requirements.txt on first use.
#   make book     build the site into _build/html (zero warnings allowed)
#   make test     everything CI runs: library tests, nbval over every notebook, PDF, site build
#                 (NB=book/<chapter>.ipynb: that chapter's tests, nbval and student notebook only)
#   make pdf      the whole book as one PDF in _build/ (needs TeX: README); `make book` links it
#   make book-pdf the site and the PDF built at the same time, the PDF in the site and linked
#   make outputs  re-execute notebooks in place (NB=book/x.ipynb for one) and record time/memory
#   make notebooks  the Jupyter-native edition (no MyST left: Jupyter, Colab) in _build/jupyter
#   make student  student notebooks (solutions removed, answers self-checked) in _build/student
#   make nbgrader the student kit as an nbgrader course (for instructors) in _build/nbgrader
#   make bench    budgets measured side by side
#   make reproducibility   nbval with 1 and 2 threads and on the AVX2 and baseline CPU paths
#   make serve    serve the built site on http://127.0.0.1:8000
#   make lock     pin every package of the environment anew (constraints.txt) from requirements.txt
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
# nbval on both cores: one notebook per worker (its cells share a kernel), one thread per kernel
# (the stored outputs are reproduced at one thread as at two), the longest notebooks first
# (tools/heaviest_first.py) so that the workers finish together.
WORKERS ?= 2
NBVAL_PAR := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(NBVAL) -n $(WORKERS) --dist loadfile \
	--no-loadscope-reorder -p tools.heaviest_first
# Each stage of `make test` timed; the table is printed at the end (tools/stage.py).
STAGE := $(PYTHON) -m tools.stage
JB := $(BIN)/jupyter-book build . -n -W --keep-going

.PHONY: colab-env notebooks lock help book pdf book-pdf test-pdf student nbgrader test-nbgrader test test-lib test-student test-notebooks test-site outputs bench reproducibility repro-threads-1 repro-threads-2 repro-avx2 repro-baseline serve clean distclean

help:
	@sed -n '2,/^[^#]/p' Makefile | grep '^#'

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

# constraints.txt anew from requirements.txt: a fresh environment, then every installed version.
lock:
	rm -rf _build/lock-venv && $(PYTHON) -m venv _build/lock-venv
	_build/lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	{ sed -n '1,3p' constraints.txt; _build/lock-venv/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^#' | sed 's/+cpu$$//'; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	rm -rf _build/lock-venv
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) packages pinned"

book: $(STAMP) student
	$(JB)
	@echo "The site is in _build/html/index.html (open it, or run 'make serve')."

# The book as one PDF: Jupyter Book's pdflatex builder (its LaTeX class runs XeLaTeX), in its
# own build directory so that it never shares Sphinx's cache with the site. The result goes to
# _build/<targetname of _config.yml>.pdf; the next `make book` copies it into the site and
# links it from the intro page (_ext/reglab_pdf.py).
PDF := _build/$(shell sed -n 's/^ *targetname: *\([^ ]*\)\.tex.*/\1/p' _config.yml).pdf
PDF_BUILD := _build/pdf
PDF_TOOLS := xelatex latexmk makeindex pdftotext pdfinfo pdfimages
TEX_PACKAGES := texlive-xetex texlive-latex-extra texlive-fonts-recommended fonts-freefont-otf latexmk poppler-utils
export LATEXOPTS ?= -interaction=nonstopmode -halt-on-error -file-line-error

pdf: $(STAMP)
	@for t in $(PDF_TOOLS); do command -v $$t >/dev/null || { echo "make pdf needs $$t:" \
	  "apt-get install --no-install-recommends $(TEX_PACKAGES)" >&2; exit 1; }; done
	@kpsewhich FreeSerif.otf >/dev/null || { echo "make pdf needs the FreeSerif font:" \
	  "apt-get install --no-install-recommends fonts-freefont-otf" >&2; exit 1; }
	@mkdir -p $(PDF_BUILD)
	@echo "Building the PDF (log: $(PDF_BUILD)/build.log) ..."
	@$(BIN)/jupyter-book build . --builder pdflatex -n -W --keep-going --path-output $(PDF_BUILD) \
	  >$(PDF_BUILD)/build.log 2>&1 || { tail -n 30 $(PDF_BUILD)/build.log; \
	  grep -h -A3 '^!\|^\./[^:]*:[0-9]*: ' $(PDF_BUILD)/_build/latex/*.log 2>/dev/null | head -n 20; exit 1; }
	@cp $(PDF_BUILD)/_build/latex/$(notdir $(PDF)) $(PDF)
	@echo "The PDF is $(PDF) ($$(pdfinfo $(PDF) | sed -n 's/^Pages: *//p') pages); 'make book' links it."

# The site and the PDF at the same time (each build is mostly single-threaded): the site's build
# links the PDF that is being built (REGLAB_PDF_PENDING, _ext/reglab_pdf.py), and the PDF goes
# into the site when both have succeeded. If the PDF's build fails, its log's tail is printed
# (make pdf) and the site is built again without the variable, so that it links no missing
# file (as `make book`: a PDF built before, if any). Without TeX: the site alone, as `make book`.
book-pdf: $(STAMP) student
	@missing=; for t in $(PDF_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "book-pdf: no$$missing on PATH, so the site without a new PDF"; \
	  $(JB) || exit 1; exit 0; fi; \
	$(MAKE) --no-print-directory pdf & pdf=$$!; \
	REGLAB_PDF_PENDING=1 $(JB); site=$$?; wait $$pdf; pdf=$$?; \
	if [ $$pdf != 0 ] && [ $$site = 0 ]; then \
	  echo "book-pdf: the PDF failed; the site again, without a link to it" >&2; $(JB) >/dev/null; fi; \
	[ $$site = 0 ] && [ $$pdf = 0 ] || exit 1; \
	cp $(PDF) _build/html/$(notdir $(PDF)); \
	echo "The site is in _build/html/index.html, with the PDF $(notdir $(PDF)) linked from its intro."

# `make test NB=book/<chapter>.ipynb` tests one chapter for its author: its library tests (and,
# of the book-wide tests run once per result, exercise or chapter, only its own: pytest
# --chapter), then at the same time, one thread each, its notebook under nbval and its student
# notebook (built from the Jupyter-native edition and run in the book's own environment with the
# solutions and with planted errors); the PDF and the site are left to the whole `make test`.
CHAPTER := $(basename $(notdir $(NB)))
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
ifeq ($(suffix $(NB)),.ipynb)
test: $(STAMP)
	@$(STAGE) start
	@$(STAGE) run lib-$(CHAPTER) -- $(BIN)/python -m pytest -q -p no:cacheprovider -n $(WORKERS) \
	  --chapter $(CHAPTER) $(wildcard tests/test_derivations_$(CHAPTER).py tests/test_experiments_$(CHAPTER).py) \
	  tests/test_ledger.py tests/test_exercises.py tests/test_book_structure.py tests/test_prose_numbers.py \
	  tests/test_architecture.py
	@mkdir -p _build && $(STAGE) run nbval-and-student-$(CHAPTER) -- bash -c '\
	  $(ONE_THREAD) $(NBVAL) $(NB) > _build/nbval-$(CHAPTER).log 2>&1 & nbval=$$!; \
	  $(MAKE) --no-print-directory student && $(ONE_THREAD) $(BIN)/python -m pytest tests/test_student.py \
	    -m student -k "$(CHAPTER) or raw_myst" -q -p no:cacheprovider; student=$$?; \
	  wait $$nbval; nbval=$$?; echo "--- nbval $(NB) (_build/nbval-$(CHAPTER).log):"; \
	  tail -n 40 _build/nbval-$(CHAPTER).log; [ $$nbval = 0 ] && [ $$student = 0 ]'
	@$(STAGE) report
else
test: $(STAMP)
	@[ -n "$$REGLAB_STAGES_KEEP" ] || $(STAGE) start
	@$(STAGE) run test-lib -- $(MAKE) --no-print-directory test-lib
	@# nbval on two workers and, beside it, the Jupyter-native, student and nbgrader editions built
	@# (Sphinx, mostly one core) for the stages after it.
	@$(STAGE) run test-notebooks -- $(MAKE) --no-print-directory -j2 --output-sync=target test-notebooks nbgrader
	@$(STAGE) run install-colab-env -- $(MAKE) --no-print-directory $(COLAB)/.installed
	@$(STAGE) run install-nbgrader-env -- $(MAKE) --no-print-directory $(NBGRADER_ENV)/.installed
	@$(STAGE) run test-student -- $(MAKE) --no-print-directory test-student STUDENT_RUNS=0
	@$(STAGE) run test-nbgrader -- $(MAKE) --no-print-directory test-nbgrader
	@$(STAGE) run build-site-pdf -- $(MAKE) --no-print-directory book-pdf
	@$(STAGE) run test-pdf -- $(MAKE) --no-print-directory test-pdf BUILT=1
	@$(STAGE) run test-site -- $(MAKE) --no-print-directory test-site BUILT=1
	@$(STAGE) report
endif

test-lib: $(STAMP)
	$(BIN)/python -m pytest tests -m "not site and not pdf and not student and not nbgrader" -n $(WORKERS)
	$(BIN)/python -m pytest --doctest-modules lib/reglab -p no:cacheprovider -q

# Every student notebook run with the book's solutions filled in (all checks "correct") and
# with planted wrong answers (all "not yet"), in a Colab-like environment: a fresh venv with
# only a kernel, where each notebook's install cell has installed reglab (from this checkout)
# and what it declares, and nothing of the book's build stack. A student notebook with the
# solutions filled in holds every code cell of its Jupyter-native chapter, so this one run
# executes both editions. Both editions are scanned for raw MyST first.
COLAB := _build/colab
# In the whole `make test` the chapters' execution is left to test-nbgrader, which runs the same
# notebooks in the same kernel once each, with the reference answers, with right, wrong and
# untouched answers, or untouched, in turn over the chapters: STUDENT_RUNS=0 deselects it here
# (`make test-student` alone runs every reference answer and planted error in its chapter).
STUDENT_RUNS ?= 1
test-student: $(STAMP) notebooks student $(COLAB)/.installed
	JUPYTER_PATH="$(CURDIR)/$(COLAB)/jupyter/share/jupyter" REGLAB_KERNEL=reglab-colab $(BIN)/python -m pytest tests -m student -n $(WORKERS) --dist loadfile -p no:cacheprovider \
	  $(if $(filter 0,$(STUDENT_RUNS)),-k "not self_checks_accept_the_solutions")

# The course nbgrader grades: the student kit with solution regions, graded checks and manually
# graded written answers (tools/make_nbgrader.py), then graded by nbgrader itself: every chapter
# released and one submission autograded in the Colab-like kernel, the three of BOOK_SPEC 12 in
# turn over the chapters (the reference answers: full marks; right, wrong and untouched answers:
# partial marks; the untouched release: none). Chapters in even places run on the AVX2 code path,
# the others on the baseline path, and every chapter cell's outputs are held against the stored
# ones (tools/stored_outputs.py): each chapter is executed once, and that execution is also one
# of the other CPU paths of BOOK_SPEC 9 (make reproducibility: both, for every notebook).
# nbgrader pins JupyterLab and Notebook: it lives in a venv of its own, never in the book's.
NBGRADER_ENV := _build/nbgrader-env
_build/nbgrader/.built: _build/jupyter/.built tools/make_nbgrader.py tools/make_student.py $(wildcard lib/reglab/exercises/*.py)
	$(BIN)/python -m tools.make_nbgrader
	touch $@
nbgrader: _build/nbgrader/.built
$(NBGRADER_ENV)/.installed:
	rm -rf $(NBGRADER_ENV) && $(PYTHON) -m venv $(NBGRADER_ENV)
	$(NBGRADER_ENV)/bin/python -m pip install --quiet --disable-pip-version-check nbgrader==0.9.6
	touch $@
test-nbgrader: $(STAMP) nbgrader $(NBGRADER_ENV)/.installed $(COLAB)/.installed
	JUPYTER_PATH="$(CURDIR)/$(COLAB)/jupyter/share/jupyter" REGLAB_KERNEL=reglab-colab \
	  REGLAB_NBGRADER_ENV="$(CURDIR)/$(NBGRADER_ENV)" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest tests/test_nbgrader.py -m nbgrader -n $(WORKERS) -p no:cacheprovider -rA --durations=0

# Built once, and again when the library or its pins change (the environment holds a copy of
# reglab, installed as Colab installs it); `make colab-env` builds it anew.
colab-env:
	rm -f $(COLAB)/.installed && $(MAKE) --no-print-directory $(COLAB)/.installed
$(COLAB)/.installed: $(STAMP) pyproject.toml constraints.txt tools/new_chapter.py $(shell find lib -name '*.py' -not -path '*/__pycache__/*')
	rm -rf $(COLAB) && $(PYTHON) -m venv $(COLAB)/venv
	$(COLAB)/venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt ipykernel nbclient
	$(COLAB)/venv/bin/python -m ipykernel install --prefix $(COLAB)/jupyter --name reglab-colab \
	  --display-name "reglab (Colab-like)" >/dev/null
	# The chapters' install cell, run as Colab runs it; REGLAB_INSTALL_FROM points it at this
	# checkout, and the constraints keep pip to the tested versions (PyTorch's CPU build).
	$(BIN)/python -c "from tools.new_chapter import install_cell_source as s; print(s())" \
	  | REGLAB_INSTALL_FROM="file://$(CURDIR)" PIP_CONSTRAINT="$(CURDIR)/constraints.txt" \
	    PIP_DISABLE_PIP_VERSION_CHECK=1 $(COLAB)/venv/bin/python -
	$(COLAB)/venv/bin/python -c "import reglab, importlib.util as u; \
	  assert not any(u.find_spec(m) for m in ('myst_nb', 'sphinx', 'jupyter_book')), 'build stack present'; \
	  print('Colab-like environment ready:', reglab.__file__)"
	touch $@

test-notebooks: $(STAMP)
	$(NBVAL_PAR) book

# The PDF and its tests where TeX is installed; skipped with a message where it is not, unless
# REGLAB_REQUIRE_PDF=1 (CI). Alone it builds the PDF first and runs before test-site, whose site
# build then links the PDF; with BUILT=1 (make test, after book-pdf) both test what is built.
BUILT ?=
test-pdf: $(STAMP)
	@missing=; for t in $(PDF_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then $(if $(BUILT),,$(MAKE) --no-print-directory pdf &&) \
	  $(BIN)/python -m pytest tests -m "pdf and not site"; \
	elif [ "$$REGLAB_REQUIRE_PDF" = 1 ]; then echo "test-pdf: missing$$missing (REGLAB_REQUIRE_PDF=1)" >&2; exit 1; \
	else echo "test-pdf: SKIPPED, no$$missing on PATH (Debian: apt-get install" \
	  "--no-install-recommends $(TEX_PACKAGES))"; fi

test-site: $(STAMP) $(if $(BUILT),,book)
	$(BIN)/python -m pytest tests -m site

outputs: $(STAMP)
	$(BIN)/python -m tools.execute_notebooks $(NB)

# Both editions are rebuilt when what they are made from changes (stamps in their folders).
NATIVE_FROM := $(wildcard book/*.ipynb book/*.md book/references.bib _ext/*.py) _config.yml _toc.yml \
	tools/make_notebooks.py
_build/jupyter/.built: $(STAMP) $(NATIVE_FROM)
	$(BIN)/python -m tools.make_notebooks
	touch $@
_build/student/.built: _build/jupyter/.built tools/make_student.py $(wildcard lib/reglab/exercises/*.py)
	$(BIN)/python -m tools.make_student
	touch $@
notebooks: _build/jupyter/.built
student: _build/student/.built

bench: $(STAMP)
	$(BIN)/python -m tools.bench

# nbval against the same stored outputs on other machines' code paths, emulated here
# (BOOK_SPEC 9): 1 and 2 threads; the AVX2 kernels of a common laptop or Binder node; the
# baseline kernels with MKL's reproducible mode.
reproducibility: repro-threads-1 repro-threads-2 repro-avx2 repro-baseline

repro-threads-1: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(NBVAL) book

repro-threads-2: $(STAMP)
	OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 $(NBVAL) book

repro-avx2: $(STAMP)
	ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 $(NBVAL_PAR) book

repro-baseline: $(STAMP)
	ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE $(NBVAL_PAR) book

serve: book
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
