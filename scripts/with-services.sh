#!/usr/bin/env bash
# Starts the embedded LLM (unless LLM_BASE_URL points elsewhere) and the action
# server, waits until both answer their health checks, runs the given command
# (rasa shell or rasa run) in the foreground, and stops both when it exits.
#
#   scripts/with-services.sh ACTIONS_PYTHON COMMAND [ARGS...]
set -euo pipefail

actions_py="$1"; shift
mkdir -p .run
# The shared secret between Rasa and the action server: a fresh one per run
# unless one is configured.
export ACTION_SERVER_TOKEN="${ACTION_SERVER_TOKEN:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
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
  port="${LOCAL_LLM_PORT:-8088}"
  echo "==> Starting the embedded LLM on :$port (log: .run/llm.log)"
  "$actions_py" -m assistant.llm.local_server --port "$port" > .run/llm.log 2>&1 &
  pids+=($!)
  wait_for "The embedded LLM" "http://127.0.0.1:$port/v1/models" 120 .run/llm.log
fi

echo "==> Starting the action server on :5055 (log: .run/actions.log)"
"$actions_py" -m assistant.action_server --port 5055 > .run/actions.log 2>&1 &
pids+=($!)
wait_for "The action server" "http://127.0.0.1:5055/health" 120 .run/actions.log

"$@"
