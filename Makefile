# make demo / make test: each creates .venv with Python >= 3.12 when missing and installs what it needs.
PYTHON ?= $(shell sh scripts/find-python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# LeRobot plugins (plugins/): LeRobot finds them by distribution name, installed beside act-tool.
PLUGINS := plugins/lerobot_policy_act_tool plugins/lerobot_camera_act_tool \
           plugins/lerobot_robot_act_tool_twin plugins/lerobot_env_act_tool_twin
DEMO_DIR ?= demo-out

# Core-only venvs (no torch, no LeRobot) on the robot computers' Pythons, for the tests in
# tests/scenarios/test_core_pythons.py; a Python that is not on this machine is skipped (the
# tests say so).
CORE_PYTHONS ?= 3.10 3.13
CORE_STAMPS := $(foreach v,$(CORE_PYTHONS),.venv-core-$(v)/.installed)

TWIN_DIR ?= twin-policy
.PHONY: demo test lint format clean core-venvs twin-policy docs

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[export,rtx,bench,dev,sim,display,openvino,docs]'
	$(BIN)/python -m pip install --quiet --no-deps $(addprefix -e ,$(PLUGINS))
	@touch $(STAMP)

.venv-core-%/.installed: pyproject.toml
	@py=$$(sh scripts/find-python-version.sh $*) || { echo "core venv $*: skipped (no Python $* here)"; exit 0; }; \
	set -e; test -x .venv-core-$*/bin/python || $$py -m venv .venv-core-$*; \
	.venv-core-$*/bin/python -m pip install --quiet --upgrade pip; \
	.venv-core-$*/bin/python -m pip install --quiet -e .; \
	touch $@

core-venvs: $(CORE_STAMPS)

test: $(STAMP) core-venvs
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --output $(DEMO_DIR)

# From nothing to a twin policy that does the task, on a CPU (resumable: run it again).
twin-policy: $(STAMP)
	$(BIN)/python scripts/twin_policy.py --output $(TWIN_DIR)

# The documentation site, built with strict link checking into site/ (`mkdocs serve` to browse).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict -d site

lint: $(STAMP)
	$(BIN)/ruff check act_tool tests benchmarks scripts plugins
	$(BIN)/ruff format --check act_tool tests benchmarks scripts plugins

format: $(STAMP)
	$(BIN)/ruff format act_tool tests benchmarks scripts plugins
	$(BIN)/ruff check --fix act_tool tests benchmarks scripts plugins

clean:
	rm -rf $(VENV) .venv-core-* $(DEMO_DIR) $(TWIN_DIR) site .pytest_cache .ruff_cache
