"""Curated answers: written by an administrator for a question, served before the
LLM for the same or a very similar question (in the same language)."""

from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional, Sequence, Text, Tuple

from bilingual_assistant.answers.cache import normalise_question
from bilingual_assistant.feedback.models import CuratedAnswer
from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.embedder import Embedder

# Cosine similarity of the question's and the curated question's embeddings above
# which the curated answer is served (same language): paraphrases, not neighbours.
SIMILAR = 0.9
REFRESH_SECONDS = 5.0


class CuratedAnswers:
    """Finds the curated answer for a question, if any."""

    def __init__(self, load: Callable[[], List[CuratedAnswer]], embedder: Embedder,
                 similar: float = SIMILAR, refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Args:
        load: every curated answer (the services' database).
        embedder: embeds questions (the knowledge base's embedder).
        similar: the cosine similarity that counts as the same question.
        refresh_seconds: how often the answers are loaded again.
        """
        self.load, self.embedder, self.similar = load, embedder, similar
        self.refresh_seconds, self.clock = refresh_seconds, clock
        self._lock = threading.Lock()
        self._loaded_at = -1e9
        self._entries: List[Tuple[CuratedAnswer, Sequence[float]]] = []
        self._ids: Tuple[Text, ...] = ()

    def _current(self) -> List[Tuple[CuratedAnswer, Sequence[float]]]:
        with self._lock:
            if self.clock() - self._loaded_at < self.refresh_seconds:
                return self._entries
            answers = self.load()
            ids = tuple(a.id for a in answers)
            if ids != self._ids:
                questions = [a.question for a in answers]
                vectors = self.embedder.embed_queries(questions) if answers else []
                self._entries = list(zip(answers, vectors, strict=True))
                self._ids = ids
            self._loaded_at = self.clock()
            return self._entries

    def find(self, question: Text, language: Text,
             reader: Reader = EVERYONE) -> Optional[CuratedAnswer]:
        """The curated answer for `question` that `reader` may be served: the same
        words, or a paraphrase."""
        entries = [e for e in self._current()
                   if e[0].language == language and reader.may_read(e[0].groups)]
        if not entries:
            return None
        wanted = normalise_question(question)
        for answer, _ in entries:
            if normalise_question(answer.question) == wanted:
                return answer
        vector = self.embedder.embed_queries([question])[0]
        best, score = None, -1.0
        for answer, other in entries:
            cosine = sum(a * b for a, b in zip(vector, other, strict=True))
            if cosine > score:
                best, score = answer, cosine
        return best if score >= self.similar else None
