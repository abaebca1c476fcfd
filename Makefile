# The series' two everyday commands are `make lab` and `make test`; both set everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11 is what the pins are made for; take python3.11 when it exists.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra pip options, e.g. PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
# for a CPU-only torch build on Linux (see README).
PIP_EXTRA ?=
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
PYTEST := $(BIN)/python -m pytest

.PHONY: help setup lab check test test-unit test-notebooks test-browser execute lint bench clean

help:
	@echo "make lab      set up .venv if needed, then open the series in JupyterLab"
	@echo "              (as root, e.g. in a container, it adds --allow-root and says so)"
	@echo "make test     set up .venv if needed, then run every test (unit, notebooks, browser)"
	@echo "make check    the quick tier for authors: lint plus the fast unit tests (under a minute)"
	@echo "make execute  re-execute every notebook in a fresh kernel and store its outputs"
	@echo "make lint     ruff over helpers/, tests/, bench/ and the notebooks"
	@echo "make bench    measure runtime and VAE quality; writes docs/benchmarks.md"

# The venv is rebuilt only when pyproject.toml changed or the venv is missing or broken.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "No python3 found: install Python 3.11 first." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || \
	  { echo "Python 3.11 is required, found $$($(PYTHON) --version) at $(PYTHON)." \
	         "Install python3.11 or run: make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	@if ! $(BIN)/python -c 'import sys' >/dev/null 2>&1; then \
	  echo "Creating $(VENV) with $$($(PYTHON) --version)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_EXTRA) -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

# JupyterLab's defaults: loopback only, token on. JupyterLab refuses to start as root (common in
# containers and cloud VMs) unless given --allow-root; that flag changes nothing else, so the
# server still listens on localhost only and still asks for its token. tests/test_lab.py runs
# this very target and checks both.
LAB_ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ROOT_NOTE := Running as root (a container or cloud VM): adding --allow-root; JupyterLab still \
  listens on localhost only, with its token.

lab: setup
	$(if $(LAB_ALLOW_ROOT),@echo "$(LAB_ROOT_NOTE)")
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(LAB_ALLOW_ROOT)

test: test-unit test-notebooks test-browser

# The quick tier: lint, then the unit tests not marked `slow` (tests/test_bench.py's benchmark
# smoke runs and tests/test_lab.py's real JupyterLab server run only in `make test`).
check: lint
	$(PYTEST) tests --ignore=tests/browser -q -m "not slow"

test-unit: setup
	$(PYTEST) tests --ignore=tests/browser -q

# nbval waits only 5 s for a cell's output after the cell finishes, which a loaded machine can
# exceed; tests/nbval_patience.py (loaded from pyproject's addopts) adds --nbval-output-timeout.
# --nbval-cell-timeout still stops a hung cell (nbval's default is 2000 s).
test-notebooks: setup
	$(PYTEST) --nbval-lax --nbval-current-env --nbval-output-timeout=60 --nbval-cell-timeout=600 \
	  -q $(NOTEBOOKS)

test-browser: setup
	$(PYTEST) tests/browser -q -rs

execute: setup
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; start=$$(date +%s); \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=900 --ExecutePreprocessor.store_widget_state=False \
	    "$$nb" || exit 1; \
	  echo "  $$(( $$(date +%s) - start )) s"; \
	done

lint: setup
	$(BIN)/ruff check helpers tests $(wildcard bench) notebooks

# Extra options for the benchmarks, e.g. BENCH_ARGS="--only quality --budgets 30,60"
# (see python -m bench --help). Not a timed test: it measures and writes docs/benchmarks.md.
BENCH_ARGS ?=

bench: setup
	$(BIN)/python -m bench --out docs/benchmarks.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache test-artifacts
