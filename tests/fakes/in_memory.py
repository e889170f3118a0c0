"""In-memory implementations of the library's Protocols, for unit tests.

They behave like the real thing in the ways the code under test relies on (a
search ranks by similarity, a store keeps documents and versions, a model answers
or fails), so the rules around them can be tested without Milvus, a model or a
network. The real implementations are tested against real servers in
`tests/contract/`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Text, Tuple

from bilingual_assistant.access.keys import KeyRecord
from bilingual_assistant.access.sessions import SessionRecord
from bilingual_assistant.conversations.history import ConversationSummary, Turn
from bilingual_assistant.errors import LLMUnavailableError, StoreError
from bilingual_assistant.feedback.models import CuratedAnswer, Feedback
from bilingual_assistant.handoff.models import Handoff, HandoffMessage
from bilingual_assistant.jobs.models import Job
from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.analysis import bm25_text
from bilingual_assistant.knowledge.chunking import Chunk
from bilingual_assistant.knowledge.hit_testing import HitTestRun
from bilingual_assistant.knowledge.retrieval import Passage
from bilingual_assistant.knowledge.store import Hit
from bilingual_assistant.llm.chat import ChatMessage, Completion
from bilingual_assistant.text import HAN_RANGE


def terms(text: Text) -> List[Text]:
    """Lower-cased words and Chinese character pairs."""
    lowered = text.lower()
    han = "".join(re.findall(f"[{HAN_RANGE}]", lowered))
    return re.findall(r"[a-z0-9]+", lowered) + [han[i:i + 2] for i in range(len(han) - 1)]


class HashingEmbedder:
    """Bag of words and Chinese character pairs, hashed into `dim` buckets, unit length."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def embed(self, texts: Sequence[Text]) -> List[List[float]]:
        self.calls += 1
        vectors = []
        for text in texts:
            vector = [0.0] * self.dim
            for term in terms(text):
                bucket = int(hashlib.md5(term.encode()).hexdigest(), 16) % self.dim
                vector[bucket] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            vectors.append([v / norm for v in vector])
        return vectors

    def embed_queries(self, texts: Sequence[Text]) -> List[List[float]]:
        return self.embed(texts)


class InMemoryStore:
    """A `KnowledgeStore` in a dict: cosine for dense search, term overlap for BM25."""

    def __init__(self) -> None:
        self.rows: Dict[Text, List[Tuple[Chunk, List[float]]]] = {}
        self.folders: Dict[Text, Text] = {}  # source -> the folder it was indexed from
        self._version = "empty"
        self.versions = 0
        self.failing = False

    def _check(self) -> None:
        if self.failing:
            raise StoreError("the in-memory store is set to fail")

    def indexed_documents(self) -> Dict[Text, Text]:
        self._check()
        return {source: rows[0][0].content_hash for source, rows in self.rows.items() if rows}

    def replace_document(self, source: Text, chunks: Sequence[Chunk],
                         vectors: Sequence[Sequence[float]]) -> None:
        self._check()
        self.rows[source] = [(c, list(v)) for c, v in zip(chunks, vectors, strict=True)]

    def delete_document(self, source: Text) -> None:
        self._check()
        self.rows.pop(source, None)
        self.folders.pop(source, None)

    def document_readers(self) -> Dict[Text, Tuple[Text, ...]]:
        self._check()
        return {source: rows[0][0].readers for source, rows in self.rows.items() if rows}

    def document_folders(self) -> Dict[Text, Text]:
        self._check()
        return dict(self.folders)

    def record_folders(self, folders: Mapping[Text, Text]) -> None:
        self._check()
        self.folders.update(folders)

    def bump_version(self) -> Text:
        self._check()
        self.versions += 1
        self._version = f"v{self.versions}"
        return self._version

    def version(self) -> Text:
        self._check()
        return self._version

    def drop(self) -> None:
        self._check()
        self.rows.clear()
        self.folders.clear()

    def _all(self) -> List[Tuple[Chunk, List[float]]]:
        return [row for rows in self.rows.values() for row in rows]

    def dense_search(self, vector: Sequence[float], limit: int,
                     reader: Reader = EVERYONE) -> List[Hit]:
        self._check()
        scored = [Hit(chunk, sum(a * b for a, b in zip(vector, v, strict=True)))
                  for chunk, v in self._all() if reader.may_read(chunk.readers)]
        return sorted(scored, key=lambda h: h.score, reverse=True)[:limit]

    def bm25_search(self, query: Text, limit: int, reader: Reader = EVERYONE) -> List[Hit]:
        self._check()
        wanted = set(terms(bm25_text(query)))
        scored = [Hit(chunk, float(len(wanted & set(terms(bm25_text(chunk.text))))))
                  for chunk, _ in self._all() if reader.may_read(chunk.readers)]
        return sorted((h for h in scored if h.score > 0), key=lambda h: h.score,
                      reverse=True)[:limit]


