"""The `plain` chat format, for base models without a chat template.

A base model continues text rather than answering a chat: the chat becomes the
messages' contents one after another, ending with `ANSWER_LABEL` so that the
model's continuation is the answer.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence, Text

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
