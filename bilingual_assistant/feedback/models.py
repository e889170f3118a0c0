"""Feedback as data: a rating of one reply, with what the assistant understood
and read, and what an administrator made of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Text, Tuple

RESOLUTIONS = ("intent", "answer", "gap", "dismissed")
MAX_TEXT = 4000


@dataclass(frozen=True)
class Feedback:
    """One thumbs up or down.

    Attributes:
        rating: 1 (up) or -1 (down).
        reason: what the person said was wrong (or right).
        message, reply: the user's message and the assistant's reply.
        intent, confidence: what Rasa understood the message as (None if unknown).
        sources: the reply's sources (`source`, `title`, `number`).
        status: `open` (in the review queue) or `resolved`.
        resolution: one of `RESOLUTIONS` once resolved; `detail`: the intent given,
            the answer written, or a note.
    """

    id: Text
    created_at: float
    subject: Text
    conversation: Text
    rating: int
    reason: Text
    message: Text
    reply: Text
    intent: Optional[Text] = None
    confidence: Optional[float] = None
    sources: List[Dict[Text, Any]] = field(default_factory=list)
    status: Text = "open"
    resolution: Optional[Text] = None
    detail: Optional[Text] = None
    resolved_by: Optional[Text] = None
    resolved_at: Optional[float] = None

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class CuratedAnswer:
    """An answer an administrator wrote for a question: served before the LLM for
    the same or a very similar question."""

    id: Text
    question: Text
    answer: Text
    language: Text
    created_by: Text
    created_at: float
    feedback_id: Optional[Text] = None
    # Who may be served it (`knowledge/access.py`): an answer written from
    # documents not everyone may read is not everyone's. Empty: everyone.
    groups: Tuple[Text, ...] = ()

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        payload = asdict(self)
        payload["groups"] = list(self.groups)
        return payload


class FeedbackStore(Protocol):
    """Where feedback and curated answers live (SQL in the services)."""

    def add(self, feedback: Feedback) -> None:
        """Stores new feedback."""

    def get(self, feedback_id: Text) -> Optional[Feedback]:
        """The feedback, or None."""

    def recent(self, status: Optional[Text], limit: int) -> List[Feedback]:
        """The newest feedback, newest first (all, or of one status)."""

    def resolve(self, feedback_id: Text, resolution: Text, detail: Optional[Text],
                by: Text, now: float) -> bool:
        """Resolves open feedback; False if it was not open."""

    def add_answer(self, answer: CuratedAnswer) -> None:
        """Stores a curated answer."""

    def answers(self) -> List[CuratedAnswer]:
        """Every curated answer, newest first."""

    def remove_answer(self, answer_id: Text) -> bool:
        """Deletes a curated answer; False if there was none."""


class TrainingExamples(Protocol):
    """Where corrected messages become training data (a reviewed NLU file)."""

    def add(self, text: Text, intent: Text) -> bool:
        """Adds an example; False when it was already there."""

    def intents(self) -> List[Text]:
        """The intents an example may be given."""
