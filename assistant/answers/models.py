"""Answer-side data: conversation turns, sources and answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Text

MODES = ("llm", "extractive", "not_found")


@dataclass(frozen=True)
class Turn:
    """One earlier message: `role` is `user` or `assistant`."""

    role: Text
    text: Text


@dataclass(frozen=True)
class Source:
    """A numbered source of an answer."""

    number: int
    title: Text
    source: Text


@dataclass(frozen=True)
class Answer:
    """A reply to a knowledge question.

    Attributes:
        text: the answer without the sources.
        sources: the numbered sources (empty when not found).
        mode: `llm`, `extractive` or `not_found`.
        language: `zh` or `en`.
        cached: True if it came from the answer cache.
        query: what was searched (the question, resolved against earlier turns).
    """

    text: Text
    sources: List[Source] = field(default_factory=list)
    mode: Text = "not_found"
    language: Text = "en"
    cached: bool = False
    query: Text = ""

    def to_dict(self) -> Dict[Text, Any]:
        """JSON-ready form (for the cache and the channel's custom payload)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[Text, Any]) -> Answer:
        """Inverse of `to_dict`."""
        return cls(
            text=data["text"],
            sources=[Source(**s) for s in data.get("sources", [])],
            mode=data.get("mode", "not_found"),
            language=data.get("language", "en"),
            cached=bool(data.get("cached", False)),
            query=data.get("query", ""),
        )
