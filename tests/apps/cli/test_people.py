"""`python -m apps.cli.people forget SUBJECT`, as `make forget` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bilingual_assistant.adapters.sql_service_store import SqlTurnStore, connect
from bilingual_assistant.conversations.history import ChatHistory

ROOT = Path(__file__).resolve().parents[3]


def forget(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "SERVICES_DB_URL": f"sqlite:///{tmp_path / 'api.db'}"}
    return subprocess.run([sys.executable, "-m", "apps.cli.people", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_the_command_forgets_the_person_it_names(tmp_path):
    history = ChatHistory(SqlTurnStore(connect(f"sqlite:///{tmp_path / 'api.db'}")))
    history.record("key:abc", "c-1", "hello", [])
    history.record("key:def", "c-1", "hello", [])
    done = forget(tmp_path, "forget", "key:abc")
    assert done.returncode == 0, done.stderr
    assert "chat_turns 1" in done.stdout
    assert history.turns("key:abc", "c-1") == [] and history.turns("key:def", "c-1")


def test_without_a_person_it_says_how_to_call_it(tmp_path):
    done = forget(tmp_path, "forget")
    assert done.returncode == 2 and "forget SUBJECT" in done.stderr
