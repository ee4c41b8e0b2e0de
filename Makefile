# deskroute: `make demo` runs the main job on embedded defaults; `make test` lints and runs the tests.
PYTHON ?= python3
VENV ?= .venv
# torch is installed first, pinned, so that pip does not pull a CUDA build with several GB of packages.
# Point TORCH_INDEX_URL at a CPU-only wheel index where the default index has no CPU build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
DEMO_DIR ?= demo-out

BIN := $(VENV)/bin
TORCH_INDEX_ARG := $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL),)

.PHONY: install demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX_ARG) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/deskroute demo --out $(DEMO_DIR)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(DEMO_DIR) .deskroute .mypy_cache .ruff_cache .pytest_cache
