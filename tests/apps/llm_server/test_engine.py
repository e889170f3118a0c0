"""`LlamaEngine` over an in-memory stand-in for xllamacpp's `Server`: which handler
each request reaches, in what shape, and the `plain` format's conversions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

from apps.llm_server.engine import MODEL_ALIAS, LlamaEngine
from bilingual_assistant.llm.plain_format import ANSWER_LABEL, PLAIN_CHAT_FORMAT


class FakeServer:
    """Records calls; completions answer "Paris", streamed as two chunks."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Dict[str, Any]]] = []

    def handle_chat_completions(self, body, on_chunk=None):
        self.calls.append(("chat", body))
        return {"object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Paris"}}]}

    def handle_completions(self, body, on_chunk=None):
        self.calls.append(("complete", body))
        if on_chunk is not None:
            for text, reason in (("Par", None), ("is", "stop")):
                on_chunk({"object": "text_completion", "choices": [
                    {"index": 0, "text": text, "finish_reason": reason}]})
            return None
        return {"object": "text_completion", "usage": {"completion_tokens": 1},
                "choices": [{"index": 0, "text": " Paris", "finish_reason": "stop"}]}


MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"}]


def engine(chat_format=None) -> Tuple[LlamaEngine, FakeServer]:
    server = FakeServer()
    return LlamaEngine(Path("unused.gguf"), 2, chat_format, server=server), server


def test_a_chat_model_gets_the_chat_with_its_alias_and_no_stream():
    chat, server = engine()
    result = chat.chat({"model": "whatever", "messages": MESSAGES, "stream": True})
    assert result["choices"][0]["message"]["content"] == "Paris"
    assert server.calls == [("chat", {"model": MODEL_ALIAS, "messages": MESSAGES,
                                      "stream": False})]


def test_a_base_model_gets_the_plain_prompt_and_answers_in_the_chat_shape():
    plain, server = engine(PLAIN_CHAT_FORMAT)
    result = plain.chat({"messages": MESSAGES, "max_tokens": 8})
    ((handler, body),) = server.calls
    assert handler == "complete" and "messages" not in body and body["max_tokens"] == 8
    assert body["prompt"] == f"Answer briefly.\n\nCapital of France?\n{ANSWER_LABEL}"
    assert result["object"] == "chat.completion" and result["usage"] == {"completion_tokens": 1}
    assert result["choices"] == [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": " Paris"}}]


def test_a_base_models_stream_arrives_as_chat_chunks():
    plain, server = engine(PLAIN_CHAT_FORMAT)
    chunks: List[Dict[str, Any]] = []
    assert plain.chat({"messages": MESSAGES}, chunks.append) is None
    assert server.calls[0][1]["stream"] is True
    assert [c["object"] for c in chunks] == ["chat.completion.chunk"] * 2
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["Par", "is"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_base_model_refuses_messages_that_are_not_a_list():
    plain, server = engine(PLAIN_CHAT_FORMAT)
    try:
        plain.chat({"messages": "hello"})
    except ValueError as problem:
        assert "messages" in str(problem)
    else:
        raise AssertionError("no ValueError")
    assert server.calls == []


def test_errors_pass_through_the_plain_conversion():
    plain, server = engine(PLAIN_CHAT_FORMAT)
    error = {"error": {"code": 400, "message": "too long", "type": "exceed_context_size_error"}}
    server.handle_completions = lambda body, on_chunk=None: error
    assert plain.chat({"messages": MESSAGES}) == error
