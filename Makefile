PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest clean histories bench chaos

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/capa dev

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy .

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache

# Record the histories of the workflow tests for tests/replay, in a folder of the session (older recordings stay:
# records in flight started under earlier code must keep replaying).
# Also records the commutation histories, in a folder of their own (tests/replay/histories/commutation: steps sharing a task with
# activity results, the record's start, an alarm, a second step), which the replay suite splits both ways.
histories: install
	CAPA_RECORD_HISTORIES=1 $(BIN)/pytest tests/workflows tests/notifications tests/digest tests/audit tests/calendars -q
	$(BIN)/python -m tests.replay.commute

# Throughput, latency, scale and timer precision against a bare skeleton workflow; prints tables (docs/benchmarks.md).
# Its own dependencies are the bench extra (pyproject.toml), which the dev extra `install` sets up includes.
bench: install
	$(BIN)/python -m bench $(ARGS)

# Hundreds of lifecycles while the worker is killed and the server and database go away; prints what survived.
chaos: install
	$(BIN)/python -m chaos $(ARGS)
