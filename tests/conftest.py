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
