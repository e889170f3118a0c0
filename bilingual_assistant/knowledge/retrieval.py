"""Hybrid retrieval: dense and BM25 results fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Text

from bilingual_assistant.config import RetrievalSettings
from bilingual_assistant.errors import InputError
from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.chunking import Chunk
from bilingual_assistant.knowledge.embedder import Embedder
from bilingual_assistant.knowledge.store import Hit, SearchableStore

MODES = ("dense", "bm25", "hybrid")
RRF_K = 60
# Results taken from each search (dense, BM25) before fusion.
CANDIDATES = 20


@dataclass(frozen=True)
class Passage:
    """A retrieved passage.

    Attributes:
        chunk: the chunk.
        score: the fused score (RRF), or the single search's score.
        similarity: cosine similarity with the query (None if not computed).
    """

    chunk: Chunk
    score: float
    similarity: Optional[float]


def rrf_fuse(rankings: Sequence[Sequence[Hit]], k: int = RRF_K) -> Dict[Text, float]:
    """Reciprocal rank fusion: sum over rankings of 1 / (k + rank)."""
    fused: Dict[Text, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk.id] = fused.get(hit.chunk.id, 0.0) + 1.0 / (k + rank)
    return fused


class Retriever:
    """Finds the passages that best answer a question."""

    def __init__(
        self,
        store: SearchableStore,
        embedder: Embedder,
        settings: RetrievalSettings = RetrievalSettings(),
        candidates: int = CANDIDATES,
    ) -> None:
        """Args:
        store: the knowledge store.
        embedder: the same embedder the documents were indexed with.
        settings: `top_k`, the passages returned, and `min_score`, the cosine
            similarity of the best dense match below which `search` returns
            nothing ("not in the documents").
        candidates: results taken from each search before fusion.
        """
        self.store = store
        self.embedder = embedder
        self.top_k = settings.top_k
        self.min_score = settings.min_score
        self.candidates = max(candidates, settings.top_k)

    def search(
        self, query: Text, mode: Text = "hybrid", top_k: Optional[int] = None,
        reader: Reader = EVERYONE,
    ) -> List[Passage]:
        """Searches the documents `reader` may read.

        Args:
            query: the question (with context from earlier turns if needed).
            mode: `hybrid`, `dense` or `bm25`.
            top_k: overrides the configured number of passages.
            reader: who asks; by default, someone in no group (the documents that
                name no groups).

        Returns:
            The best passages, best first; empty when nothing is relevant enough.
        """
        if mode not in MODES:
            raise InputError(f"Search mode must be one of {', '.join(MODES)}, got {mode!r}.")
        top_k = top_k or self.top_k
        query = query.strip()
        if not query:
            return []
        dense: List[Hit] = []
        similarity: Dict[Text, float] = {}
        if mode in ("dense", "hybrid"):
            vector = self.embedder.embed_queries([query])[0]
            dense = self.store.dense_search(vector, self.candidates, reader)
            similarity = {h.chunk.id: h.score for h in dense}
            if not dense or dense[0].score < self.min_score:
                return []
        if mode == "dense":
            return [Passage(h.chunk, h.score, h.score) for h in dense[:top_k]]
        sparse = self.store.bm25_search(query, self.candidates, reader)
        if mode == "bm25":
            return [Passage(h.chunk, h.score, None) for h in sparse[:top_k]]
        chunks = {h.chunk.id: h.chunk for h in [*dense, *sparse]}
        fused = rrf_fuse([dense, sparse])
        best = sorted(fused, key=lambda cid: fused[cid], reverse=True)[:top_k]
        return [Passage(chunks[cid], fused[cid], similarity.get(cid)) for cid in best]
