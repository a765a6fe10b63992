# The two commands: `make run` and `make test`. Nothing but Python 3.11+, git and make needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup lint format clean

run: $(STAMP)
	$(BIN)/python -m msp_program.launcher run

test: $(STAMP)
	$(BIN)/python -m msp_program.launcher test $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf .data
