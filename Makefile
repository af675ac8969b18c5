# The two commands of a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test soak install system-deps lint bench clean lab

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Editable install with the test extras; re-run whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian packages the integration tests use: real Prometheus (+ promtool) and
# VictoriaMetrics, Chromium, Debian's kubectl and openssl, and the fault lab's dnsmasq,
# nginx, iptables, nftables and node_exporter (scripts/install-system-deps.sh).
system-deps:
	scripts/install-system-deps.sh

demo: install
	$(BIN)/rca demo

test: system-deps install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The fault lab at full length (root): every scenario, then the lab_full tests.
lab: system-deps install
	$(BIN)/rca lab all
	$(BIN)/python -m pytest -m lab_full

# Long fuzz of every reader: >= 1e6 mutated lines per format, and >= 50 SIGKILLs during
# real collections (make test runs a short fuzz and 4 kills).
soak: install
	$(BIN)/python -m tests.collectors.fuzz --lines $(or $(SOAK_LINES),1000000)
	RCA_KILLS=$(or $(SOAK_KILLS),50) $(BIN)/python -m pytest -s -q \
		tests/rca/store/test_recovery.py -k killed_at

lint: install
	$(BIN)/ruff check .

bench: system-deps install
	$(BIN)/python bench/bench_collect.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_analyze.py
	$(BIN)/python bench/bench_live.py

clean:
	rm -rf build rca-data reports/*.html .pytest_cache
