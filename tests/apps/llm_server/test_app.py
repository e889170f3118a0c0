"""The LLM server's HTTP app over an in-memory engine: the key, the body limit,
errors in OpenAI's shape and streaming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from starlette.testclient import TestClient

from apps.llm_server.app import create_app
from apps.llm_server.guard import routes
from apps.llm_server.wiring import build_app
from bilingual_assistant.config import LocalLLMSettings
from bilingual_assistant.errors import ConfigurationError

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


class FakeEngine:
    """Answers with what it was asked; streams three chunks."""

    def __init__(self, result: Optional[Dict[str, Any]] = None,
                 problem: Optional[Exception] = None) -> None:
        self.result, self.problem = result, problem
        self.requests: List[Dict[str, Any]] = []

    def chat(self, request, on_chunk=None):
        return self._answer(request, on_chunk, "chat.completion")

    def complete(self, request, on_chunk=None):
        return self._answer(request, on_chunk, "text_completion")

    def _answer(self, request, on_chunk, kind):
        self.requests.append(request)
        if self.problem is not None:
            raise self.problem
        if on_chunk is not None:
            for word in ("one", "two", "three"):
                on_chunk({"object": kind, "choices": [{"delta": {"content": word}}]})
            return None
        return self.result or {"object": kind, "echo": request,
                               "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def client(engine: Any, limit: int = 1024) -> TestClient:
    return TestClient(create_app(engine, KEY, body_limit=limit))


def test_every_route_refuses_a_missing_or_wrong_key():
    app = create_app(FakeEngine(), KEY)
    test = TestClient(app)
    listed = routes(app)
    assert {path for path, _ in listed} == {"/health", "/v1/models", "/v1/chat/completions",
                                           "/v1/completions"}
    for path, method in listed:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            response = test.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (path, headers)
            if method != "HEAD":
                assert response.json()["error"]["type"] == "authentication_error"
        assert test.request(method, path, headers=AUTH, json={}).status_code != 401


def test_an_empty_key_is_refused_at_start():
    with pytest.raises(ConfigurationError, match="LOCAL_LLM_API_KEY"):
        build_app(LocalLLMSettings(api_key=" "), Path("unused.gguf"), engine=FakeEngine())
    with pytest.raises(ValueError):
        create_app(FakeEngine(), "")


def test_no_cors_headers_and_no_documentation_routes():
    test = client(FakeEngine())
    preflight = test.options("/v1/chat/completions", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    answered = test.post("/v1/chat/completions", headers={**AUTH, "Origin": "https://evil.example"},
                         json={"messages": []})
    assert "access-control-allow-origin" not in answered.headers
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert test.get(path, headers=AUTH).status_code == 404


def test_a_chat_request_reaches_the_engine_and_its_answer_comes_back():
    engine = FakeEngine()
    response = client(engine).post("/v1/chat/completions", headers=AUTH,
                                   json={"messages": [{"role": "user", "content": "你好"}]})
    assert response.status_code == 200
    assert response.json()["echo"] == {"messages": [{"role": "user", "content": "你好"}]}
    assert engine.requests == [{"messages": [{"role": "user", "content": "你好"}]}]


@pytest.mark.parametrize("body,expected", [(b"{not json", "not JSON"), (b"[1, 2]", "object"),
                                           (b"\xff\xfe", "not JSON")])
def test_a_body_that_is_not_a_json_object_is_a_400(body, expected):
    engine = FakeEngine()
    response = client(engine).post("/v1/completions", headers=AUTH, content=body)
    assert response.status_code == 400 and expected in response.json()["error"]["message"]
    assert engine.requests == []


def test_bodies_over_the_limit_are_a_413_declared_or_not():
    test = client(FakeEngine(), limit=100)
    response = test.post("/v1/completions", headers=AUTH, content=b"x" * 200)
    assert response.status_code == 413
    chunked = test.post("/v1/completions", headers=AUTH,
                        content=iter([b"x" * 60, b"x" * 60]))
    assert chunked.status_code == 413


def test_the_engines_errors_keep_their_status_and_shape():
    refused = {"error": {"code": 400, "type": "exceed_context_size_error",
                         "message": "request (3024 tokens) exceeds the available context"}}
    response = client(FakeEngine(result=refused)).post("/v1/chat/completions", headers=AUTH,
                                                       json={"messages": []})
    assert response.status_code == 400 and response.json() == refused
    unreadable = client(FakeEngine(problem=ValueError("Expected 'messages' to be an array")))
    response = unreadable.post("/v1/chat/completions", headers=AUTH, json={"messages": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Expected 'messages' to be an array"


def test_an_engine_crash_is_a_500_that_leaks_nothing(caplog):
    broken = client(FakeEngine(problem=RuntimeError("secret prompt text")))
    response = broken.post("/v1/completions", headers=AUTH, json={"prompt": "secret prompt text"})
    assert response.status_code == 500 and "secret" not in response.text


def test_streaming_sends_each_chunk_as_an_event_then_done():
    response = client(FakeEngine()).post("/v1/chat/completions", headers=AUTH,
                                         json={"messages": [], "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line]
    assert events[-1] == "[DONE]"
    assert [json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1]] == [
        "one", "two", "three"]


def test_a_streamed_request_the_engine_cannot_read_ends_with_an_error_event():
    engine = FakeEngine(problem=ValueError("bad messages"))
    response = client(engine).post("/v1/chat/completions", headers=AUTH,
                                   json={"messages": 1, "stream": True})
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line]
    assert json.loads(events[0])["error"] == {"code": 400, "message": "bad messages",
                                              "type": "invalid_request_error"}
    assert events[-1] == "[DONE]"


def test_logs_carry_counts_not_text(caplog):
    caplog.set_level("INFO", logger="apps.llm_server")
    client(FakeEngine()).post("/v1/chat/completions", headers=AUTH,
                              json={"messages": [{"role": "user", "content": "机密问题"}]})
    (record,) = [r for r in caplog.records if r.getMessage() == "llm.request"]
    assert (record.status, record.prompt_tokens, record.completion_tokens) == (200, 3, 1)
    assert "机密问题" not in caplog.text


def test_models_lists_the_alias_the_action_server_asks_for():
    from bilingual_assistant.config import LLMSettings

    listed = client(FakeEngine()).get("/v1/models", headers=AUTH).json()
    assert [m["id"] for m in listed["data"]] == [LLMSettings().model]
