"""Retrieval-augmented answers with multi-turn memory and an answer cache."""

from __future__ import annotations

from assistant.answers.cache import build_cache
from assistant.answers.models import Answer, Source, Turn
from assistant.answers.service import AnswerService, format_reply
from assistant.knowledge import Retriever, build_embedder, build_store
from assistant.llm.client import ChatClient
from assistant.settings import Settings


def build_answer_service(settings: Settings) -> AnswerService:
    """Retriever, Milvus store, LLM client and cache wired from the settings."""
    embedder = build_embedder(settings.knowledge)
    store = build_store(settings.knowledge, embedder)
    retriever = Retriever(
        store, embedder, settings.knowledge.top_k, settings.knowledge.min_score
    )
    cache = build_cache(
        settings.cache.redis_url, settings.cache.max_entries, settings.cache.ttl_seconds
    )
    return AnswerService(
        retriever,
        cache,
        version=store.version,
        llm=ChatClient(settings.llm),
        llm_languages=settings.llm.languages,
    )


__all__ = ["Answer", "AnswerService", "Source", "Turn", "build_answer_service", "format_reply"]
