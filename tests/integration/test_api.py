"""The API service as a process in front of the real Rasa, action server and LLM:
an API key made with the command-line tool, chat with sources as data, hit testing
on the real embedder and Milvus Lite, and the refusals a deployment relies on."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.conftest import PROJECT, free_port

pytestmark = pytest.mark.slow


def test_chat_answers_as_the_keys_conversation_with_sources_as_data(api):
    response = api.post("/v1/chat", json={"message": "年假有几天?"})
    assert response.status_code == 200, response.text
    answer = next(m for m in response.json()["messages"] if m["sources"])
    assert answer["sources"][0]["source"] == "zh/hr-annual-leave.md"
    assert "Sources" not in answer["text"] and "来源" not in answer["text"]


def test_a_batch_hit_test_runs_on_the_real_store_and_is_kept(api):
    response = api.post("/v1/hit-tests", json={
        "questions": ["How do I connect to the VPN from home?", "病假需要医生证明吗?",
                      "What is the price of bitcoin today?"], "top_k": 3})
    assert response.status_code == 201, response.text
    vpn, sick, bitcoin = response.json()["results"]
    assert vpn["hits"][0]["source"] == "en/it-vpn.md"
    assert sick["hits"][0]["source"] == "zh/hr-sick-leave.txt"
    assert bitcoin["answered"] is False
    history = api.get("/v1/hit-tests").json()["runs"]
    assert history[0]["id"] == response.json()["id"]


def test_the_running_service_refuses_what_it_should(api):
    assert api.get("/v1/me", key="none").status_code == 401
    assert api.get("/v1/me", key="ba_000000000000_" + "x" * 43).status_code == 401
    assert api.get("/v1/api-keys").status_code == 403  # the key has no admin scope
    assert api.post("/v1/chat", json={"message": ""}).status_code == 422
    ready = api.get("/v1/ready", key="none")
    assert ready.status_code == 200 and ready.json()["checks"]["rasa"] is True


def test_local_mode_will_not_listen_beyond_loopback(api):
    env = {**api.env, "API_LOCAL_USER": "on"}
    result = subprocess.run(
        [api.python, "-m", "apps.api", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "API_LOCAL_USER=off" in result.stderr
