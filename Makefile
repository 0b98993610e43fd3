# retrainlab — `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KERNEL := retrainlab
REPORTS := reports

# QUICK=1: a small, fast version of the whole pipeline (same code, fewer/smaller markets),
# written to reports/quick/ so it never overwrites the default run's committed report.
ifeq ($(QUICK),1)
REPORTS     := reports/quick
SEEDS       ?= 6
N_DAYS      ?= 500
N_TICKERS   ?= 5
AUDIT_SEEDS ?= 8
SENS_SEEDS  ?= 3
REAL_EQ     ?= -p panel_tickers 5 -p panel_days 2016 -p real_days 1000 -p n_resamples 200
CONFIRM_SEEDS ?= 6
FACT_PANEL  ?= -p panel_tickers 5 -p panel_days 2016
else
SEEDS       ?= 50
N_DAYS      ?= 1000
N_TICKERS   ?= 10
AUDIT_SEEDS ?= 50
SENS_SEEDS  ?= 20
REAL_EQ     ?=
CONFIRM_SEEDS ?= 100
FACT_PANEL  ?=
endif
# The six fixes, as in retrainlab.FIXES (a test checks they agree).
FIXES := profit_weighted_loss feedback_loop adaptive_thresholds regime_awareness long_lookback confidence_sizing
STUDY   := -p seeds $(SEEDS) -p n_days $(N_DAYS) -p n_tickers $(N_TICKERS) -p data_dir ../data
RESULTS := -p results_dir ../$(REPORTS)/results
# papermill writes the executed copy, then its timings (and anything else that changes on every
# run) move to the ignored run log: both in one process (run-notebook); `time` prints the step's
# wall time
RUNLOG := $(REPORTS)/run_log.json
RUN = @mkdir -p $(@D) $(REPORTS)/results; TIMEFORMAT="[time] $(@F): %1R s"; \
  time $(BIN)/python -m retrainlab run-notebook --run-log $(RUNLOG) -- \
  --kernel $(KERNEL) --cwd notebooks --progress-bar
# a local QUICK run's appendix shows the run log; the committed default report never does
ifeq ($(QUICK),1)
REPORT_RUNLOG := -p run_log ../$(RUNLOG)
endif
LAB_ARGS ?=

.PHONY: help setup setup-lstm study-models test report lab bench soak lint strip clean lock compare

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

# Where ruff looks (lint, format); `make test` fails on any finding, `make lint` fixes them.
LINTED := lib tests notebooks

setup-lstm: $(STAMP) ## also install the optional LSTM extra (keras + jax, ~440 MB) from requirements-lstm.lock
	$(BIN)/python -m pip install --quiet -r requirements-lstm.lock

# Notebook runs are shared by all workers (tests/conftest.py) and collected first; a chunk of
# one keeps the scheduling dynamic, so the notebooks spread over both workers. The checkout's own
# temporary folder: pytest prunes old runs under the shared /tmp/pytest-of-<user>, which would pull
# the folders from under a run of another checkout on the same machine.
test: $(STAMP) ## lint and format check, then the test suite (unit, property, notebook runs)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python -m pytest -q -n 2 --dist load --maxschedchunk 1 --basetemp=.pytest-tmp

lint: $(STAMP) ## format with ruff and apply ruff's safe fixes (lib, tests, notebooks)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

strip: $(STAMP) ## strip outputs from the committed notebooks
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

lab: $(STAMP) ## JupyterLab on notebooks/ (also as root); options via LAB_ARGS="--no-browser --port 8899"
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: $(STAMP) ## benchmark the walk-forward hot path and print the figures
	$(BIN)/python -m retrainlab bench

soak: $(STAMP) ## the facade's multi-process soak for SOAK_SECONDS (default 60; make test runs 2)
	RETRAINLAB_SOAK_SECONDS=$(or $(SOAK_SECONDS),60) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/test_live_soak.py

# One shell line per step: make runs each recipe line in its own shell, so a `{ ...; }` group
# cannot span lines. Sorted case-insensitively (as committed): a new pin is one line to merge.
LOCK_HEADER := \
  "\# Exact pins of everything installed (pip freeze of a venv built from requirements.in, Python 3.11)." \
  "\# Regenerate with \`make lock\`; then \`make setup\` installs them."
lock: ## regenerate requirements.lock from requirements.in (needs the package index)
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --upgrade pip
	.lockvenv/bin/python -m pip install --quiet --upgrade -r requirements.in  # --upgrade: also the venv's own setuptools
	printf '%s\n' $(LOCK_HEADER) > requirements.lock.tmp
	.lockvenv/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip==' | LC_ALL=C sort -f >> requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock
	rm -rf .lockvenv
	@echo "lock: requirements.lock rewritten; review with: git diff requirements.lock"

# ---------------------------------------------------------------- the report pipeline
# Each step is a file target: it reruns only when its notebook, the package, the environment
# (a new .venv: a fresh clone or new pins) or its inputs change. Walk-forward runs are also cached (.cache/joblib), so OLD and NEW are computed once.
LIBSRC := $(shell find lib/retrainlab -name '*.py' -o -name '*.json' -o -name '*.j2' 2>/dev/null)
ABLATIONS := $(foreach fix,$(FIXES),$(REPORTS)/ablations/02_ablation_$(fix).ipynb)

$(REPORTS)/00_replication.ipynb: notebooks/00_replication.ipynb $(LIBSRC) $(STAMP)
	$(RUN) $< $@ -p n_seeds_audit $(AUDIT_SEEDS) $(RESULTS)

