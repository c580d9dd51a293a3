# Two commands for a new user: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
DEMO_DB ?= data/demo.db

.PHONY: setup demo demo-build test lint bench chromium clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@# Keep a torch that is already importable (for example a CUDA build); otherwise take the CPU wheel.
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo-build: setup
	$(BIN)/analyzer demo --db $(DEMO_DB) --no-serve

demo: demo-build
	$(BIN)/analyzer app --db $(DEMO_DB) --port $(PORT)

test: setup chromium
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check analyzer tests app.py app_pages benchmarks corpora
	$(BIN)/ruff format --check analyzer tests app.py app_pages benchmarks corpora

bench: setup
	$(BIN)/python benchmarks/bench_scoring.py

# The browser test needs Debian's chromium; install it when possible, otherwise that test skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  ( (command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	     (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) \
	    || echo "chromium not installed: the browser test will skip" )

clean:
	rm -rf $(VENV) build *.egg-info
