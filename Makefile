# make demo / make test: each creates .venv with Python >= 3.12 when missing and installs what it needs.
PYTHON ?= $(shell sh scripts/find-python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-out

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[export,rtx,bench,dev,sim,display]'
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --output $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check act_tool tests benchmarks scripts
	$(BIN)/ruff format --check act_tool tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff format act_tool tests benchmarks scripts
	$(BIN)/ruff check --fix act_tool tests benchmarks scripts

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
