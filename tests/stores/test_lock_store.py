"""Conversation locks: in one process, and in the real Redis at 127.0.0.1:6379 (database
13) shared by several stores as by several replicas."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any, Callable, List, Text

import pytest
import redis
import redis.asyncio
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bilingual_assistant.config import LockSettings
from stores.lock_store import (
    ConversationLockStore,
    InMemoryTicketQueue,
    RedisTicketQueue,
)

REDIS_URL = os.environ.get("REDIS_LOCK_TEST_URL", "redis://127.0.0.1:6379/13")


def redis_queue() -> RedisTicketQueue:
    return RedisTicketQueue(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}:")


@pytest.fixture(params=["in-process", "redis"])
def make_store(request) -> Callable[..., ConversationLockStore]:
    """Stores sharing one queue, as replicas share Redis (in-process: one queue)."""
    queue: Any = InMemoryTicketQueue() if request.param == "in-process" else redis_queue()
    prefix = getattr(queue, "_prefix", "")

    def make(lifetime: float = 60.0, wait: float = 120.0, shared: bool = True):
        own = queue
        if not shared and prefix:  # another replica: its own connection, same keys
            own = RedisTicketQueue(REDIS_URL, prefix=prefix)
        return ConversationLockStore(
            queue=own, settings=LockSettings(lifetime_seconds=lifetime, wait_seconds=wait))

    return make


async def hold(store: ConversationLockStore, conversation: Text, seconds: float,
               log: List[Any], name: Text) -> None:
    async with store.lock(conversation):
        log.append(("start", name, time.monotonic()))
        await asyncio.sleep(seconds)
        log.append(("end", name, time.monotonic()))


def overlaps(log: List[Any]) -> int:
    """Most blocks ever inside at once."""
    inside = most = 0
    for event, _, _ in sorted(log, key=lambda e: e[2]):
        inside += 1 if event == "start" else -1
        most = max(most, inside)
    return most


async def test_messages_of_one_conversation_run_one_at_a_time_in_arrival_order(make_store):
    replicas = [make_store(shared=False), make_store(shared=False)]
    for replica in replicas:  # connected, as a running replica is
        await hold(replica, "warm-up", 0, [], "")
    log: List[Any] = []
    tasks = []
    for number in range(8):  # alternating replicas, each sent before the last ends
        tasks.append(asyncio.create_task(
            hold(replicas[number % 2], "c1", 0.05, log, f"m{number}")))
        await asyncio.sleep(0.02)
    await asyncio.gather(*tasks)
    assert overlaps(log) == 1
    assert [name for event, name, _ in log if event == "start"] == [f"m{i}" for i in range(8)]


async def test_different_conversations_do_not_wait_for_each_other(make_store):
    store = make_store()
    log: List[Any] = []
    started = time.monotonic()
    await asyncio.gather(*(hold(store, f"c{i}", 0.3, log, f"c{i}") for i in range(5)))
    assert time.monotonic() - started < 1.2  # one after another would take 1.5 s
    assert overlaps(log) == 5


async def test_a_held_lock_outlives_its_lifetime_while_the_message_is_processed(make_store):
    # Rasa's tickets die after their lifetime even while their action still runs.
    store = make_store(lifetime=0.3)
    log: List[Any] = []
    first = asyncio.create_task(hold(store, "slow", 1.0, log, "first"))
    await asyncio.sleep(0.05)
    await hold(store, "slow", 0.0, log, "second")
    await first
    assert overlaps(log) == 1
    assert [name for event, name, _ in log if event == "start"] == ["first", "second"]


async def test_a_crashed_replicas_ticket_dies_within_its_lifetime(make_store):
    store = make_store(lifetime=0.4)
    await store.queue.issue("orphan", 0.4)  # taken, never freed: the replica died
    started = time.monotonic()
    async with store.lock("orphan"):
        waited = time.monotonic() - started
    assert 0.3 < waited < 2.0


async def test_a_freed_ticket_wakes_the_next_message_on_another_replica_at_once(make_store):
    # The waiter has backed off to looking once a second by the time the first
    # message ends; the release notice (Redis PUBLISH) starts it at once.
    first_replica, second_replica = make_store(shared=False), make_store(shared=False)
    log: List[Any] = []
    first = asyncio.create_task(hold(first_replica, "handover", 2.5, log, "first"))
    await asyncio.sleep(0.05)
    await hold(second_replica, "handover", 0.0, log, "second")
    await first
    ended = next(t for event, name, t in log if (event, name) == ("end", "first"))
    started = next(t for event, name, t in log if (event, name) == ("start", "second"))
    assert 0 <= started - ended < 0.3


async def test_waiting_longer_than_the_limit_fails_with_the_setting_named(make_store):
    store = make_store(wait=0.3)
    log: List[Any] = []
    first = asyncio.create_task(hold(store, "busy", 1.0, log, "first"))
    await asyncio.sleep(0.05)
    with pytest.raises(LockError, match="LOCK_WAIT_SECONDS"):
        await hold(store, "busy", 0.0, log, "second")
    await first
    assert [name for event, name, _ in log if event == "start"] == ["first"]
    async with store.lock("busy"):  # the refused ticket did not block the queue
        pass


async def test_the_queue_is_empty_after_every_message(make_store):
    store = make_store()
    await asyncio.gather(*(hold(store, "tidy", 0.01, [], str(i)) for i in range(5)))
    if isinstance(store.queue, RedisTicketQueue):
        client = redis.Redis.from_url(REDIS_URL)
        assert client.exists(*store.queue.keys("tidy")) == 0
        client.close()
    else:
        assert store.queue._deadlines == {}


async def test_redis_out_of_reach_refuses_the_message_with_the_fix():
    closed = RedisTicketQueue("redis://127.0.0.1:1/0")
    store = ConversationLockStore(queue=closed, where="redis://127.0.0.1:1/0")
    ran = False
    with pytest.raises(LockError, match="start Redis or correct LOCK_STORE_URL") as error:
        async with store.lock("c"):
            ran = True
    assert not ran
    assert "127.0.0.1:1" in str(error.value)


async def test_fifty_messages_from_two_replicas_at_once_never_share_the_lock():
    prefix = f"burst-{uuid.uuid4().hex[:8]}:"
    replicas = [ConversationLockStore(queue=RedisTicketQueue(REDIS_URL, prefix=prefix))
                for _ in range(2)]
    log: List[Any] = []
    await asyncio.gather(*(hold(replicas[i % 2], "hot", 0.002, log, str(i))
                           for i in range(50)))
    assert overlaps(log) == 1
    assert sorted(int(name) for event, name, _ in log if event == "end") == list(range(50))


def test_endpoints_yml_builds_it_from_the_settings(monkeypatch):
    monkeypatch.setenv("LOCK_STORE_URL", "")
    monkeypatch.setenv("REDIS_URL", "")
    config = EndpointConfig(type="stores.lock_store.ConversationLockStore")
    store = LockStore.create(config)
    assert isinstance(store, ConversationLockStore)
    assert isinstance(store.queue, InMemoryTicketQueue)
    monkeypatch.setenv("REDIS_URL", "redis://:secret@127.0.0.1:6379/13")
    shared = LockStore.create(config)
    assert isinstance(shared.queue, RedisTicketQueue)
    assert "secret" not in shared.where and "127.0.0.1:6379/13" in shared.where
    monkeypatch.setenv("LOCK_STORE_URL", "redis://127.0.0.1:6379/12")
    assert LockStore.create(config).where == "redis://127.0.0.1:6379/12"
