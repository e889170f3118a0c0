#!/usr/bin/env bash
# Starts the embedded LLM (unless LLM_BASE_URL points elsewhere) and the action
# server, waits until both answer their health checks, runs the given command
# (rasa shell or rasa run) in the foreground, and stops both when it exits.
#
#   scripts/with-services.sh ACTIONS_PYTHON LLM_PYTHON COMMAND [ARGS...]
set -euo pipefail

actions_py="$1"; llm_py="$2"; shift 2
mkdir -p .run
# The shared secret between Rasa and the action server: a fresh one per run
# unless one is configured.
export ACTION_SERVER_TOKEN="${ACTION_SERVER_TOKEN:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
# Ports as assistant/config.py resolves them (defaults and the environment).
eval "$("$actions_py" -m apps.cli.settings get LOCAL_LLM_PORT ACTION_SERVER_PORT)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_for() {  # name url seconds log
  local name="$1" url="$2" seconds="$3" log="$4"
  for _ in $(seq "$seconds"); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "$name did not start within ${seconds}s; last lines of $log:" >&2
  tail -20 "$log" >&2
  exit 1
}

if [[ -z "${LLM_BASE_URL:-}" ]]; then
  export LLM_BASE_URL="http://127.0.0.1:$LOCAL_LLM_PORT/v1"
  echo "==> Starting the embedded LLM on :$LOCAL_LLM_PORT (log: .run/llm.log)"
  "$llm_py" -m apps.llm_server > .run/llm.log 2>&1 &
  pids+=($!)
  wait_for "The embedded LLM" "http://127.0.0.1:$LOCAL_LLM_PORT/v1/models" 120 .run/llm.log
fi

echo "==> Starting the action server on :$ACTION_SERVER_PORT (log: .run/actions.log)"
"$actions_py" -m apps.action_server > .run/actions.log 2>&1 &
pids+=($!)
wait_for "The action server" "http://127.0.0.1:$ACTION_SERVER_PORT/health" 120 .run/actions.log

"$@"
