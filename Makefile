# The two quick-start commands: `make run` and `make test`.
# Both create .venv from the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SYNDIC_PORT ?= 8000

.PHONY: run test check lint bench clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "syndic needs Python 3.11 or newer ($(PYTHON) is older)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

run: $(STAMP)
	$(BIN)/syndic serve --sandbox --host 127.0.0.1 --port $(SYNDIC_PORT)

lint: $(STAMP)
	$(BIN)/ruff format --check syndic tests bench
	$(BIN)/ruff check syndic tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

check: test

bench: $(STAMP)
	$(BIN)/python bench/dispatch.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
