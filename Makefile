# Two commands: `make run` starts everything on the embedded replay feed; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FEED ?= local

# bash: bench tees each benchmark through process substitution
SHELL := /bin/bash

.PHONY: install run run-cluster postgresql test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -e '.[dev]'
	$(PY) -m vectra_pipeline.index.onnx_embedder --export  # the ONNX model, once (~5 s), cached outside the data root
	touch $(STAMP)

install: $(STAMP)

# Feed (local replay of bundled recordings, or FEED=live), capture daemon and Dagster UI on
# 127.0.0.1; Ctrl-C stops all of them.
run: install
	$(VENV)/bin/vectra up --feed $(FEED) --dagster-home $(CURDIR)/dagster_home --workspace workspace.yaml \
		--recordings tests/fixtures/raw/websocket_raw_samples.jsonl --recordings tests/fixtures/legacy/rugs_recordings

# The same pipeline on a local cluster (deploy/): PostgreSQL, a Dask scheduler and two workers, a moto S3
# server, the Dagster daemon and UI, on 127.0.0.1; Ctrl-C stops all. DATA_DIR is the one data-root switch:
# s3://vectra/data by default (in the moto server this starts, seeded with the bundled legacy recordings:
# moto keeps nothing between starts), or a folder (DATA_DIR=$(CURDIR)/.cluster/data).
CLUSTER_STATE ?= $(CURDIR)/.cluster
DATA_DIR ?= s3://vectra/data
CLUSTER_ARGS ?=  # e.g. --ui-port 3001 --workers 4 (see `vectra cluster up --help`)
run-cluster: install postgresql
	$(VENV)/bin/vectra cluster up --state-dir $(CLUSTER_STATE) --deploy-dir $(CURDIR)/deploy --data-dir $(DATA_DIR) \
		--seed tests/fixtures/legacy/rugs_recordings $(CLUSTER_ARGS)

# PostgreSQL's server binaries (the cluster and its tests): installed here when missing and we are root.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
		apt-get update && apt-get install -y --no-install-recommends postgresql \
		|| echo "make: could not install postgresql; the cluster tests will be skipped"; \
		else echo "make: PostgreSQL is missing; install it with 'sudo apt-get install -y postgresql' (the cluster tests are skipped until then)"; fi; }

lint: install
	$(VENV)/bin/ruff check .

# The browser-capture tests run a real headless Chromium: installed here when missing and we are root.
test: install lint postgresql
	@command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium \
		|| echo "make test: could not install chromium; the browser tests will be skipped"; \
		else echo "make test: chromium is missing; install it with 'sudo apt-get install -y chromium' (the browser tests are skipped until then)"; fi; }
	$(VENV)/bin/dg check defs
	$(VENV)/bin/dagster definitions validate -w workspace.yaml
	VECTRA_EXECUTOR=dask DAGSTER_DASK_ADDRESS=tcp://127.0.0.1:8786 $(VENV)/bin/dagster definitions validate -w deploy/workspace.yaml
	$(PY) -m pytest -q

# Benchmarks print JSON with ratios against a baseline measured in the same run (see README), at the
# sizes the README's table states (a full synthetic day, 100k rows with IVF_PQ). The whole run is kept
# in bench/results/<UTC time>.log (stdout; progress goes to the terminal); the README quotes one.
BENCHES := capture.py legacy.py derive.py index.py dagster_run.py cdp.py explorer.py mcp.py scale.py
bench: install postgresql
	@mkdir -p bench/results
	@log=bench/results/$$(date -u +%Y%m%dT%H%MZ).log; \
	echo "# make bench $$(date -u +%FT%TZ) on $$(nproc) cores, load $$(cut -d' ' -f1-3 /proc/loadavg), commit $$(git rev-parse --short HEAD 2>/dev/null)" | tee $$log; \
	for b in $(BENCHES); do \
		echo "## bench/$$b (started $$(date -u +%T), load $$(cut -d' ' -f1 /proc/loadavg))" | tee -a $$log; \
		$(PY) bench/$$b > >(tee -a $$log) || { echo "bench/$$b failed" | tee -a $$log; exit 1; }; \
	done; echo "make bench: all figures in $$log"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cluster
