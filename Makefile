# Two commands for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test synth bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cdk,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/imgpipe process samples/ladybird.jpg --out out/demo

test: install
	$(BIN)/python -m pytest

serve: install
	$(BIN)/imgpipe serve

synth: install
	$(BIN)/python app.py --bundle

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf cdk.out build out .pytest_cache
