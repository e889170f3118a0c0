"""The REST channel in front of the project's lock store (stores/lock_store.py): the
message takes its ticket as it arrives, a message whose turn does not come gets 429,
and a lock store out of reach gets 503; never an empty 200."""

from __future__ import annotations

import asyncio

import aiohttp

from bilingual_assistant.config import LockSettings
from channels.rest import ValidatingRestInput
from stores.lock_store import ConversationLockStore, InMemoryTicketQueue, RedisTicketQueue
from tests.channels.serving import Agent, serve


class LockingAgent(Agent):
    """Rasa's agent as far as locks go: `handle_message` holds the lock store's lock."""

    def __init__(self, lock_store: ConversationLockStore) -> None:
        super().__init__()
        self.lock_store = lock_store

    async def handle_message(self, message):
        async with self.lock_store.lock(message.sender_id):
            await super().handle_message(message)


async def post(client: aiohttp.ClientSession, url: str, text: str):
    async with client.post(f"{url}/webhook", json={"sender": "u1", "message": text},
                           timeout=aiohttp.ClientTimeout(total=10)) as response:
        return response.status, dict(response.headers), await response.json()


def store(wait: float = 60.0, queue=None) -> ConversationLockStore:
    return ConversationLockStore(queue=queue or InMemoryTicketQueue(),
                                 settings=LockSettings(wait_seconds=wait))


async def test_messages_are_taken_in_arrival_order_by_the_lock_store_not_the_channel():
    agent = LockingAgent(store())
    agent.gate.clear()
    async with serve(ValidatingRestInput(), agent) as url, aiohttp.ClientSession() as client:
        sends = []
        for text in ("one", "two", "three"):
            sends.append(asyncio.create_task(post(client, url, text)))
            await asyncio.sleep(0.05)
        # Each message holds its ticket already; only the first is being handled.
        assert agent.texts == ["one"]
        queue = agent.lock_store.queue
        assert isinstance(queue, InMemoryTicketQueue)
        assert sorted(queue._deadlines["u1"]) == [1, 2, 3]
        agent.gate.set()
        responses = await asyncio.gather(*sends)
    assert [status for status, _, _ in responses] == [200, 200, 200]
    assert agent.texts == ["one", "two", "three"]


async def test_a_message_whose_turn_does_not_come_gets_429_with_retry_after():
    agent = LockingAgent(store(wait=0.3))
    agent.gate.clear()
    async with serve(ValidatingRestInput(), agent) as url, aiohttp.ClientSession() as client:
        first = asyncio.create_task(post(client, url, "slow"))
        await asyncio.sleep(0.05)
        status, headers, body = await post(client, url, "next")
        agent.gate.set()
        assert (await first)[0] == 200
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert "LOCK_WAIT_SECONDS" in body["error"]
    assert agent.texts == ["slow"]


async def test_a_lock_store_out_of_reach_gets_503_and_nothing_is_handled():
    agent = LockingAgent(store(queue=RedisTicketQueue("redis://127.0.0.1:1/0")))
    async with serve(ValidatingRestInput(), agent) as url, aiohttp.ClientSession() as client:
        status, headers, body = await post(client, url, "hi")
    assert status == 503
    assert headers["Retry-After"] == "30"
    assert "redis" not in str(body).lower()  # the cause is logged, not shown
    assert agent.texts == []
