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
from typing import Callable, Dict, List, Optional, Sequence, Text, Tuple

from assistant.errors import LLMUnavailableError, StoreError
from assistant.knowledge.analysis import bm25_text
from assistant.knowledge.chunking import Chunk
from assistant.knowledge.retrieval import Passage
from assistant.knowledge.store import Hit
from assistant.llm.chat import ChatMessage, Completion
from assistant.text import HAN_RANGE


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


class InMemoryStore:
    """A `KnowledgeStore` in a dict: cosine for dense search, term overlap for BM25."""

    def __init__(self) -> None:
        self.rows: Dict[Text, List[Tuple[Chunk, List[float]]]] = {}
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

    def bump_version(self) -> Text:
        self._check()
        self.versions += 1
        self._version = f"v{self.versions}"
        return self._version

    def version(self) -> Text:
        self._check()
        return self._version

    def _all(self) -> List[Tuple[Chunk, List[float]]]:
        return [row for rows in self.rows.values() for row in rows]

    def dense_search(self, vector: Sequence[float], limit: int) -> List[Hit]:
        self._check()
        scored = [Hit(chunk, sum(a * b for a, b in zip(vector, v, strict=True)))
                  for chunk, v in self._all()]
        return sorted(scored, key=lambda h: h.score, reverse=True)[:limit]

    def bm25_search(self, query: Text, limit: int) -> List[Hit]:
        self._check()
        wanted = set(terms(bm25_text(query)))
        scored = [Hit(chunk, float(len(wanted & set(terms(bm25_text(chunk.text))))))
                  for chunk, _ in self._all()]
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

    def search(self, query: Text) -> List[Passage]:
        self.queries.append(query)
        if self.failing:
            raise StoreError("the knowledge store is set to fail")
        return list(self.passages)


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
