"""Metrics on the real prometheus_client: the chat client's measurements against a
server speaking OpenAI's API, the exposition, and the worker's metrics server."""

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bilingual_assistant.adapters.openai_chat import ChatClient, CircuitBreaker
from bilingual_assistant.adapters.prometheus import MetricsServer, PrometheusRecorder
from bilingual_assistant.config import LLMSettings
from bilingual_assistant.errors import ConfigurationError, LLMUnavailableError
from tests.fakes.openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "[1] T\nThe VPN is vpn.example.\n\nQuestion: VPN?"}]


def samples(recorder: PrometheusRecorder):
    """{(sample name, sorted labels): value} from the exposition text, as Prometheus
    would read it."""
    text = recorder.exposition()[0].decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


async def test_the_chat_client_reports_latency_outcomes_tokens_and_the_breaker(fake):
    recorder = PrometheusRecorder("actions")

    async def no_wait(_: float) -> None:
        return None

    now = [0.0]
    client = ChatClient(LLMSettings(base_url=fake.base_url, model="m", api_key="k",
                                    max_retries=0, timeout_seconds=5.0),
                        breaker=CircuitBreaker(failures=1, reset_seconds=30,
                                               clock=lambda: now[0]),
                        sleep=no_wait, recorder=recorder)
    await client.complete(MESSAGES)
    found = samples(recorder)
    assert found[("assistant_llm_seconds_count", (("outcome", "ok"),))] == 1
    assert found[("assistant_llm_tokens_total", (("kind", "prompt"),))] == 10
    assert found[("assistant_llm_tokens_total", (("kind", "completion"),))] == 5
    assert found[("assistant_llm_breaker_open", ())] == 0
    assert found[("assistant_llm_waiting", ())] == 0
    fake.statuses = [500]
    with pytest.raises(LLMUnavailableError):
        await client.complete(MESSAGES)
    with pytest.raises(LLMUnavailableError, match="circuit open"):
        await client.complete(MESSAGES)
    await client.close()
    found = samples(recorder)
    assert found[("assistant_llm_seconds_count", (("outcome", "unavailable"),))] == 1
    assert found[("assistant_llm_seconds_count", (("outcome", "circuit_open"),))] == 1
    assert found[("assistant_llm_breaker_open", ())] == 1
    now[0] = 31.0  # half-open: one call may try
    assert samples(recorder)[("assistant_llm_breaker_open", ())] == 0


def test_a_gauge_that_cannot_be_read_keeps_its_last_value_and_the_scrape_works(caplog):
    recorder = PrometheusRecorder("api")
    backlog = iter([4])

    def read() -> float:
        return next(backlog)  # StopIteration on the second scrape: the database is down

    recorder.watch("assistant_jobs_backlog", read)
    assert samples(recorder)[("assistant_jobs_backlog", ())] == 4
    assert samples(recorder)[("assistant_jobs_backlog", ())] == 4
    assert any(r.getMessage() == "metrics.read_failed" for r in caplog.records)


def test_a_metric_of_another_process_is_refused():
    with pytest.raises(ConfigurationError, match="not declared for api"):
        PrometheusRecorder("api").observe("assistant_lock_wait_seconds", 1.0)
    with pytest.raises(ConfigurationError, match="No metrics"):
        PrometheusRecorder("nobody")


def fetch(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_worker_metrics_server_wants_the_token():
    recorder = PrometheusRecorder("worker")
    recorder.observe("assistant_job_seconds", 3.0, kind="ingest", outcome="succeeded")
    server = MetricsServer(recorder, "127.0.0.1", 0, "t0ken").start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert fetch(f"{base}/metrics")[0] == 401
        assert fetch(f"{base}/metrics", {"Authorization": "Bearer wrong"})[0] == 401
        status, text = fetch(f"{base}/metrics", {"Authorization": "Bearer t0ken"})
        assert status == 200
        assert 'assistant_job_seconds_count{kind="ingest",outcome="succeeded"} 1.0' in text
        assert fetch(f"{base}/other", {"Authorization": "Bearer t0ken"})[0] == 404
    finally:
        server.stop()
    open_server = MetricsServer(recorder, "127.0.0.1", 0, "").start()
    try:
        base = f"http://127.0.0.1:{open_server.port}"
        assert fetch(f"{base}/metrics")[0] == 200  # loopback, no token set
        assert fetch(f"{base}/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 401
    finally:
        open_server.stop()


def test_the_worker_metrics_server_will_not_listen_beyond_loopback_without_a_token():
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        MetricsServer(PrometheusRecorder("worker"), "0.0.0.0", 0, "")
