"""The embedded LLM server as `make llm` runs it, on the light base model
(gemma3-270m, the `plain` format) so that the real llama.cpp path is exercised in
seconds: chat and text completions, streaming, llama.cpp's own errors, and a
loopback-only internal listener."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Iterator, Tuple

import pytest
import requests

from tests.integration.conftest import (
    PROJECT,
    Processes,
    env_python,
    free_port,
    rasa_env,
    wait_until_up,
)

KEY = "llm-server-test-key"


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, subprocess.Popen]]:
    logs = tmp_path_factory.mktemp("llm-server")
    port = free_port()
    processes = Processes(logs, PROJECT)
    process = processes.start("llm", [str(env_python("LLM_PYTHON", "llm-env-path")), "-m",
                                      "apps.llm_server", "--port", str(port)],
                              rasa_env(LOCAL_LLM="gemma3-270m", LOCAL_LLM_API_KEY=KEY))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", process, logs / "llm.log", 300,
                      headers={"Authorization": f"Bearer {KEY}"})
        yield url, process
    finally:
        processes.stop()


def post(url: str, path: str, body: dict, **kwargs) -> requests.Response:
    return requests.post(url + path, json=body, timeout=120,
                         headers={"Authorization": f"Bearer {KEY}"}, **kwargs)


def test_a_chat_completion_comes_back_in_openais_shape(llm):
    url, _ = llm
    response = post(url, "/v1/chat/completions", {
        "model": "local", "max_tokens": 8, "temperature": 0,
        "messages": [{"role": "user", "content": "The capital of France is"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str)
    assert body["usage"]["completion_tokens"] >= 1


def test_a_text_completion_is_deterministic_at_temperature_zero(llm):
    url, _ = llm
    ask = {"prompt": "One, two, three,", "max_tokens": 6, "temperature": 0}
    first, second = (post(url, "/v1/completions", ask).json() for _ in range(2))
    assert first["choices"][0]["text"] == second["choices"][0]["text"] != ""


def test_a_streamed_chat_arrives_as_chunks_then_done(llm):
    url, _ = llm
    response = post(url, "/v1/chat/completions", {
        "max_tokens": 5, "stream": True,
        "messages": [{"role": "user", "content": "Count: one, two,"}]}, stream=True)
    events = [line.decode().removeprefix("data: ") for line in response.iter_lines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks and all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop")


def test_llama_cpps_refusals_are_client_errors(llm):
    url, _ = llm
    too_long = post(url, "/v1/chat/completions", {
        "max_tokens": 4, "messages": [{"role": "user", "content": "hello " * 4000}]})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["type"] == "exceed_context_size_error"
    wrong_type = post(url, "/v1/completions", {"prompt": "hi", "max_tokens": "many"})
    assert wrong_type.status_code == 400
    not_a_list = post(url, "/v1/chat/completions", {"messages": "hello"})
    assert not_a_list.status_code == 400
    assert post(url, "/v1/completions", {"prompt": "hi", "max_tokens": 2}).status_code == 200


def test_the_only_port_is_ours_and_llama_cpps_socket_is_private_and_keyed(llm):
    url, process = llm
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    ours = [line.split()[3] for line in listening.splitlines() if f"pid={process.pid}," in line]
    assert ours == [url.removeprefix("http://")], listening
    sockets = subprocess.run(["ss", "-lxpH"], capture_output=True, text=True).stdout
    [path] = [word for line in sockets.splitlines() if f"pid={process.pid}," in line
              for word in line.split() if word.endswith("llama.sock")]
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
    for key in ("", KEY):
        refused = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", path,
             "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json",
             "-d", '{"prompt": "hi", "max_tokens": 1}', "http://llm/v1/completions"],
            capture_output=True, text=True, timeout=30).stdout
        assert refused == "401"
