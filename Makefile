# Bilingual Rasa assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# Environments live outside the project: `rasa test` scans the project folder for
# test stories and would otherwise walk through a virtual environment's files.
ENV_ROOT ?= $(HOME)/.cache/bilingual-assistant
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
RASA_ENV ?= $(ENV_ROOT)/rasa-$(REQ_HASH)
RASA_PY := $(RASA_ENV)/bin/python
RASA := $(RASA_ENV)/bin/rasa
STAMP := $(RASA_ENV)/.installed

export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)
export ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook

MODEL_INPUTS := config.yml domain.yml $(shell find data -type f 2>/dev/null)

.PHONY: FORCE help setup train shell run actions test test-fast lint typecheck validate rasa-test benchmark env-path clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt Makefile
	@echo "==> Creating the Rasa environment in $(RASA_ENV)"
	@$(PYTHON) -m venv $(RASA_ENV)
	@# Rasa 3.6.21 declares Python <3.11 but runs on 3.11: every package is pinned
	@# in requirements.txt and installed without the resolver.
	@$(RASA_PY) -m pip install --no-deps --ignore-requires-python \
		-r requirements.txt -r requirements-dev.txt > $(RASA_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(RASA_ENV)/pip.log | tail -30; exit 1; }
	@# Defaults for every Python process of this environment (`rasa` typed by hand
	@# included): no telemetry, no hub downloads, and Rasa's training cache outside
	@# the project, where `rasa test` would trip over its JSON files.
	@echo "import os; [os.environ.setdefault(k, v) for k, v in (('RASA_TELEMETRY_ENABLED', 'false'), ('HF_HUB_OFFLINE', '1'), ('TRANSFORMERS_OFFLINE', '1'), ('TF_CPP_MIN_LOG_LEVEL', '2'), ('SQLALCHEMY_SILENCE_UBER_WARNING', '1'), ('ACTION_SERVER_URL', 'http://127.0.0.1:5055/webhook'), ('RASA_CACHE_DIRECTORY', '$(ENV_ROOT)/training-cache'))]" \
		> $$($(RASA_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth
	@$(RASA_PY) -c "import rasa, torch, transformers, jieba" 2>/dev/null \
		|| { echo "The Rasa environment is broken; see the pip output above."; exit 1; }
	@touch $(STAMP)

setup: $(STAMP) ## Create the Python environment (once; again when requirements change)

env-path: ## Print the environment's folder
	@echo $(RASA_ENV)

models/.trained: $(MODEL_INPUTS) | $(STAMP)
	@echo "==> Training the model (about 2 minutes on 2 CPU cores)"
	@$(RASA) train --fixed-model-name current
	@touch $@

train: models/.trained ## Train the model if data or config changed

.run/credentials.yml: $(STAMP) credentials.yml FORCE
	@# Channels whose secrets are not set (Slack, Telegram) are left out.
	@$(RASA_PY) -m assistant.credentials credentials.yml $@

shell: setup train .run/credentials.yml ## Set up, train if needed, start the action server and talk in `rasa shell`
	@$(RASA) run actions --port 5055 > actions.log 2>&1 & echo $$! > .actions.pid; \
	trap 'kill $$(cat .actions.pid) 2>/dev/null; rm -f .actions.pid' EXIT; \
	$(RASA) shell --model models/current.tar.gz --credentials .run/credentials.yml

run: setup train .run/credentials.yml ## Serve the assistant: Rasa (REST, socket.io, Slack, Telegram) on :5005 and actions on :5055
	@$(RASA) run actions --port 5055 > actions.log 2>&1 & echo $$! > .actions.pid; \
	trap 'kill $$(cat .actions.pid) 2>/dev/null; rm -f .actions.pid' EXIT; \
	$(RASA) run --enable-api --cors "*" --model models/current.tar.gz --port 5005 \
		--credentials .run/credentials.yml

actions: setup ## Run only the action server on :5055
	@$(RASA) run actions --port 5055

lint: setup ## Lint our own packages (ruff)
	@$(RASA_ENV)/bin/ruff check components channels actions assistant benchmarks tests

typecheck: setup ## Type-check our own packages (mypy)
	@$(RASA_ENV)/bin/mypy components channels actions assistant benchmarks

validate: setup ## rasa data validate
	@$(RASA) data validate --fail-on-warnings

test: setup lint typecheck ## Run the whole test suite (lint, types, unit, integration, rasa test)
	@$(RASA_PY) -m pytest -ra

test-fast: setup ## Unit tests only (no model training)
	@$(RASA_PY) -m pytest -ra -m "not slow"

benchmark: setup ## NLU benchmark: make benchmark DATASETS=../shared/datasets
	@$(RASA_PY) -m benchmarks.nlu_benchmark $(or $(DATASETS),../shared/datasets)

clean: ## Remove trained models and test results
	rm -rf models/*.tar.gz models/.trained results .rasa
