# Set-up contract: `make demo` and `make test` work on a fresh clone; each installs what it needs.
SHELL := /bin/bash
PY ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-hub
DEMO_DB ?= sqlite:///demo.db

.PHONY: install install-dev browser demo test lint typecheck pytest bench clean

$(UV):
	$(PY) -m venv .tools && .tools/bin/pip install --quiet uv

# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (as
# here, and in many container images) Python would otherwise recompile every
# module in every process (the CLI, each test subprocess, each scan worker),
# about three seconds each. The package itself is an editable install, so its
# own sources are compiled too; a stale .pyc is ignored, never trusted.
install: $(UV)
	$(UV) sync --frozen --no-dev --all-extras --compile-bytecode
	$(BIN)/python -m compileall -q src >/dev/null

install-dev: $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode
	$(BIN)/python -m compileall -q src >/dev/null

# Debian's chromium for the browser tests; Playwright drives it, no browser download.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	rm -rf $(DEMO_DIR) demo.db
	$(BIN)/likenessguard demo-hub $(DEMO_DIR)
	$(BIN)/likenessguard demo --hub $(DEMO_DIR) --db $(DEMO_DB)

lint: install-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev browser
	$(BIN)/pytest -n 2 --dist loadgroup

test: lint typecheck pytest

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .tools $(DEMO_DIR) demo.db .pytest_cache .mypy_cache .ruff_cache
