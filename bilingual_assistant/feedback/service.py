"""Collecting feedback and acting on it: an intent corrected becomes a training
example, a written answer a curated answer, a question a gap in the documents."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Text

from bilingual_assistant.errors import InputError, NotFoundError
from bilingual_assistant.feedback.models import (
    MAX_TEXT,
    CuratedAnswer,
    Feedback,
    FeedbackStore,
    TrainingExamples,
)
from bilingual_assistant.knowledge.access import check_groups
from bilingual_assistant.text import detect_language

logger = logging.getLogger(__name__)


def _text(value: Text, what: Text, required: bool = True, limit: int = MAX_TEXT) -> Text:
    value = (value or "").strip()
    if required and not value:
        raise InputError(f"Give the {what}.")
    if len(value) > limit:
        raise InputError(f"The {what} is longer than {limit} characters.")
    return value


class FeedbackService:
    """The review queue."""

    def __init__(self, store: FeedbackStore, examples: TrainingExamples,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.examples, self.clock = store, examples, clock

    def submit(self, subject: Text, conversation: Text, rating: int, reason: Text,
               message: Text, reply: Text, sources: Sequence[Dict[Text, Any]] = (),
               intent: Optional[Text] = None,
               confidence: Optional[float] = None) -> Feedback:
        """Stores a rating of one reply; a thumbs down goes to the review queue.

        Raises:
            InputError: for a rating other than 1 or -1, or missing or over-long texts.
        """
        if rating not in (1, -1):
            raise InputError("The rating is 1 (thumbs up) or -1 (thumbs down).")
        feedback = Feedback(
            id=secrets.token_hex(8), created_at=self.clock(), subject=subject,
            conversation=conversation, rating=rating,
            reason=_text(reason, "reason", required=False, limit=1000),
            message=_text(message, "message the reply answered"),
            reply=_text(reply, "reply", limit=20000), intent=intent, confidence=confidence,
            sources=[{k: s.get(k) for k in ("number", "title", "source")} for s in sources],
            status="open" if rating < 0 else "resolved",
            resolution=None if rating < 0 else "dismissed",
            detail=None if rating < 0 else "thumbs up")
        self.store.add(feedback)
        logger.info("feedback.received", extra={"rating": rating, "intent": intent})
        return feedback

    def queue(self, status: Optional[Text] = "open", limit: int = 50) -> List[Feedback]:
        """The newest feedback of a status (`open`, `resolved`, or all with None)."""
        if status not in (None, "open", "resolved"):
            raise InputError("The status is open or resolved.")
        return self.store.recent(status, max(1, min(limit, 500)))

    def _open(self, feedback_id: Text) -> Feedback:
        feedback = self.store.get(feedback_id)
        if feedback is None:
            raise NotFoundError(f"No feedback has the id {feedback_id!r}.")
        if feedback.status != "open":
            raise InputError(f"Feedback {feedback_id} is already resolved "
                             f"({feedback.resolution}).")
        return feedback

    def _resolve(self, feedback: Feedback, resolution: Text, detail: Optional[Text],
                 by: Text) -> Feedback:
        if not self.store.resolve(feedback.id, resolution, detail, by, self.clock()):
            raise InputError(f"Feedback {feedback.id} was resolved meanwhile.")
        resolved = self.store.get(feedback.id)
        assert resolved is not None
        logger.info("feedback.resolved", extra={"resolution": resolution, "by": by})
        return resolved

    def correct_intent(self, feedback_id: Text, intent: Text, by: Text) -> Feedback:
        """The message was misunderstood: it becomes a training example of `intent`
        (in the reviewed NLU file; the next retrain learns it).

        Raises:
            InputError: for an intent the assistant does not have.
        """
        feedback = self._open(feedback_id)
        known = self.examples.intents()
        if intent not in known:
            raise InputError(f"Unknown intent {intent!r}; one of {', '.join(known)}.")
        added = self.examples.add(feedback.message, intent)
        return self._resolve(feedback, "intent",
                             intent if added else f"{intent} (already an example)", by)

    def write_answer(self, feedback_id: Text, answer: Text, by: Text,
                     groups: Sequence[Text] = ()) -> CuratedAnswer:
        """The right answer, written by an administrator: served from now on for the
        same or a very similar question, before the LLM, to people who may read
        `groups`' documents (empty: everyone)."""
        feedback = self._open(feedback_id)
        curated = self.add_answer(feedback.message, answer, by, feedback.id, groups)
        self._resolve(feedback, "answer", curated.id, by)
        return curated

    def add_answer(self, question: Text, answer: Text, by: Text,
                   feedback_id: Optional[Text] = None,
                   groups: Sequence[Text] = ()) -> CuratedAnswer:
        """A curated answer for a question (also without feedback), for the people
        in `groups` (empty: everyone).

        Raises:
            InputError: for an empty or over-long text, a question in no language
                it knows, or a name that is not a group's.
        """
        question = _text(question, "question", limit=2000)
        language = detect_language(question)
        if language is None:
            raise InputError("The question has no Chinese or English words to match.")
        curated = CuratedAnswer(secrets.token_hex(8), question, _text(answer, "answer"),
                                language, by, self.clock(), feedback_id,
                                check_groups(list(groups), "groups"))
        self.store.add_answer(curated)
        return curated

    def mark_gap(self, feedback_id: Text, note: Text, by: Text) -> Feedback:
        """The documents do not cover the question: kept as a gap to write up."""
        return self._resolve(self._open(feedback_id), "gap",
                             _text(note, "note", required=False, limit=1000) or None, by)

    def dismiss(self, feedback_id: Text, note: Text, by: Text) -> Feedback:
        """Nothing to change."""
        return self._resolve(self._open(feedback_id), "dismissed",
                             _text(note, "note", required=False, limit=1000) or None, by)

    def gaps(self, limit: int = 100) -> List[Feedback]:
        """Questions marked as gaps in the documents, newest first."""
        return [f for f in self.store.recent("resolved", 500) if f.resolution == "gap"][:limit]