$(REPORTS)/01_generate_data.ipynb: notebooks/01_generate_data.ipynb $(LIBSRC) $(STAMP)
	$(RUN) $< $@ $(STUDY) $(RESULTS)

# After the factorial (order only): it files every configuration's run on the study's markets in
# the run cache (experiments.remember_runs), so the ablations and 03 load their runs from it.
$(REPORTS)/ablations/02_ablation_%.ipynb: notebooks/02_ablation.ipynb $(REPORTS)/01_generate_data.ipynb $(LIBSRC) | $(STAMP) $(REPORTS)/06_factorial.ipynb
	$(RUN) $< $@ -p fix $* $(STUDY) $(RESULTS)

$(REPORTS)/03_final_comparison.ipynb: notebooks/03_final_comparison.ipynb $(ABLATIONS) | $(STAMP)
	$(RUN) $< $@ $(STUDY) $(RESULTS)

$(REPORTS)/04_real_equities.ipynb: notebooks/04_real_equities.ipynb $(LIBSRC) $(STAMP)
	$(RUN) $< $@ $(REAL_EQ) $(RESULTS)

$(REPORTS)/05_sensitivity.ipynb: notebooks/05_sensitivity.ipynb $(ABLATIONS) | $(STAMP)
	$(RUN) $< $@ -p seeds $(SENS_SEEDS) -p placebo_seeds $(SENS_SEEDS) -p n_days $(N_DAYS) -p n_tickers $(N_TICKERS) -p data_dir ../data $(RESULTS)

# the factorial: all 64 subsets; selection markets = the study's seeds, then CONFIRM_SEEDS fresh ones,
# then the real panel's blocks (default: 8 blocks of about four years x 20 tickers; QUICK: 2 x 5)
$(REPORTS)/06_factorial.ipynb: notebooks/06_factorial.ipynb $(REPORTS)/01_generate_data.ipynb $(LIBSRC) | $(STAMP)
	$(RUN) $< $@ $(STUDY) -p confirmation_seeds $(CONFIRM_SEEDS) $(FACT_PANEL) $(RESULTS)

# the report also reads the model study's results when present (make study-models writes them)
$(REPORTS)/10_enhancement_report.ipynb: notebooks/10_enhancement_report.ipynb $(REPORTS)/00_replication.ipynb $(REPORTS)/03_final_comparison.ipynb $(REPORTS)/04_real_equities.ipynb $(REPORTS)/05_sensitivity.ipynb $(REPORTS)/06_factorial.ipynb $(wildcard $(REPORTS)/results/model_study.json) $(LIBSRC) | $(STAMP)
	$(RUN) $< $@ $(RESULTS) $(REPORT_RUNLOG)

$(REPORTS)/enhancement_report.html: $(REPORTS)/10_enhancement_report.ipynb
	$(BIN)/python -m retrainlab render-report $< --out-dir $(REPORTS)

# Two notebooks at a time where the order above allows it (JOBS=1: one at a time). A notebook's
# sweeps use both cores, but its start-up (kernel, imports, figures, the run log) is one process,
# which leaves a core idle; the results do not depend on the order (each run is a pure function
# of its inputs).
JOBS ?= 2
report: $(STAMP) ## run the notebooks and render reports/enhancement_report.{html,md}
	@$(MAKE) --no-print-directory -j$(JOBS) $(REPORTS)/enhancement_report.html
	@echo "report: $(REPORTS)/enhancement_report.html and $(REPORTS)/enhancement_report.md"
	@$(BIN)/python -m retrainlab compare-results $(REPORTS)/results --keep-committed

compare: $(STAMP) ## compare reports/results with the committed results files
	@$(BIN)/python -m retrainlab compare-results $(REPORTS)/results

# ---------------------------------------------------------------- the model-class study (not in `make report`)
# Sizes of the committed run (docs/models.md says why); override e.g. MODEL_STUDY_SEEDS=20.
MODEL_STUDY_SEEDS ?= 12
MODEL_STUDY_DAYS ?= 500
MODEL_STUDY_TICKERS ?= 10
MODEL_STUDY_PANEL_TICKERS ?= 10
MODEL_STUDY_PANEL_DAYS ?= 5040
MODEL_STUDY_BLOCK_DAYS ?= 504
study-models: $(STAMP) ## the model-class study (07_model_study; lstm needs make setup-lstm): reports/results/model_study.json
	$(RUN) notebooks/07_model_study.ipynb $(REPORTS)/07_model_study.ipynb -p seeds $(MODEL_STUDY_SEEDS) \
	  -p n_days $(MODEL_STUDY_DAYS) -p n_tickers $(MODEL_STUDY_TICKERS) \
	  -p panel_tickers $(MODEL_STUDY_PANEL_TICKERS) -p panel_days $(MODEL_STUDY_PANEL_DAYS) \
	  -p block_days $(MODEL_STUDY_BLOCK_DAYS) -p data_dir ../data $(RESULTS)

clean: ## remove generated output (executed notebooks, results, data, caches); never the pins
	rm -rf reports/*.ipynb reports/ablations reports/results reports/enhancement_report* reports/run_log.json* \
	  reports/quick data .cache .pytest_cache .pytest-tmp .ruff_cache .hypothesis
	find . -name __pycache__ -prune -not -path './.venv/*' -exec rm -rf {} +
