#!/usr/bin/env bash
# Runs `rasa run` or `rasa shell` locked down: bound to RASA_HOST (loopback unless
# set otherwise), the HTTP API behind RASA_AUTH_TOKEN (required), CORS for
# RASA_CORS_ORIGINS only, request bodies capped at RASA_MAX_REQUEST_BYTES. The
# values come from bilingual_assistant/config.py (defaults and the environment).
#
#   scripts/rasa-run.sh RASA run|shell [ARGS...]
set -euo pipefail

rasa="$1"; command="$2"; shift 2
# A setting that is not valid stops here, with the settings' own message.
values="$("$(dirname "$rasa")/python" -m apps.cli.settings get RASA_HOST RASA_PORT \
  RASA_CORS_ORIGINS RASA_MAX_REQUEST_BYTES RASA_AUTH_TOKEN)" || exit 2
eval "$values"
# Sanic reads its settings from SANIC_* variables.
export SANIC_REQUEST_MAX_SIZE="$RASA_MAX_REQUEST_BYTES"
case "$command" in
  run)
    if [[ -z "$RASA_AUTH_TOKEN" ]]; then
      echo "error: RASA_AUTH_TOKEN is empty: Rasa's HTTP API does not run without a token" \
        "(make run makes one)." >&2
      exit 2
    fi
    cors=()
    if [[ -n "$RASA_CORS_ORIGINS" ]]; then
      IFS=',' read -ra origins <<< "$RASA_CORS_ORIGINS"
      cors=(--cors "${origins[@]}")
    fi
    # The token goes through the environment: apps.rasa_server adds it to Rasa's
    # arguments inside the process, so `ps` never shows it.
    export RASA_AUTH_TOKEN
    exec "$(dirname "$rasa")/python" -m apps.rasa_server "$rasa" run --enable-api \
      -i "$RASA_HOST" -p "$RASA_PORT" "${cors[@]}" "$@"
    ;;
  shell)
    # A terminal chat is local: Rasa's own command-line channel posts unsigned
    # senders to the REST channel, which takes them only on loopback.
    unset REST_CHANNEL_SECRET
    export RASA_HOST=127.0.0.1
    exec "$rasa" shell -i 127.0.0.1 -p "$RASA_PORT" "$@"
    ;;
  *)
    echo "usage: $0 RASA run|shell [ARGS...]" >&2
    exit 2
    ;;
esac