def chunk(source: Text, passage: Text, title: Text = "", index: int = 0) -> Chunk:
    """A chunk as ingestion makes it: the title line, then the passage."""
    title = title or source.rsplit("/", 1)[-1]
    return Chunk(f"{source}#{index}", source, title, "", index, f"{title}\n{passage}", "hash")


class StaticSearch:
    """A `PassageSearch` that returns fixed passages (or fails), counting its calls."""

    def __init__(self, *chunks: Chunk) -> None:
        self.passages = [Passage(c, 1.0 / (n + 1), 0.9) for n, c in enumerate(chunks)]
        self.queries: List[Text] = []
        self.failing = False

    def search(self, query: Text, reader: Reader = EVERYONE) -> List[Passage]:
        self.queries.append(query)
        if self.failing:
            raise StoreError("the knowledge store is set to fail")
        return [p for p in self.passages if reader.may_read(p.chunk.readers)]


class ScriptedChatModel:
    """A `ChatModel` whose answers a test scripts; it records every request."""

    def __init__(self, reply: Callable[[Sequence[ChatMessage]], Text] = lambda m: "",
                 fail: bool = False, delay_seconds: float = 0.0,
                 failure: type = LLMUnavailableError) -> None:
        self.reply = reply
        self.fail = fail
        self.failure = failure  # what `fail` raises
        self.delay_seconds = delay_seconds
        self.requests: List[List[ChatMessage]] = []
        self.stops: List[Optional[List[Text]]] = []
        self.max_tokens: List[Optional[int]] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def complete(self, messages: Sequence[ChatMessage], max_tokens: Optional[int] = None,
                       temperature: float = 0.0, stop: Optional[List[Text]] = None,
                       request_id: Optional[Text] = None) -> Completion:
        self.requests.append(list(messages))
        self.stops.append(stop)
        self.max_tokens.append(max_tokens)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail:
            raise self.failure("the scripted model is set to fail")
        return Completion(self.reply(messages), "scripted", "id", 0.0, 1)


class InMemoryKeyStore:
    """A `KeyStore` in a dict."""

    def __init__(self) -> None:
        self.records: Dict[Text, KeyRecord] = {}

    def add(self, record: KeyRecord) -> None:
        self.records[record.id] = record

    def get(self, key_id: Text) -> Optional[KeyRecord]:
        return self.records.get(key_id)

    def all(self) -> List[KeyRecord]:
        return sorted(self.records.values(), key=lambda r: -r.created_at)

    def mark_used(self, key_id: Text, at: float) -> None:
        record = self.records.get(key_id)
        if record is not None and record.revoked_at is None:
            self.records[key_id] = replace(record, last_used_at=at)

    def mark_revoked(self, key_id: Text, at: float) -> None:
        record = self.records.get(key_id)
        if record is not None and record.revoked_at is None:
            self.records[key_id] = replace(record, revoked_at=at)


class InMemoryHitTestLog:
    """A `HitTestLog` in a list."""

    def __init__(self) -> None:
        self.runs: List[HitTestRun] = []

    def add(self, run: HitTestRun) -> None:
        self.runs.append(run)

    def recent(self, limit: int, subject: Optional[Text] = None) -> List[HitTestRun]:
        return sorted((r for r in self.runs if subject in (None, r.subject)),
                      key=lambda r: -r.created_at)[:limit]

    def get(self, run_id: Text) -> Optional[HitTestRun]:
        return next((r for r in self.runs if r.id == run_id), None)


