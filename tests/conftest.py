"""Shared test set-up: no network, no telemetry, and local fakes of the services
that cannot be reached from here (Open-Meteo, a hosted LLM)."""

from assistant.config import apply_process_defaults

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

import pytest  # noqa: E402

from assistant.config import WeatherSettings  # noqa: E402
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


@pytest.fixture
def fake_llm():
    """A local server speaking OpenAI's chat completions API; counts its calls."""
    from tests.fakes.openai import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of a tiny, randomly initialised BERT model folder (needs PyTorch)."""
    from tests.fakes.tiny_bert import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))
