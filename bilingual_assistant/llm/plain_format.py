"""The `plain` chat format, for base models without a chat template.

A base model continues text rather than answering a chat: the chat becomes the
messages' contents one after another, ending with `ANSWER_LABEL` so that the
model's continuation is the answer. The LLM server sends such a chat to the
model as a text completion and gives the result back in the chat shape.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Text

PLAIN_CHAT_FORMAT = "plain"
ANSWER_LABEL = "Answer:"


def plain_prompt(messages: Sequence[Mapping[Text, Any]]) -> Text:
    """The chat as plain text: every message's content, blank-line separated."""
    parts: List[Text] = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(str(content).strip())
    prompt = "\n\n".join(p for p in parts if p)
    return f"{prompt}\n{ANSWER_LABEL}"


def chat_as_completion(request: Mapping[Text, Any]) -> Dict[Text, Any]:
    """A chat completion request as the text completion request of its plain prompt.

    Raises:
        ValueError: if `messages` is not a list of objects.
    """
    messages = request.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ValueError("'messages' must be an array of objects")
    completion = {k: v for k, v in request.items() if k != "messages"}
    completion["prompt"] = plain_prompt(messages)
    return completion


def completion_as_chat(result: Mapping[Text, Any], streamed: bool = False) -> Dict[Text, Any]:
    """A text completion result, or a streamed chunk of one, in the chat shape.

    Errors (`{"error": ...}`) pass through unchanged.
    """
    if "error" in result:
        return dict(result)
    choices = []
    for choice in result.get("choices", []):
        text = choice.get("text") or ""
        converted = {k: v for k, v in choice.items() if k != "text"}
        if streamed:
            converted["delta"] = {"content": text} if text else {}
        else:
            converted["message"] = {"role": "assistant", "content": text}
        choices.append(converted)
    return {**result, "choices": choices,
            "object": "chat.completion.chunk" if streamed else "chat.completion"}
