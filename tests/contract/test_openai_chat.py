import asyncio
import logging
import time

import pytest

from bilingual_assistant.adapters.openai_chat import ChatClient, CircuitBreaker
from bilingual_assistant.config import LLMSettings
from bilingual_assistant.errors import LLMError, LLMUnavailableError, ModelBusyError
from bilingual_assistant.llm.admission import Admission
from tests.fakes.openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "[1] T\nThe VPN is vpn.example.\n\nQuestion: VPN?"}]


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def client_for(fake, **overrides) -> ChatClient:
    settings = LLMSettings(
        base_url=fake.base_url, model="m", api_key=overrides.pop("api_key", "sk-secret"),
        timeout_seconds=overrides.pop("timeout_seconds", 5.0),
        max_retries=overrides.pop("max_retries", 2), **overrides,
    )

    async def no_wait(_: float) -> None:
        return None

    return ChatClient(settings, sleep=no_wait)


async def test_sends_openai_request_and_reads_the_answer(fake):
    client = client_for(fake)
    completion = await client.complete(MESSAGES, max_tokens=50, stop=["\nQ:"], request_id="r1")
    await client.close()
    assert completion.text == "The VPN is vpn.example. [1]"
    assert completion.attempts == 1 and completion.request_id == "r1"
    request = fake.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-secret"
    assert request["headers"]["X-Request-ID"] == "r1"
    assert request["body"] == {
        "model": "m", "messages": MESSAGES, "max_tokens": 50, "temperature": 0.0,
        "stop": ["\nQ:"],
    }


async def test_no_authorization_header_without_a_key(fake):
    client = client_for(fake, api_key="")
    await client.complete(MESSAGES)
    await client.close()
    assert "Authorization" not in fake.requests[0]["headers"]


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_retries_429_and_5xx_then_succeeds(fake, status):
    fake.statuses = [status, status]
    client = client_for(fake)
    completion = await client.complete(MESSAGES)
    await client.close()
    assert completion.attempts == 3 and fake.calls == 3


async def test_gives_up_after_max_retries(fake):
    fake.statuses = [503] * 5
    client = client_for(fake, max_retries=1)
    with pytest.raises(LLMUnavailableError, match="HTTP 503"):
        await client.complete(MESSAGES)
    await client.close()
    assert fake.calls == 2


async def test_client_errors_are_not_retried(fake):
    fake.statuses = [401]
    client = client_for(fake)
    with pytest.raises(LLMError, match="HTTP 401") as raised:
        await client.complete(MESSAGES)
    await client.close()
    assert not isinstance(raised.value, LLMUnavailableError)
    assert fake.calls == 1
    assert client.breaker.state == "closed"


async def test_overall_deadline_is_kept(fake):
    fake.delay_seconds = 2.0
    client = client_for(fake, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError):
        await client.complete(MESSAGES)
    await client.close()
    assert time.monotonic() - started < 1.5


async def test_unreachable_endpoint_is_unavailable():
    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", timeout_seconds=1.0, max_retries=1)
    client = ChatClient(settings)
    with pytest.raises(LLMUnavailableError):
        await client.complete(MESSAGES)
    await client.close()


async def test_logs_carry_the_request_id_and_never_the_key(fake, caplog):
    fake.statuses = [500]
    client = client_for(fake, api_key="sk-very-secret")
    with caplog.at_level(logging.DEBUG):
        await client.complete(MESSAGES, request_id="abc123")
    await client.close()
    records = [r for r in caplog.records if r.name == "bilingual_assistant.adapters.openai_chat"]
    # The failed attempt and the completion are logged (an empty list would make the
    # request-id check below pass on nothing), and each line carries the id.
    assert [r.getMessage() for r in records] == ["llm.retryable_failure", "llm.completion"]
    assert [getattr(r, "request_id", None) for r in records] == ["abc123", "abc123"]
    assert "sk-very-secret" not in caplog.text
    assert all("sk-very-secret" not in str(vars(r)) for r in caplog.records)


async def test_malformed_answer_is_an_error(fake):
    fake.reply = lambda messages: None  # type: ignore[assignment,return-value]
    client = client_for(fake)
    with pytest.raises(LLMError, match="no message content"):
        await client.complete(MESSAGES)
    await client.close()


async def test_circuit_opens_after_repeated_failures_and_recovers(fake):
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_seconds=30, clock=lambda: now[0])
    client = client_for(fake, max_retries=0)
    client.breaker = breaker
    fake.statuses = [500, 500]
    for _ in range(2):
        with pytest.raises(LLMUnavailableError):
            await client.complete(MESSAGES)
    assert breaker.state == "open"
    with pytest.raises(LLMUnavailableError, match="circuit open"):
        await client.complete(MESSAGES)
    assert fake.calls == 2  # the open circuit made no request
    now[0] = 31.0
    assert breaker.state == "half-open"
    completion = await client.complete(MESSAGES)
    await client.close()
    assert completion.text and breaker.state == "closed"


def test_half_open_failure_reopens():
    now = [0.0]
    breaker = CircuitBreaker(failures=3, reset_seconds=10, clock=lambda: now[0])
    for _ in range(3):
        breaker.record_failure()
    now[0] = 11
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"


async def test_concurrent_questions_wait_or_are_refused_and_the_breaker_stays_closed(fake):
    """A model that serves one request at a time, three askers at once: the first is
    answered, the second waits its turn, the third could not be answered in time
    and is refused at once; none of it is a failure."""

    fake.delay_seconds = 0.5
    settings = LLMSettings(base_url=fake.base_url, model="m", api_key="k",
                           timeout_seconds=1.4, max_retries=0)
    client = ChatClient(settings, admission=Admission(capacity=1, expected_seconds=0.5))
    results = await asyncio.gather(*(client.complete(MESSAGES) for _ in range(3)),
                                   return_exceptions=True)
    await client.close()
    answered = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ModelBusyError)]
    assert len(answered) == 2 and len(refused) == 1, results
    assert fake.calls == 2  # the refused question never reached the model
    assert client.breaker.state == "closed" and client.breaker.consecutive == 0
