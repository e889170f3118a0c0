"""The chat interface every language model is used through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Protocol, Sequence, Text, TypedDict


class ChatMessage(TypedDict):
    """One message of the chat, as OpenAI's API expects it."""

    role: Text  # "system", "user" or "assistant"
    content: Text


@dataclass(frozen=True)
class Completion:
    """The model's answer.

    Attributes:
        text: the generated text.
        model: the model that answered.
        request_id: the id sent as `X-Request-ID` and logged.
        latency_seconds: time from the first attempt to the answer.
        attempts: number of HTTP requests made.
    """

    text: Text
    model: Text
    request_id: Text
    latency_seconds: float
    attempts: int


class ChatModel(Protocol):
    """Answers a chat (an OpenAI-compatible endpoint in production)."""

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: Optional[int] = None,
        temperature: float = 0.0,
        stop: Optional[List[Text]] = None,
        request_id: Optional[Text] = None,
    ) -> Completion:
        """The model's answer.

        Raises:
            LLMUnavailableError: the model cannot be reached in time.
            LLMError: the model refused the request or answered nothing usable.
        """
        ...
