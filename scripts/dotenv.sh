#!/usr/bin/env bash
# Runs a command with the settings of a `.env` file (ENV_FILE, default `.env` in the
# project folder; ignored by git) added to its environment. A variable already set
# in the environment wins over the file. Lines are `NAME=value` (the value taken
# literally, up to the end of the line; one pair of surrounding quotes is removed),
# blank or `#` comments; anything else stops with the line's number. `.env.example`
# lists every setting (`make env-example` regenerates it).
#
#   scripts/dotenv.sh COMMAND [ARGS...]
set -euo pipefail

file="${ENV_FILE:-.env}"
if [[ -f "$file" ]]; then
  if [[ -n "$(find "$file" -perm /077 2>/dev/null)" ]]; then
    echo "warning: $file can be read by other users; it may hold secrets: chmod 600 $file" >&2
  fi
  number=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    number=$((number + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    line="${line#export }"
    if [[ ! "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      echo "error: $file line $number is not NAME=value; fix or remove it" >&2
      exit 2
    fi
    name="${BASH_REMATCH[1]}"; value="${BASH_REMATCH[2]}"
    if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    if [[ -z "${!name+set}" ]]; then
      export "$name=$value"
    fi
  done < "$file"
fi
exec "$@"
