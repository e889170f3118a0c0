"""What the deployment tests hold every file in deploy/ to: which variables are the
project's settings, which are secrets, and how a secret may appear."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Set

from bilingual_assistant.config import PROCESS_DEFAULTS, SECTIONS, declarations

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("single-node", "scaled")
SECRETS_EXAMPLE = DEPLOY / "secrets.env.example"
SECRET_NAME = "assistant-secrets"

# Every setting bilingual_assistant/config.py declares, and the third-party variables every
# process gets (no telemetry, no hub downloads).
DECLARED: Set[str] = {item.metadata["env"] for s in SECTIONS for item in declarations(s)}
PROJECT_VARIABLES = DECLARED | set(PROCESS_DEFAULTS)
KNOWN = PROJECT_VARIABLES
# Variables of the third-party images (PostgreSQL, Redis), not the project's.
STORE_VARIABLES = {"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "PGDATA",
                   "REDIS_PASSWORD"}

# A variable holds a secret when its name says so, or when it is a URL that carries
# a password (the databases, Redis, the job broker).
SECRET_NAME_PATTERN = re.compile(r"TOKEN|KEY|SECRET|PASSWORD")
SECRET_URLS = {"CONVERSATIONS_DB_URL", "SERVICES_DB_URL", "REDIS_URL", "LOCK_STORE_URL",
               "JOBS_BROKER_URL"}
# A URL with a user and password in it: `scheme://user:password@host` (a
# placeholder in angle brackets, `user:<password>@`, is not a password).
URL_WITH_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]*:[^@\s/<]+@")


def is_secret(name: str) -> bool:
    """Whether a variable of this name must come from the Secret."""
    return bool(SECRET_NAME_PATTERN.search(name)) or name in SECRET_URLS


# Compose's own settings at the top of deploy/secrets.env.example (compose reads
# them from deploy/.env; they are not the project's settings nor secrets).
COMPOSE_SETTINGS = {"COMPOSE_PROFILES", "DOCUMENTS_DIR"}


def example_lines() -> Dict[str, str]:
    """NAME -> value of every line of deploy/secrets.env.example."""
    pairs: Dict[str, str] = {}
    for line in SECRETS_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def secrets_example() -> Dict[str, str]:
    """NAME -> value of the project's variables in deploy/secrets.env.example (values
    should all be empty), without compose's own settings."""
    return {n: v for n, v in example_lines().items() if n not in COMPOSE_SETTINGS}
