"""Admission to a model that serves a few requests at a time: a question waits for
the model only while it can still be answered within its deadline; otherwise it
is refused at once, so the caller answers without the model instead of timing out.

Measured before this existed (issue 13): the embedded server answers one request at
a time; with two people asking at once the second request waited in the server
past the 20 s deadline, the timeout counted as a failure, the circuit breaker
opened and everyone got extractive answers for 30 s although the model was
working. Waiting here is not a failure: the breaker only sees calls that reached
the model.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Optional

from bilingual_assistant.errors import ModelBusyError

# The service time assumed before the first answer is measured: the embedded 1.5B
# model took 6.5 to 21 s per uncached answer on 2 cores.
DEFAULT_EXPECTED_SECONDS = 10.0
SMOOTHING = 0.3  # weight of the newest service time in the running estimate


class Admission:
    """First come, first served for `capacity` requests at a time, at most
    `max_waiting` waiting, each waiting no longer than its deadline allows."""

    def __init__(
        self,
        capacity: int = 1,
        max_waiting: int = 8,
        expected_seconds: float = DEFAULT_EXPECTED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Args:
        capacity: requests the model serves at once.
        max_waiting: requests that may wait; more are refused at once.
        expected_seconds: a request's service time until one is measured.
        clock: monotonic seconds (tests pass their own).
        """
        if capacity < 1 or max_waiting < 0:
            raise ValueError("capacity must be at least 1 and max_waiting at least 0")
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.expected_seconds = expected_seconds
        self.clock = clock
        self._slots = asyncio.Semaphore(capacity)
        self._semaphore_loop: Optional[asyncio.AbstractEventLoop] = None
        self.in_use = 0
        self.waiting = 0
        self.refused = 0

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore_loop is not loop:  # a new event loop (tests, reloads)
            self._slots, self._semaphore_loop = asyncio.Semaphore(self.capacity), loop
            self.in_use = self.waiting = 0
        return self._slots

    def record(self, seconds: float) -> None:
        """Folds one measured service time into the estimate."""
        self.expected_seconds += SMOOTHING * (seconds - self.expected_seconds)

    def predicted_wait(self) -> float:
        """How long a request arriving now would wait for a slot, by the estimate."""
        ahead = self.in_use + self.waiting - self.capacity + 1
        return max(0.0, ahead / self.capacity * self.expected_seconds)

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[float]:
        """Holds a slot while the body runs; yields the seconds spent waiting.

        Args:
            deadline: the clock time by which the answer must be complete.

        Raises:
            ModelBusyError: at once when the queue is full or the wait predicted
                leaves no time to answer; or when the wait outlasts what the
                deadline allows.
        """
        slots = self._semaphore()
        started = self.clock()
        free = self.in_use < self.capacity and self.waiting == 0
        if not free:
            room = deadline - started - self.expected_seconds
            if self.waiting >= self.max_waiting or self.predicted_wait() > room:
                self.refused += 1
                raise ModelBusyError(
                    f"The language model is busy ({self.in_use} answering, {self.waiting} "
                    f"waiting, about {self.expected_seconds:.0f} s each): this question is "
                    "answered without it. Raise LLM_CONCURRENCY if the endpoint serves more "
                    "requests at once.")
        self.waiting += 1
        try:
            await asyncio.wait_for(slots.acquire(),
                                   max(deadline - self.clock() - self.expected_seconds, 0.001)
                                   if not free else None)
        except TimeoutError:
            self.refused += 1
            raise ModelBusyError("The language model stayed busy too long; this question is "
                                 "answered without it.") from None
        finally:
            self.waiting -= 1
        self.in_use += 1
        served = self.clock()
        try:
            yield served - started
        finally:
            self.in_use -= 1
            slots.release()
        self.record(self.clock() - served)
