"""One client for OpenAI-compatible chat completions (implements `ChatModel`).

Works with OpenAI, DeepSeek, Qwen/DashScope, Qianfan, vLLM, Ollama and llama.cpp's
server (the embedded default). Every call has an overall deadline shorter than
Rasa's action timeout; 429 and 5xx answers and connection errors are retried with
exponential backoff; a circuit breaker stops calling an endpoint that keeps failing.
Logs carry a request id and never the API key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text

import aiohttp

from bilingual_assistant.config import LLMSettings
from bilingual_assistant.errors import (
    CircuitOpenError,
    LLMError,
    LLMUnavailableError,
    ModelBusyError,
)
from bilingual_assistant.llm.admission import Admission
from bilingual_assistant.llm.chat import ChatMessage, Completion
from bilingual_assistant.metrics import NoRecorder, Recorder

logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}


class CircuitBreaker:
    """Opens after `failures` consecutive failures; lets one call try after `reset_seconds`."""

    def __init__(
        self,
        failures: int = LLMSettings.breaker_failures,
        reset_seconds: float = LLMSettings.breaker_reset_seconds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.consecutive = 0
        self.opened_at: Optional[float] = None

    @property
    def state(self) -> Text:
        """`closed` (calls go through), `open` (they don't) or `half-open` (one may)."""
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """True if a call may be made now."""
        return self.state != "open"

    def record_success(self) -> None:
        """Closes the circuit."""
        self.consecutive = 0
        self.opened_at = None

    def record_failure(self) -> None:
        """Counts a failure; opens (or re-opens) the circuit at the threshold."""
        self.consecutive += 1
        if self.consecutive >= self.failures or self.state == "half-open":
            self.opened_at = self.clock()


class ChatClient:
    """Calls `POST {base_url}/chat/completions`."""

    def __init__(
        self,
        settings: LLMSettings = LLMSettings(),
        breaker: Optional[CircuitBreaker] = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        admission: Optional[Admission] = None,
        recorder: Optional[Recorder] = None,
    ) -> None:
        """Args:
        settings: base URL, model, key, timeout, retries, breaker and queue sizes.
        breaker: a circuit breaker (one from the settings by default).
        sleep: how to wait between retries (tests pass a fast one).
        admission: who may call the model when (one from the settings by default).
        recorder: where latency, outcomes, tokens, the queue and the breaker go.
        """
        self.settings = settings
        self.breaker = breaker or CircuitBreaker(
            settings.breaker_failures, settings.breaker_reset_seconds
        )
        self.admission = admission or Admission(settings.concurrency, settings.max_waiting)
        self._sleep = sleep
        self.recorder = recorder or NoRecorder()
        self.recorder.watch("assistant_llm_waiting", lambda: self.admission.waiting)
        self.recorder.watch("assistant_llm_breaker_open",
                            lambda: float(self.breaker.state == "open"))
        self._session: Optional[aiohttp.ClientSession] = None
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def url(self) -> Text:
        """The chat completions URL."""
        return f"{self.settings.base_url}/chat/completions"

    def _headers(self, request_id: Text) -> Dict[Text, Text]:
        headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession()
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: Optional[int] = None,
        temperature: float = 0.0,
        stop: Optional[List[Text]] = None,
        request_id: Optional[Text] = None,
    ) -> Completion:
        """Asks the model for a chat completion.

        Args:
            messages: the chat.
            max_tokens: a cap on the answer's length (the settings' by default).
            temperature: sampling temperature.
            stop: strings that end the answer.
            request_id: an id for the logs (a new one by default).

        Returns:
            The completion.

        Raises:
            ModelBusyError: the model is busy with other requests and this one could
                not be answered in time (not a failure: the breaker does not count it).
            LLMUnavailableError: circuit open, time out, or retries exhausted.
            LLMError: the endpoint refused the request (4xx other than 429) or
                answered something that is not a completion.
        """
        # A UUID: some servers (llama-cpp-python's) reject other X-Request-ID values.
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        outcome = "ok"
        try:
            return await self._complete(messages, max_tokens, temperature, stop, request_id)
        except ModelBusyError:
            outcome = "busy"
            raise
        except CircuitOpenError:
            outcome = "circuit_open"
            raise
        except LLMUnavailableError:
            outcome = "unavailable"
            raise
        except LLMError:
            outcome = "rejected"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"  # the action timed out and gave up on it
            raise
        finally:
            self.recorder.observe("assistant_llm_seconds", time.monotonic() - started,
                                  outcome=outcome)

    async def _complete(self, messages: Sequence[ChatMessage], max_tokens: Optional[int],
                        temperature: float, stop: Optional[List[Text]],
                        request_id: Text) -> Completion:
        if not self.breaker.allow():
            logger.warning("llm.circuit_open", extra={"request_id": request_id})
            raise CircuitOpenError(
                "The language model failed several times in a row; it is not called for "
                f"{self.breaker.reset_seconds:g} s (circuit open). Check that {self.url} "
                "answers."
            )
        payload: Dict[Text, Any] = {
            "model": self.settings.model,
            "messages": list(messages),
            "max_tokens": max_tokens or self.settings.max_tokens,
            "temperature": temperature,
        }
        if stop:
            payload["stop"] = stop
        started = time.monotonic()
        deadline = started + self.settings.timeout_seconds
        try:
            async with self.admission.slot(deadline) as waited:
                if waited > 0.05:
                    logger.info("llm.waited", extra={"request_id": request_id,
                                                     "waited_ms": round(waited * 1000)})
                return await self._call(payload, request_id, started, deadline)
        except ModelBusyError:
            logger.warning("llm.busy", extra={"request_id": request_id,
                                              "waiting": self.admission.waiting})
            raise

    async def _call(self, payload: Dict[Text, Any], request_id: Text, started: float,
                    deadline: float) -> Completion:
        """The request with its retries, until the deadline; the breaker counts the
        outcome."""
        attempt = 0
        last_error = "no attempt made"
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            retry_after: Optional[float] = None
            try:
                status, body, retry_after = await self._post(payload, request_id, remaining)
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                last_error = type(error).__name__ + (f": {error}" if str(error) else "")
                status, body = None, None
            if status == 200:
                text = _completion_text(body)
                self.breaker.record_success()
                latency = time.monotonic() - started
                logger.info(
                    "llm.completion",
                    extra={"request_id": request_id, "attempts": attempt,
                           "latency_ms": round(latency * 1000), "model": self.settings.model},
                )
                model = body.get("model", self.settings.model) if isinstance(body, dict) else ""
                self._count_tokens(body)
                return Completion(text, str(model), request_id, latency, attempt)
            if status is not None and status not in RETRY_STATUSES:
                logger.warning(
                    "llm.rejected", extra={"request_id": request_id, "status": status}
                )
                raise LLMError(
                    f"The language model endpoint {self.url} answered HTTP {status}: check "
                    "LLM_BASE_URL, LLM_MODEL and LLM_API_KEY."
                )
            if status is not None:
                last_error = f"HTTP {status}"
            logger.warning(
                "llm.retryable_failure",
                extra={"request_id": request_id, "attempt": attempt, "error": last_error},
            )
            if attempt > self.settings.max_retries:
                break
            exponential = 0.25 * 2 ** (attempt - 1)
            backoff = min(retry_after if retry_after is not None else exponential, 8.0)
            backoff *= 1 + random.uniform(0, 0.1)
            if time.monotonic() + backoff >= deadline:
                break
            await self._sleep(backoff)
        self.breaker.record_failure()
        logger.error(
            "llm.unavailable",
            extra={"request_id": request_id, "attempts": attempt, "error": last_error,
                   "breaker": self.breaker.state},
        )
        raise LLMUnavailableError(
            f"The language model at {self.url} did not answer within "
            f"{self.settings.timeout_seconds:g} s ({last_error}): check that it runs, or raise "
            "LLM_TIMEOUT_SECONDS."
        )

    def _count_tokens(self, body: Any) -> None:
        """Adds the completion's `usage` (as the server reports it) to the counters."""
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            return
        for kind in ("prompt", "completion"):
            tokens = usage.get(f"{kind}_tokens")
            if isinstance(tokens, int) and tokens >= 0:
                self.recorder.count("assistant_llm_tokens_total", tokens, kind=kind)

    async def _post(
        self, payload: Dict[Text, Any], request_id: Text, timeout: float
    ) -> tuple[int, Any, Optional[float]]:
        session = self._get_session()
        async with session.post(
            self.url,
            json=payload,
            headers=self._headers(request_id),
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            retry_after = None
            header = response.headers.get("Retry-After")
            if header:
                try:
                    retry_after = float(header)
                except ValueError:
                    retry_after = None
            return response.status, body, retry_after


def _completion_text(body: Any) -> Text:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError("The language model's answer holds no message content.") from None
    if not isinstance(content, str):
        raise LLMError("The language model's answer holds no message content.")
    return content.strip()
