"""The command-line tools' composition root."""

from __future__ import annotations

from typing import Tuple

from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.config import Settings
from bilingual_assistant.knowledge.embedder import Embedder, make_embedder


def build_index(settings: Settings) -> Tuple[Embedder, MilvusKnowledgeStore]:
    """The embedder and the knowledge store that ingestion writes to."""
    embedder = make_embedder(settings.knowledge.embedding_model, settings.paths.encoders_dir)
    return embedder, MilvusKnowledgeStore(settings.knowledge, embedder.dim)
