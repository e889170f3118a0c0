"""Shared test set-up: no network, no telemetry, and a fake Open-Meteo."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from assistant.settings import WeatherSettings  # noqa: E402
from tests.fakes.open_meteo import FakeOpenMeteo  # noqa: E402


@pytest.fixture
def open_meteo():
    """A fresh fake Open-Meteo server for one test."""
    server = FakeOpenMeteo().start()
    yield server
    server.stop()


@pytest.fixture
def weather_settings(open_meteo) -> WeatherSettings:
    """Settings that point the real client at the fake server."""
    return WeatherSettings(
        geocoding_url=open_meteo.geocoding_url,
        forecast_url=open_meteo.forecast_url,
        timeout_seconds=1.0,
    )


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory):
    """The project's sample knowledge base indexed into a fresh Milvus Lite file.

    Returns a retriever over it (the default embedder and settings).
    """
    from pathlib import Path

    from assistant.knowledge import Retriever, build_embedder
    from assistant.knowledge.ingest import ingest
    from assistant.knowledge.store import MilvusKnowledgeStore
    from assistant.settings import KnowledgeSettings

    settings = KnowledgeSettings(
        milvus_uri=str(tmp_path_factory.mktemp("kb") / "knowledge.db")
    )
    embedder = build_embedder(settings)
    store = MilvusKnowledgeStore(settings, embedder.dim)
    ingest(Path(__file__).parents[1] / "knowledge", store, embedder)
    yield Retriever(store, embedder, settings.top_k, settings.min_score)
    store.close()


@pytest.fixture
def fake_llm():
    """A local server speaking OpenAI's chat completions API; counts its calls."""
    from tests.fakes.openai import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()
