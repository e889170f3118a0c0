"""Forgetting a person on the running stack (issue #27 item 5): what they wrote
through the API is kept (their conversation in Rasa, the API's chat turns, their
feedback) until `make forget` runs its two commands; then none of it can be read
back, and their words are in no file of the stack: no database, no log, no index."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.integration.conftest import CONVERSATIONS, PROJECT, RASA_TOKEN, rasa_env

pytestmark = pytest.mark.slow

CANARY = "canary-9d41e7"


def _files_holding(text, *folders):
    return [path for folder in folders if folder.is_dir() for path in folder.rglob("*")
            if path.is_file() and text.encode() in path.read_bytes()]


def test_a_forgotten_persons_words_are_nowhere(servers, api, work_dir):
    key = api.new_key("to-forget", "chat", "feedback")
    subject = f"key:{key.split('_')[1]}"
    admin = api.new_key("reviewer", "admin")
    message = f"我的工号是 {CANARY}，年假有几天?"
    chat = api.post("/v1/chat", key, json={"message": message, "conversation": "web"})
    assert chat.status_code == 200, chat.text
    rated = api.post("/v1/feedback", key, json={
        "rating": -1, "reason": f"wrong for {CANARY}", "message": message,
        "reply": chat.json()["messages"][0]["text"], "conversation": "web"})
    assert rated.status_code == 201, rated.text
    # Kept, and readable by those allowed, until forgotten.
    turns = api.get("/v1/conversations/web", key).json()["turns"]
    assert any(CANARY in t["message"] for t in turns)
    assert any(CANARY in f["message"] for f in api.get("/v1/feedback", admin).json()[
        "feedback"])
    tracker = f"{servers.rasa_url}/conversations/{subject}:web/tracker"
    events = requests.get(tracker, params={"token": RASA_TOKEN}, timeout=30).json()["events"]
    assert any(CANARY in (e.get("text") or "") for e in events)

    forgot = subprocess.run([sys.executable, "-m", "apps.cli.conversations", "forget-person",
                             subject], cwd=PROJECT, env=rasa_env(), capture_output=True,
                            text=True, timeout=120)
    assert forgot.returncode == 0 and "1 conversation" in forgot.stdout, forgot.stdout
    forgot = subprocess.run([api.python, "-m", "apps.cli.people", "forget", subject],
                            cwd=PROJECT, env=api.env, capture_output=True, text=True,
                            timeout=120)
    assert forgot.returncode == 0, forgot.stderr

    assert api.get("/v1/conversations", key).json()["conversations"] == []
    assert api.get("/v1/conversations/web", key).json()["turns"] == []
    assert not any(CANARY in f["message"] for f in api.get(
        "/v1/feedback", admin, params={"status": "all"}).json()["feedback"])
    events = requests.get(tracker, params={"token": RASA_TOKEN}, timeout=30).json()["events"]
    assert not any(CANARY in (e.get("text") or "") for e in events)
    assert _files_holding(CANARY, work_dir, CONVERSATIONS, PROJECT / ".data") == []