class InMemoryJobStore:
    """A `JobStore` in dicts, with the same guarded changes as the SQL one."""

    def __init__(self) -> None:
        self.jobs: Dict[Text, Job] = {}
        self.locks: Dict[Text, Tuple[Text, float]] = {}
        self.workers: Dict[Text, float] = {}

    def add(self, job: Job) -> None:
        self.jobs[job.id] = job

    def get(self, job_id: Text) -> Optional[Job]:
        return self.jobs.get(job_id)

    def recent(self, limit: int) -> List[Job]:
        return sorted(self.jobs.values(), key=lambda j: -j.created_at)[:limit]

    def _set(self, job_id: Text, states: Tuple[Text, ...], **values: Any) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state not in states:
            return False
        self.jobs[job_id] = replace(job, **values)
        return True

    def claim(self, job_id: Text, worker: Text, now: float) -> bool:
        return self._set(job_id, ("queued",), state="running", worker=worker,
                         started_at=now, heartbeat_at=now, message="started")

    def report(self, job_id: Text, progress: float, message: Text, now: float) -> None:
        self._set(job_id, ("running",), progress=progress, message=message,
                  heartbeat_at=now)

    def heartbeat(self, job_id: Text, now: float) -> None:
        self._set(job_id, ("running",), heartbeat_at=now)

    def finish(self, job_id: Text, state: Text, message: Text, error: Optional[Text],
               now: float) -> None:
        extra = {"progress": 1.0} if state == "succeeded" else {}
        self._set(job_id, ("queued", "running"), state=state, message=message, error=error,
                  finished_at=now, **extra)

    def fail_stale(self, before: float, now: float, reason: Text) -> List[Text]:
        stale = [j.id for j in self.jobs.values()
                 if j.state == "running" and (j.heartbeat_at or 0) < before]
        for job_id in stale:
            self._set(job_id, ("running",), state="failed", message="failed", error=reason,
                      finished_at=now)
        return stale

    def acquire(self, name: Text, owner: Text, now: float, ttl: float) -> bool:
        held = self.locks.get(name)
        if held and held[0] != owner and held[1] >= now:
            return False
        self.locks[name] = (owner, now + ttl)
        return True

    def release(self, name: Text, owner: Text) -> None:
        if self.locks.get(name, ("",))[0] == owner:
            del self.locks[name]

    def worker_alive(self, name: Text, now: float) -> None:
        self.workers[name] = now

    def last_worker_seen(self) -> Optional[float]:
        return max(self.workers.values(), default=None)

    def unfinished(self) -> int:
        return sum(1 for job in self.jobs.values() if job.state in ("queued", "running"))


class RecordingQueue:
    """A `JobQueue` that keeps what it was given (or fails)."""

    def __init__(self) -> None:
        self.sent: List[Job] = []
        self.failure: Optional[Exception] = None

    def enqueue(self, job: Job) -> None:
        if self.failure:
            raise self.failure
        self.sent.append(job)


class InMemorySessionStore:
    """A `SessionStore` in a dict."""

    def __init__(self) -> None:
        self.sessions: Dict[Text, SessionRecord] = {}

    def add(self, record: SessionRecord) -> None:
        self.sessions[record.digest] = record

    def get(self, digest: Text) -> Optional[SessionRecord]:
        return self.sessions.get(digest)

    def remove(self, digest: Text) -> None:
        self.sessions.pop(digest, None)


class InMemoryFeedbackStore:
    """A `FeedbackStore` in dicts."""

    def __init__(self) -> None:
        self.items: Dict[Text, Feedback] = {}
        self.curated: Dict[Text, CuratedAnswer] = {}

    def add(self, feedback: Feedback) -> None:
        self.items[feedback.id] = feedback

    def get(self, feedback_id: Text) -> Optional[Feedback]:
        return self.items.get(feedback_id)

    def recent(self, status: Optional[Text], limit: int) -> List[Feedback]:
        found = [f for f in self.items.values() if status is None or f.status == status]
        return sorted(found, key=lambda f: -f.created_at)[:limit]

    def resolve(self, feedback_id: Text, resolution: Text, detail: Optional[Text],
                by: Text, now: float) -> bool:
        item = self.items.get(feedback_id)
        if item is None or item.status != "open":
            return False
        self.items[feedback_id] = replace(item, status="resolved", resolution=resolution,
                                          detail=detail, resolved_by=by, resolved_at=now)
        return True

    def add_answer(self, answer: CuratedAnswer) -> None:
        self.curated[answer.id] = answer

    def answers(self) -> List[CuratedAnswer]:
        return sorted(self.curated.values(), key=lambda a: -a.created_at)

    def remove_answer(self, answer_id: Text) -> bool:
        return self.curated.pop(answer_id, None) is not None


