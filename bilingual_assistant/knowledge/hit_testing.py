"""Hit testing: which passages the assistant would read for each of a list of
questions, with their scores, kept as a history of runs."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Text

from bilingual_assistant.errors import InputError, NotFoundError
from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.retrieval import MODES, Passage

MAX_QUESTIONS = 200  # a batch larger than this is a job, not a request
MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
PREVIEW_CHARS = 400


class Search(Protocol):
    """The retriever's search (`Retriever.search`)."""

    def search(self, query: Text, mode: Text = "hybrid", top_k: Optional[int] = None,
               reader: Reader = EVERYONE) -> List[Passage]:
        """The best passages for `query` among those `reader` may read, best first."""


class HitTestLog(Protocol):
    """Where runs are kept (a SQL table in the service; a list in tests)."""

    def add(self, run: HitTestRun) -> None:
        """Keeps a run."""

    def recent(self, limit: int, subject: Optional[Text] = None) -> List[HitTestRun]:
        """The newest runs (of `subject` only, when given), newest first."""

    def get(self, run_id: Text) -> Optional[HitTestRun]:
        """The run with this id, or None."""


@dataclass(frozen=True)
class Hit:
    """One passage found for a question."""

    rank: int
    source: Text
    title: Text
    heading: Text
    passage: Text  # the passage's start, up to `PREVIEW_CHARS`
    score: float  # the fused score (RRF) or the single search's
    similarity: Optional[float]  # cosine similarity with the question


@dataclass(frozen=True)
class QuestionResult:
    """What one question found: nothing means the assistant says it does not know."""

    question: Text
    hits: List[Hit]
    milliseconds: float

    @property
    def answered(self) -> bool:
        """Whether any passage passed the relevance threshold."""
        return bool(self.hits)


@dataclass(frozen=True)
class HitTestRun:
    """One hit test: its questions and what each found."""

    id: Text
    created_at: float
    subject: Text  # who ran it
    mode: Text
    top_k: int
    results: List[QuestionResult]

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form (also how the log stores it)."""
        payload = asdict(self)
        for result, stored in zip(self.results, payload["results"], strict=True):
            stored["answered"] = result.answered
        payload["answered"] = sum(r.answered for r in self.results)
        return payload

    @classmethod
    def from_payload(cls, data: Dict[Text, Any]) -> HitTestRun:
        """Inverse of `to_payload`."""
        return cls(
            id=data["id"], created_at=data["created_at"], subject=data["subject"],
            mode=data["mode"], top_k=data["top_k"],
            results=[QuestionResult(r["question"], [Hit(**h) for h in r["hits"]],
                                    r["milliseconds"]) for r in data["results"]])


def check_questions(questions: Sequence[Text]) -> List[Text]:
    """The questions, stripped.

    Raises:
        InputError: for none, too many, an empty one or an over-long one.
    """
    cleaned = [q.strip() for q in questions]
    if not cleaned:
        raise InputError("Give at least one question.")
    if len(cleaned) > MAX_QUESTIONS:
        raise InputError(f"At most {MAX_QUESTIONS} questions per run; split the list.")
    for number, question in enumerate(cleaned, start=1):
        if not question:
            raise InputError(f"Question {number} is empty.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(
                f"Question {number} is longer than {MAX_QUESTION_CHARS} characters.")
    return cleaned


class HitTester:
    """Runs hit tests against the knowledge base and keeps their history."""

    def __init__(self, search: Search, log: HitTestLog,
                 clock: Callable[[], float] = time.time,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        """Args:
        search: the retriever the assistant answers with.
        log: where runs are kept.
        clock: seconds since the epoch; timer: a monotonic clock (tests pass theirs).
        """
        self.search = search
        self.log = log
        self.clock = clock
        self.timer = timer

    def run(self, questions: Sequence[Text], subject: Text, mode: Text = "hybrid",
            top_k: int = 5, reader: Reader = EVERYONE) -> HitTestRun:
        """Searches every question as the assistant would for `reader` (the tester:
        their groups' documents and everyone's), and keeps the run.

        Raises:
            InputError: for bad questions, an unknown mode or `top_k` out of 1..20.
            StoreError: when the knowledge store cannot be searched.
        """
        cleaned = check_questions(questions)
        if mode not in MODES:
            raise InputError(f"Mode must be one of {', '.join(MODES)}, got {mode!r}.")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}.")
        results = []
        for question in cleaned:
            started = self.timer()
            passages = self.search.search(question, mode=mode, top_k=top_k, reader=reader)
            hits = [Hit(rank, p.chunk.source, p.chunk.title, p.chunk.heading,
                        p.chunk.passage[:PREVIEW_CHARS], round(p.score, 6),
                        None if p.similarity is None else round(p.similarity, 6))
                    for rank, p in enumerate(passages, start=1)]
            results.append(QuestionResult(question, hits,
                                          round((self.timer() - started) * 1000, 2)))
        run = HitTestRun(secrets.token_hex(8), self.clock(), subject, mode, top_k, results)
        self.log.add(run)
        return run

    def history(self, limit: int = 20, subject: Optional[Text] = None) -> List[HitTestRun]:
        """The newest runs (of `subject` only, when given: a run shows passages of
        the documents its tester may read), newest first."""
        return self.log.recent(max(1, min(limit, 100)), subject)

    def get(self, run_id: Text) -> HitTestRun:
        """One run.

        Raises:
            NotFoundError: when there is no run with this id.
        """
        run = self.log.get(run_id)
        if run is None:
            raise NotFoundError(f"No hit-test run has the id {run_id!r}.")
        return run
