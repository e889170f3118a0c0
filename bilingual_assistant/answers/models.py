"""Answer-side data: conversation turns, sources, answers and their wire shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Text, TypedDict

# Replies that claim an answer: `llm`: generated from the passages; `quoted` and
# `extractive`: the best passage's sentences; `curated`: an administrator's answer.
# Replies that claim none: `unsure`: the passages may not answer, so they are
# offered as leads; `not_found`: nothing in the documents answers (or nothing was
# asked); `out_of_scope`: a message the NLU took for off-topic that nothing in the
# documents answers; `unavailable`: the knowledge store could not be searched;
# `declined`: not looked up (too long, only links or only code: see `screening`).
CLAIM_MODES = ("llm", "quoted", "extractive", "curated")
NO_CLAIM_MODES = ("unsure", "not_found", "out_of_scope", "unavailable", "declined")
MODES = CLAIM_MODES + NO_CLAIM_MODES

# The key under which a reply carries its answer as data (`Answer.to_payload()`): in
# the bot event's metadata that the action writes, in Rasa's output to the channels,
# and in the REST, socket.io and platform replies. Read back from there, never from
# the reply's text.
ANSWER_KEY = "answer"


@dataclass(frozen=True)
class Turn:
    """One earlier message: `role` is `user` or `assistant`."""

    role: Text
    text: Text


class SourcePayload(TypedDict):
    """A source as it travels in JSON."""

    number: int
    title: Text
    source: Text


class AnswerPayload(TypedDict):
    """An answer as it travels in JSON: in the cache, and next to the reply's text in
    the bot event, where the next turn reads it back."""

    text: Text
    sources: List[SourcePayload]
    mode: Text
    language: Text
    cached: bool
    query: Text


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
        mode: one of `MODES`.
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

    def to_payload(self) -> AnswerPayload:
        """The JSON-ready form."""
        return AnswerPayload(
            text=self.text,
            sources=[SourcePayload(number=s.number, title=s.title, source=s.source)
                     for s in self.sources],
            mode=self.mode,
            language=self.language,
            cached=self.cached,
            query=self.query,
        )

    @classmethod
    def from_payload(cls, data: AnswerPayload) -> Answer:
        """Inverse of `to_payload`."""
        return cls(
            text=data["text"],
            sources=[Source(s["number"], s["title"], s["source"])
                     for s in data.get("sources", [])],
            mode=data.get("mode", "not_found"),
            language=data.get("language", "en"),
            cached=bool(data.get("cached", False)),
            query=data.get("query", ""),
        )
