"""Fills in a deployment's secrets file with fresh random values (services' environment).

    python -m apps.cli.secrets [FILE]      default: deploy/.env (compose reads it)

A missing FILE starts as a copy of deploy/secrets.env.example. Every secret the
project can make itself (the shared tokens, the LLM key, the metrics token, the
conversation key, the PostgreSQL and Redis passwords and the URLs that use them) is
set where the file leaves it empty; a value already there is never changed, so the
command can run again safely. The file is written with mode 600, and only the names
it filled are printed, never a value. Secrets that come from elsewhere (a hosted
LLM's key, the identity provider's client, the chat platforms) stay for you to fill.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Text

from apps.entrypoint import run
from bilingual_assistant.encryption import new_key_entry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "secrets.env.example"
LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def fresh_values(present: Mapping[Text, Text]) -> Dict[Text, Text]:
    """New values for every secret the project makes; the URLs use the passwords
    already in `present` when they are set."""
    postgres = present.get("POSTGRES_PASSWORD") or secrets.token_urlsafe(24)
    redis = present.get("REDIS_PASSWORD") or secrets.token_urlsafe(24)
    database = f"postgresql://assistant:{postgres}@postgres:5432/assistant"
    return {
        "RASA_AUTH_TOKEN": secrets.token_urlsafe(32),
        "REST_CHANNEL_SECRET": secrets.token_urlsafe(32),
        "ACTION_SERVER_TOKEN": secrets.token_urlsafe(32),
        "LLM_API_KEY": secrets.token_urlsafe(32),
        "CONVERSATION_KEYS": new_key_entry(),
        "POSTGRES_PASSWORD": postgres,
        "CONVERSATIONS_DB_URL": database,
        "SERVICES_DB_URL": database,
        "REDIS_PASSWORD": redis,
        "REDIS_URL": f"redis://:{redis}@redis:6379/0",
        "METRICS_TOKEN": secrets.token_urlsafe(32),
        "SOCKETIO_SESSION_SECRET": secrets.token_urlsafe(32),
    }


def fill(lines: List[Text]) -> tuple[List[Text], List[Text]]:
    """The lines with empty secrets filled in, and the names filled."""
    present = {m.group(1): m.group(2) for m in map(LINE.match, lines) if m}
    values = fresh_values(present)
    filled: List[Text] = []
    out: List[Text] = []
    for line in lines:
        match = LINE.match(line)
        if match and not match.group(2).strip() and match.group(1) in values:
            out.append(f"{match.group(1)}={values[match.group(1)]}")
            filled.append(match.group(1))
        else:
            out.append(line)
    for name, value in values.items():  # a secret the file does not list at all
        if name not in present:
            out.append(f"{name}={value}")
            filled.append(name)
    return out, filled


def main(argv: Optional[List[Text]] = None) -> int:
    """Fills the file named on the command line (default deploy/.env)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(args[0]) if args else ROOT / "deploy" / ".env"
    source = target if target.exists() else EXAMPLE
    lines, filled = fill(source.read_text(encoding="utf-8").splitlines())
    temporary = target.with_name(target.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, target)
    print(f"{target}: filled {', '.join(filled) or 'nothing (every secret was set)'}; "
          "mode 600. Fill in the others it lists (a hosted LLM's key, sign-in, the chat "
          "platforms) by hand.")
    return 0


if __name__ == "__main__":
    run(main)
