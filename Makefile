# The two commands of a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install system-deps lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Editable install with the test extras; re-run whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Debian packages the integration tests use: a real Prometheus (+ promtool) and Chromium.
system-deps:
	scripts/install-system-deps.sh

demo: install
	$(BIN)/rca demo

test: system-deps install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/bench_collect.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_analyze.py

clean:
	rm -rf build rca-data reports/*.html .pytest_cache
