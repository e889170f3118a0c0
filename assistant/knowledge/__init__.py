"""The knowledge base: documents, chunks, embeddings, Milvus store and retrieval."""

from __future__ import annotations

from assistant.knowledge.embedder import Embedder, TransformerEmbedder, make_embedder
from assistant.knowledge.retrieval import Passage, Retriever
from assistant.knowledge.store import MilvusKnowledgeStore
from assistant.settings import KnowledgeSettings


def build_embedder(settings: KnowledgeSettings) -> Embedder:
    """The embedder named by the settings (loaded on first use)."""
    return make_embedder(settings.embedding_model)


def build_store(settings: KnowledgeSettings, embedder: Embedder) -> MilvusKnowledgeStore:
    """The Milvus store named by the settings (connects on first use)."""
    return MilvusKnowledgeStore(settings, embedder.dim)


def build_retriever(settings: KnowledgeSettings) -> Retriever:
    """Embedder, store and retriever wired from the settings."""
    embedder = build_embedder(settings)
    return Retriever(
        build_store(settings, embedder), embedder, settings.top_k, settings.min_score
    )


__all__ = [
    "Embedder",
    "MilvusKnowledgeStore",
    "Passage",
    "Retriever",
    "TransformerEmbedder",
    "build_embedder",
    "build_retriever",
    "build_store",
]
