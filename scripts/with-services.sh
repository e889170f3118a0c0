#!/usr/bin/env bash
# Starts the embedded LLM (unless LLM_BASE_URL points elsewhere), a Milvus Lite
# server on loopback for the knowledge file (unless MILVUS_URI points elsewhere:
# a Milvus Lite file is open in one process only, and the action server, the API
# and the job worker all use it), the action server, the API and the job worker;
# waits until they answer, runs the given command (scripts/rasa-run.sh) in the
# foreground, and stops them all when it exits.
# Every secret that is not set is made fresh for this run: the action server's
# (ACTION_SERVER_TOKEN), the embedded LLM's key (LOCAL_LLM_API_KEY) and Rasa's
# HTTP API token (RASA_AUTH_TOKEN, written to .run/rasa-api-token for you).
#
#   scripts/with-services.sh ACTIONS_PYTHON LLM_PYTHON COMMAND [ARGS...]
set -euo pipefail

actions_py="$1"; llm_py="$2"; shift 2
umask 077
mkdir -p .run
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export ACTION_SERVER_TOKEN="${ACTION_SERVER_TOKEN:-$(secret)}"
export LOCAL_LLM_API_KEY="${LOCAL_LLM_API_KEY:-$(secret)}"
export RASA_AUTH_TOKEN="${RASA_AUTH_TOKEN:-$(secret)}"
printf '%s\n' "$RASA_AUTH_TOKEN" > .run/rasa-api-token
# Addresses as bilingual_assistant/config.py resolves them (defaults and the environment).
eval "$("$actions_py" -m apps.cli.settings get LOCAL_LLM_PORT ACTION_SERVER_PORT \
  RASA_HOST RASA_PORT MILVUS_LITE_PATH MILVUS_LITE_PORT API_PORT)"
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:$ACTION_SERVER_PORT/webhook}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_for() {  # name url seconds log [curl options]
  local name="$1" url="$2" seconds="$3" log="$4"; shift 4
  for _ in $(seq "$seconds"); do
    if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "$name did not start within ${seconds}s; last lines of $log:" >&2
  tail -20 "$log" >&2
  exit 1
}

if [[ -z "${LLM_BASE_URL:-}" ]]; then
  export LLM_BASE_URL="http://127.0.0.1:$LOCAL_LLM_PORT/v1"
  export LLM_API_KEY="$LOCAL_LLM_API_KEY"
  echo "==> Starting the embedded LLM on 127.0.0.1:$LOCAL_LLM_PORT (log: .run/llm.log)"
  "$llm_py" -m apps.llm_server > .run/llm.log 2>&1 &
  pids+=($!)
  wait_for "The embedded LLM" "http://127.0.0.1:$LOCAL_LLM_PORT/v1/models" 120 .run/llm.log \
    -H "Authorization: Bearer $LOCAL_LLM_API_KEY"
fi

if [[ -z "${MILVUS_URI:-}" ]]; then
  echo "==> Serving the knowledge base on 127.0.0.1:$MILVUS_LITE_PORT (log: .run/milvus.log)"
  "$(dirname "$actions_py")/milvus-lite" server --data-dir "$MILVUS_LITE_PATH" \
    --host 127.0.0.1 --port "$MILVUS_LITE_PORT" > .run/milvus.log 2>&1 &
  pids+=($!)
  export MILVUS_URI="http://127.0.0.1:$MILVUS_LITE_PORT"
  for _ in $(seq 60); do
    if "$actions_py" -c "import sys; from pymilvus import MilvusClient; \
MilvusClient(uri=sys.argv[1]).list_collections()" "$MILVUS_URI" 2>/dev/null; then break; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "The Milvus Lite server stopped; last lines of .run/milvus.log:" >&2
      tail -20 .run/milvus.log >&2; exit 1
    fi
    sleep 1
  done
fi

echo "==> Starting the action server on 127.0.0.1:$ACTION_SERVER_PORT (log: .run/actions.log)"
"$actions_py" -m apps.action_server > .run/actions.log 2>&1 &
pids+=($!)
wait_for "The action server" "http://127.0.0.1:$ACTION_SERVER_PORT/health" 120 .run/actions.log

echo "==> Starting the job worker (log: .run/worker.log)"
# Retrain jobs run Rasa's own `rasa train` and `rasa test` (RASA_COMMAND, which
# `make run` sets to Rasa's environment's executable).
"$actions_py" -m apps.worker > .run/worker.log 2>&1 &
pids+=($!)
echo "==> Starting the API on 127.0.0.1:$API_PORT (docs: /v1/docs; log: .run/api.log)"
"$actions_py" -m apps.api > .run/api.log 2>&1 &
pids+=($!)
wait_for "The API" "http://127.0.0.1:$API_PORT/v1/health" 120 .run/api.log
echo "==> Open http://127.0.0.1:$API_PORT/chat/ to chat, http://127.0.0.1:$API_PORT/admin/ to upload documents, test what they answer, review feedback and retrain; the API's docs are at /v1/docs. (Rasa's own socket.io page: http://$RASA_HOST:$RASA_PORT/webhooks/socketio/chat/)"

echo "==> Rasa on $RASA_HOST:$RASA_PORT; its HTTP API token is in .run/rasa-api-token"
"$@"
