# retrainlab — `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := retrainlab
PM     := $(BIN)/papermill --kernel $(KERNEL) --cwd notebooks --progress-bar
REPORTS := reports

# QUICK=1: a small, fast version of the whole pipeline (same code, fewer seeds/days).
ifeq ($(QUICK),1)
REPLICATION_PARAMS := -p n_seeds_audit 8
else
REPLICATION_PARAMS :=
endif

.PHONY: help setup test report lab bench lint strip clean lock

help: ## print this list of targets
	@echo "retrainlab — make targets:"
	@grep -E '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  (QUICK=1 makes 'make report' a small fast run)"

setup: $(STAMP) ## create .venv from requirements.lock (no-op when up to date) and register the kernel

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (retrainlab)" >/dev/null
	@touch $@

test: $(STAMP) ## run the test suite (unit, property, notebook smoke runs)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP) ## ruff over lib, tests and notebooks
	$(BIN)/ruff check lib tests notebooks

strip: $(STAMP) ## strip outputs from the committed notebooks
	$(BIN)/nbstripout notebooks/*.ipynb

lab: $(STAMP) ## open JupyterLab on notebooks/ with the project's kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(STAMP) ## benchmark the walk-forward hot path and print the figures
	$(BIN)/python -m retrainlab bench

lock: ## regenerate requirements.lock from requirements.in (needs the package index)
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Exact pins of everything installed (pip freeze of a venv built from requirements.in, Python 3.11).";
	  echo "# Regenerate with \`make lock\`."; .lockvenv/bin/pip freeze --all --exclude-editable | grep -v "^pip=="; } > requirements.lock
	rm -rf .lockvenv

# ---------------------------------------------------------------- the report pipeline
# Each step is a file target: it reruns only when its notebook, the package or its inputs change.
LIBSRC := $(shell find lib/retrainlab -name '*.py' -o -name '*.json' -o -name '*.j2' 2>/dev/null)

$(REPORTS)/00_replication.ipynb: notebooks/00_replication.ipynb $(LIBSRC) | $(STAMP)
	@mkdir -p $(REPORTS)/results
	TIMEFORMAT="[time] $(@F): %1R s"; time $(PM) $< $@ $(REPLICATION_PARAMS) -p results_dir ../$(REPORTS)/results

$(REPORTS)/04_enhancement_report.ipynb: notebooks/04_enhancement_report.ipynb $(REPORTS)/00_replication.ipynb | $(STAMP)
	TIMEFORMAT="[time] $(@F): %1R s"; time $(PM) $< $@ -p results_dir ../$(REPORTS)/results

$(REPORTS)/enhancement_report.html: $(REPORTS)/04_enhancement_report.ipynb
	$(BIN)/python -m retrainlab render-report $< --out-dir $(REPORTS)

report: $(STAMP) $(REPORTS)/enhancement_report.html ## run the notebooks and render reports/enhancement_report.{html,md}
	@echo "report: $(REPORTS)/enhancement_report.html and $(REPORTS)/enhancement_report.md"

clean: ## remove generated output (executed notebooks, results, caches); never the pins
	rm -rf $(REPORTS)/*.ipynb $(REPORTS)/ablations $(REPORTS)/results $(REPORTS)/enhancement_report* \
	  $(REPORTS)/figures data .cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -prune -not -path './.venv/*' -exec rm -rf {} +