class ListedExamples:
    """`TrainingExamples` in a dict."""

    def __init__(self, *intents: Text) -> None:
        self.known = list(intents)
        self.examples: Dict[Text, List[Text]] = {}

    def add(self, text: Text, intent: Text) -> bool:
        if text in self.examples.get(intent, []):
            return False
        self.examples.setdefault(intent, []).append(text)
        return True

    def intents(self) -> List[Text]:
        return list(self.known)


class InMemoryTurnStore:
    """A `TurnStore` in a list."""

    def __init__(self) -> None:
        self.items: List[Turn] = []

    def add(self, turn: Turn) -> None:
        self.items.append(turn)

    def turns(self, subject: Text, conversation: Text, limit: int) -> List[Turn]:
        found = [t for t in self.items
                 if t.subject == subject and t.conversation == conversation]
        return sorted(found, key=lambda t: t.created_at)[-limit:]

    def conversations(self, subject: Text, limit: int) -> List[ConversationSummary]:
        by_name: Dict[Text, List[Turn]] = {}
        for turn in sorted(self.items, key=lambda t: t.created_at):
            if turn.subject == subject:
                by_name.setdefault(turn.conversation, []).append(turn)
        summaries = [ConversationSummary(name, len(turns), turns[0].created_at,
                                         turns[-1].created_at, turns[0].message)
                     for name, turns in by_name.items()]
        return sorted(summaries, key=lambda s: -s.last_at)[:limit]


class InMemoryHandoffStore:
    """A `HandoffStore` in dicts, with the SQL store's conditional changes."""

    def __init__(self) -> None:
        self.handoffs: Dict[Text, Handoff] = {}
        self.said: Dict[Text, List[HandoffMessage]] = {}

    def open(self, handoff: Handoff) -> Handoff:
        existing = self.open_for(handoff.conversation)
        if existing is not None:
            return existing
        self.handoffs[handoff.id] = handoff
        return handoff

    def get(self, handoff_id: Text) -> Optional[Handoff]:
        return self.handoffs.get(handoff_id)

    def open_for(self, conversation: Text) -> Optional[Handoff]:
        return next((h for h in self.handoffs.values()
                     if h.conversation == conversation and h.is_open), None)

    def listed(self, states: Sequence[Text], limit: int) -> List[Handoff]:
        return sorted((h for h in self.handoffs.values() if h.state in states),
                      key=lambda h: h.created_at)[:limit]

    def claim(self, handoff_id: Text, agent: Text, now: float) -> bool:
        handoff = self.handoffs.get(handoff_id)
        if handoff is None or handoff.state != "waiting":
            return False
        self.handoffs[handoff_id] = replace(handoff, state="claimed", agent=agent,
                                            claimed_at=now)
        return True

    def replied(self, handoff_id: Text, now: float) -> None:
        handoff = self.handoffs[handoff_id]
        if handoff.first_reply_at is None:
            self.handoffs[handoff_id] = replace(handoff, first_reply_at=now)

    def close(self, handoff_id: Text, outcome: Text, now: float) -> bool:
        handoff = self.handoffs.get(handoff_id)
        if handoff is None or not handoff.is_open:
            return False
        self.handoffs[handoff_id] = replace(handoff, state="closed", outcome=outcome,
                                            closed_at=now)
        return True

    def add_message(self, message: HandoffMessage) -> HandoffMessage:
        said = self.said.setdefault(message.handoff_id, [])
        numbered = replace(message, number=len(said) + 1, sources=tuple(message.sources))
        said.append(numbered)
        return numbered

    def messages(self, handoff_id: Text) -> List[HandoffMessage]:
        return list(self.said.get(handoff_id, []))
