"""Shared test set-up: no network, no telemetry, local fakes of the services that
cannot be reached from here (Open-Meteo, a hosted LLM), and fresh databases on the
PostgreSQL and Redis this machine runs."""

from bilingual_assistant.config import apply_process_defaults

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

import uuid  # noqa: E402

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bilingual_assistant.config import WeatherSettings  # noqa: E402
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


def require_redis(url: str) -> None:
    """Fails the calling test (never skips it) when the Redis at `url` does not answer:
    this machine and CI run one at 127.0.0.1:6379, so an unreachable Redis is a broken
    set-up, as an unreachable PostgreSQL is for `postgres_url`."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {url} is not reachable: {error}")
    finally:
        client.close()


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def postgres_url():
    """A fresh database on the PostgreSQL at 127.0.0.1:5432, dropped afterwards."""
    name = f"assistant_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {error}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        connection.execute(sa.text(f'DROP DATABASE "{name}"'))
    admin.dispose()
