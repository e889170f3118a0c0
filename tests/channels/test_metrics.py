"""`/metrics` on Rasa's port (channels/metrics.py) mounted as `rasa run` mounts
channels, the timing of every route, and the lock store's measurements."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator, Text

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rasa.core.channels.channel import register
from rasa.core.lock_store import LockError
from sanic import Sanic

from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.config import LockSettings
from bilingual_assistant.metrics import MemoryRecorder
from channels.metrics import MetricsInput, channel_of
from channels.rest import ValidatingRestInput
from stores.lock_store import (
    ConversationBusyError,
    ConversationLockStore,
    InMemoryTicketQueue,
    RedisTicketQueue,
)
from tests.channels.serving import Agent, free_port
from tests.channels.test_rest_locks import LockingAgent


@asynccontextmanager
async def rasa_like(metrics: MetricsInput, agent: Agent) -> AsyncIterator[Text]:
    """The metrics and REST channels on one app, as `rasa run` registers them, with
    the server's start-up listeners run; yields the base URL."""
    Sanic.test_mode = True
    app = Sanic(f"test-metrics-{free_port()}")
    register([metrics, ValidatingRestInput()], app, route="/webhooks/")
    app.ctx.agent = agent
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port,
                                     return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


def samples(text: Text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def get(client, url, **headers):
    async with client.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_metrics_are_served_at_slash_metrics_and_every_route_is_timed():
    recorder = PrometheusRecorder("rasa")
    metrics = MetricsInput(token="t0ken", recorder=recorder)
    lock_store = ConversationLockStore(queue=InMemoryTicketQueue(), settings=LockSettings(),
                                       recorder=recorder)
    async with rasa_like(metrics, LockingAgent(lock_store)) as url, \
            aiohttp.ClientSession() as client:
        for text in ("hello", "again"):
            async with client.post(f"{url}/webhooks/rest/webhook",
                                   json={"sender": "u1", "message": text}) as response:
                assert response.status == 200
        async with client.post(f"{url}/webhooks/rest/webhook", data=b"{bad") as response:
            assert response.status == 400
        assert (await get(client, f"{url}/metrics"))[0] == 401
        assert (await get(client, f"{url}/metrics", Authorization="Bearer no"))[0] == 401
        status, text = await get(client, f"{url}/metrics", Authorization="Bearer t0ken")
        assert (await get(client, f"{url}/nothing-here"))[0] == 404
        _, later = await get(client, f"{url}/metrics/", Authorization="Bearer t0ken")
    assert status == 200
    found = samples(text)
    rest = (("channel", "rest"), ("method", "POST"), ("route", "/webhooks/rest/webhook"))
    assert found[("assistant_http_request_seconds_count", rest + (("status", "2xx"),))] == 2
    assert found[("assistant_http_request_seconds_count", rest + (("status", "4xx"),))] == 1
    assert found[("assistant_lock_wait_seconds_count", ())] == 2
    assert found[("assistant_messages_in_flight", ())] == 0
    unmatched = (("channel", ""), ("method", "GET"), ("route", "unmatched"),
                 ("status", "4xx"))
    assert samples(later)[("assistant_http_request_seconds_count", unmatched)] == 1


async def test_without_a_token_only_loopback_clients_that_no_proxy_relays_may_read():
    metrics = MetricsInput(token="", recorder=PrometheusRecorder("rasa"))
    async with rasa_like(metrics, Agent()) as url, aiohttp.ClientSession() as client:
        assert (await get(client, f"{url}/metrics"))[0] == 200
        relayed = await get(client, f"{url}/metrics", **{"X-Forwarded-For": "203.0.113.7"})
        assert relayed[0] == 401


def test_routes_name_their_channel():
    assert channel_of("/webhooks/slack/webhook") == "slack"
    assert channel_of("/socket.io") == "socketio"
    assert channel_of("/conversations/<conversation_id:path>/tracker") == ""
    assert channel_of("unmatched") == ""


async def test_the_lock_store_counts_waits_refusals_and_messages_in_flight():
    recorder = MemoryRecorder()
    lock_store = ConversationLockStore(queue=InMemoryTicketQueue(),
                                       settings=LockSettings(wait_seconds=0.2),
                                       recorder=recorder)
    held = asyncio.Event()
    release = asyncio.Event()

    async def first():
        async with lock_store.lock("c1"):
            held.set()
            await release.wait()

    task = asyncio.create_task(first())
    await held.wait()
    assert recorder.value("assistant_messages_in_flight") == 1
    with pytest.raises(ConversationBusyError, match="LOCK_WAIT_SECONDS"):
        async with lock_store.lock("c1"):
            pass
    release.set()
    await task
    assert recorder.value("assistant_lock_failures_total", reason="busy") == 1
    assert recorder.value("assistant_messages_in_flight") == 0
    assert len(recorder.samples("assistant_lock_wait_seconds")) == 1
    unreachable = ConversationLockStore(queue=RedisTicketQueue("redis://127.0.0.1:1/0"),
                                        recorder=recorder)
    with pytest.raises(LockError, match="could not be reached"):
        async with unreachable.lock("c2"):
            pass
    assert recorder.value("assistant_lock_failures_total", reason="unavailable") == 1
    assert recorder.value("assistant_messages_in_flight") == 0
