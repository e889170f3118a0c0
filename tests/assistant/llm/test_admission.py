"""Admission to a busy model: wait only while the answer can still come in time."""

import asyncio
import time

import pytest

from bilingual_assistant.errors import ModelBusyError
from bilingual_assistant.llm.admission import Admission


async def hold(admission: Admission, release: asyncio.Event, deadline: float) -> float:
    async with admission.slot(deadline) as waited:
        await release.wait()
    return waited


async def test_a_free_model_is_taken_at_once():
    admission = Admission(capacity=1, expected_seconds=5)
    async with admission.slot(time.monotonic() + 20) as waited:
        assert waited < 0.05 and admission.in_use == 1
    assert admission.in_use == 0


async def test_a_question_waits_its_turn_when_the_deadline_allows():
    admission = Admission(capacity=1, expected_seconds=0.2)
    release = asyncio.Event()
    first = asyncio.ensure_future(hold(admission, release, time.monotonic() + 20))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(hold(admission, asyncio.Event(), time.monotonic() + 20))
    await asyncio.sleep(0.05)
    assert admission.waiting == 1 and not second.done()
    release.set()
    await first
    await asyncio.sleep(0.05)
    assert admission.in_use == 1 and admission.waiting == 0  # the second has the model
    second.cancel()


async def test_a_question_that_could_not_be_answered_in_time_is_refused_at_once():
    admission = Admission(capacity=1, expected_seconds=10)
    release = asyncio.Event()
    first = asyncio.ensure_future(hold(admission, release, time.monotonic() + 20))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(ModelBusyError, match="busy"):
        async with admission.slot(time.monotonic() + 15):  # 10 s wait + 10 s answer > 15
            pass
    assert time.monotonic() - started < 0.5 and admission.refused == 1
    release.set()
    await first


async def test_a_full_queue_refuses_at_once_and_a_long_wait_gives_up():
    admission = Admission(capacity=1, max_waiting=1, expected_seconds=0.1)
    release = asyncio.Event()
    holder = asyncio.ensure_future(hold(admission, release, time.monotonic() + 60))
    await asyncio.sleep(0.01)
    waiter = asyncio.ensure_future(hold(admission, asyncio.Event(), time.monotonic() + 60))
    await asyncio.sleep(0.01)
    with pytest.raises(ModelBusyError):  # the one waiting place is taken
        async with admission.slot(time.monotonic() + 60):
            pass
    waiter.cancel()
    await asyncio.sleep(0.01)
    # Estimated 0.1 s but the model stays busy: the wait ends when the deadline
    # leaves only the answer's time.
    started = time.monotonic()
    with pytest.raises(ModelBusyError, match="too long"):
        async with admission.slot(time.monotonic() + 0.5):
            pass
    assert 0.3 < time.monotonic() - started < 3.0
    release.set()
    await holder


async def test_the_estimate_follows_measured_service_times():
    admission = Admission(expected_seconds=10)
    for _ in range(20):
        admission.record(2.0)
    assert admission.expected_seconds == pytest.approx(2.0, abs=0.01)
    with pytest.raises(ValueError):
        Admission(capacity=0)
