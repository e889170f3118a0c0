"""`python -m apps.cli.secrets`: a deployment's secrets file filled in once, safely."""

import base64
import stat
import subprocess
import sys
from pathlib import Path

from bilingual_assistant.encryption import Keyring

ROOT = Path(__file__).resolve().parents[3]


def fill(target: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apps.cli.secrets", str(target)], cwd=ROOT,
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def values(path: Path) -> dict:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines()
             if "=" in line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def test_a_new_file_gets_every_secret_compose_needs_and_stays_private(tmp_path):
    target = tmp_path / ".env"
    result = fill(target)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    got = values(target)
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    required = {line.split("${")[1].split(":?")[0] for line in compose.splitlines()
                if ":?set it in deploy/.env" in line}
    assert required and all(got.get(name) for name in required), required - set(got)
    password = got["POSTGRES_PASSWORD"]
    assert got["CONVERSATIONS_DB_URL"] == got["SERVICES_DB_URL"] == (
        f"postgresql://assistant:{password}@postgres:5432/assistant")
    assert got["REDIS_URL"] == f"redis://:{got['REDIS_PASSWORD']}@redis:6379/0"
    keyring = Keyring.parse(got["CONVERSATION_KEYS"], "CONVERSATION_KEYS")
    assert len(base64.b64decode(got["CONVERSATION_KEYS"].split(":", 1)[1])) == 32
    assert keyring.key_ids
    # Values never reach the terminal, only names.
    assert password not in result.stdout and "POSTGRES_PASSWORD" in result.stdout
    # What the user fills in by hand stays empty, and the example's comments stay.
    assert got["SLACK_BOT_TOKEN"] == "" and "# Rasa's HTTP API" in target.read_text()


def test_running_again_changes_nothing_and_keeps_what_was_set(tmp_path):
    target = tmp_path / "secrets.env"
    target.write_text("POSTGRES_PASSWORD=chosen-by-me\nRASA_AUTH_TOKEN=\n")
    assert fill(target).returncode == 0
    first = values(target)
    assert first["POSTGRES_PASSWORD"] == "chosen-by-me"
    assert first["CONVERSATIONS_DB_URL"].startswith("postgresql://assistant:chosen-by-me@")
    assert first["RASA_AUTH_TOKEN"]
    again = fill(target)
    assert again.returncode == 0 and "filled nothing" in again.stdout
    assert values(target) == first
