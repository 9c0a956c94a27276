# The README's two commands are `make book` and `make test`; both create the environment when it is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.densepred-installed
PROFILE ?= cpu

.PHONY: setup book test unit nbval book-html reference shrink shrink-paper clean

# The environment: a venv with densepred installed editable, torch pinned by constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "densepred needs Python >= 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PIP_NO_CACHE_DIR=1 $(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (densepred)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

# Main job: run every notebook whose executed copy under book/ is missing or stale, then build the HTML.
book: $(STAMP)
	$(BIN)/densepred book build --profile $(PROFILE)

# Tests: unit tests, nbval over the source notebooks (smoke outputs), then the book with warnings as errors and
# a check that every local link of the built HTML (files and anchors, scorecard rows to claims) resolves.
test: $(STAMP) unit nbval book-html

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

nbval: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/

book-html: $(STAMP)
	$(BIN)/densepred book build --profile $(PROFILE) --no-run -W
	$(BIN)/python -m densepred.linkcheck book/_build/html

# The gpu code path of the rebuilt chapters at --shrink sizes, on fixtures written in the official layouts (CI).
# One chapter at a time (two threads each), each in a run cache of its own that is deleted when the chapter is done:
# the gpu architectures (HRNetV2-W48, ResNeXt-101, ...) make one chapter's cache 0.6-3.2 GB, and all five chapters in
# one cache reached 9.4 GB and filled CI's disk (stop 25). The disk a shrink run needs is now its largest chapter's.
SHRINK_PAPERS ?= affinity-regression masksup spatial-lifting depth-pretraining soft-labels
shrink: $(STAMP)
	rm -rf outputs/fixtures outputs/shrink-caches && $(BIN)/densepred data fixtures outputs/fixtures
	for p in $(SHRINK_PAPERS); do $(MAKE) --no-print-directory shrink-paper PAPER=$$p || fail="$$fail $$p"; done; \
	if [ -n "$$fail" ]; then echo "make shrink: failed in$$fail (logs under outputs/gpu-shrink/logs/)"; exit 1; fi

# One chapter of `make shrink`: PAPER=<slug> (writes the fixtures when they are missing).
shrink-paper: $(STAMP)
	@test -n "$(PAPER)" || { echo "shrink-paper needs PAPER=<chapter slug>, e.g. PAPER=masksup"; exit 2; }
	test -d outputs/fixtures || $(BIN)/densepred data fixtures outputs/fixtures
	mkdir -p outputs/shrink-caches && cache=$$(mktemp -d $(CURDIR)/outputs/shrink-caches/$(PAPER).XXXX) && \
	DENSEPRED_CACHE=$$cache DENSEPRED_DATA=$(CURDIR)/outputs/fixtures OMP_NUM_THREADS=2 \
		$(BIN)/densepred book build --profile gpu --shrink --paper $(PAPER) --no-html --force; \
	rc=$$?; du -sh $$cache; rm -rf $$cache; exit $$rc

# Refresh the committed smoke outputs of the source notebooks (the nbval reference).
reference: $(STAMP)
	$(BIN)/densepred nbref notebooks/*/*.ipynb

clean:
	rm -rf book/_build
