#!/usr/bin/env bash
# Starts `rasa run` in the container as `make run` does: the channels whose secrets
# are set (apps.cli.credentials writes them to /tmp, the one writable folder), the
# HTTP API behind RASA_AUTH_TOKEN (scripts/rasa-run.sh refuses to start without it),
# the model built into the image.
set -euo pipefail
cd /app
python -m apps.cli.credentials credentials.yml /tmp/credentials.yml
exec scripts/rasa-run.sh /opt/venv/bin/rasa run --model models/current.tar.gz \
  --credentials /tmp/credentials.yml "$@"
