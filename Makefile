# Two commands for a fresh machine: `make demo` and `make test` (see README).
#
# Environments come from uv.lock (uv sync --frozen): the demo gets only the runtime dependencies,
# the test and deploy targets add the CDK toolchain and the development tools.  uv itself is
# bootstrapped into .tools/ with pip when it is not on PATH.
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# Another activated virtualenv (VIRTUAL_ENV) would make uv warn that it ignores it: this is the project's.
UV_SYNC := env -u VIRTUAL_ENV UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --python $(PYTHON)
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: install install-runtime demo test test-fast test-local test-infra test-browser lint format lock \
        serve synth bench load clean

.tools/bin/uv:
	@echo "bootstrapping uv $(UV_VERSION) into .tools/"
	@$(PYTHON) -m venv .tools
	@PIP_CONFIG_FILE=/dev/null .tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Runtime only (what `make demo` and `imgpipe serve` need).  --inexact keeps dev tools if present.
$(RUNTIME_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV_SYNC) --inexact
	@touch $@

# Everything: CDK, linters, test tools.
$(DEV_STAMP): uv.lock pyproject.toml | $(UV)
	$(UV_SYNC) --all-extras
	@touch $@ $(RUNTIME_STAMP)

install-runtime: $(RUNTIME_STAMP)
install: $(DEV_STAMP)

demo: install-runtime
	$(BIN)/imgpipe process samples/ladybird.jpg --out out/demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every tier plus lint; the browser tier runs when Chromium is installed and says how to get it when not.
test: install lint
	$(PYTEST) -n 2 --dist loadgroup

test-fast: install
	$(PYTEST) -m unit -n 2

test-local: install
	$(PYTEST) -m local

test-infra: install
	$(PYTEST) -m infra

test-browser: install
	$(PYTEST) -m browser

lock:
	$(UV) lock

serve: install-runtime
	$(BIN)/imgpipe serve

synth: install
	$(BIN)/python app.py --bundle

bench: install
	$(BIN)/python -m bench

# The local stack under load and faults (loopback only, ~1,000 executions, at most 25 minutes):
# workers killed busy and idle, upload-url p95, memory per upload, history lookup (docs/performance.md).
load: install
	$(BIN)/python -m bench.load

clean:
	rm -rf cdk.out build out .pytest_cache .tools
