"""Each conversation's messages run one after another in arrival order; a message
that cannot start in time is refused as busy, never lost."""

import asyncio

import pytest

from bilingual_assistant.turns import ConversationBusyError, ConversationTurns


async def test_messages_of_one_conversation_run_one_at_a_time_in_arrival_order():
    turns, log = ConversationTurns(max_wait_seconds=5), []

    async def message(number):
        async with turns.turn("alice"):
            log.append(("start", number))
            await asyncio.sleep(0.01)
            log.append(("end", number))

    tasks = []
    for number in range(20):
        tasks.append(asyncio.create_task(message(number)))
        await asyncio.sleep(0)  # arrive in this order
    await asyncio.gather(*tasks)
    assert log == [(kind, n) for n in range(20) for kind in ("start", "end")]
    assert len(turns) == 0  # nothing kept once the conversation is idle


async def test_conversations_do_not_wait_for_each_other():
    turns, running = ConversationTurns(max_wait_seconds=5), []

    async def message(sender):
        async with turns.turn(sender):
            running.append(sender)
            await asyncio.sleep(0.05)

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(message(f"user-{n}") for n in range(50)))
    assert asyncio.get_running_loop().time() - started < 1.0
    assert len(running) == 50


async def test_a_message_that_cannot_start_in_time_is_refused_as_busy():
    turns = ConversationTurns(max_wait_seconds=0.1)
    release = asyncio.Event()

    async def slow():
        async with turns.turn("bob"):
            await release.wait()

    first = asyncio.create_task(slow())
    await asyncio.sleep(0)
    with pytest.raises(ConversationBusyError) as raised:
        async with turns.turn("bob"):
            pass
    assert raised.value.retry_after_seconds >= 1
    assert "send this one again" in str(raised.value)
    release.set()
    await first
    async with turns.turn("bob"):  # free again
        pass


async def test_too_many_waiting_messages_are_refused_at_once():
    turns = ConversationTurns(max_wait_seconds=5, max_waiting=2)
    release = asyncio.Event()

    async def hold():
        async with turns.turn("carol"):
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(3)]
    await asyncio.sleep(0.01)
    with pytest.raises(ConversationBusyError):
        async with turns.turn("carol"):
            pass
    release.set()
    await asyncio.gather(*tasks)


async def test_a_cancelled_waiter_does_not_block_the_ones_behind_it():
    turns, log = ConversationTurns(max_wait_seconds=5), []
    release = asyncio.Event()

    async def message(name, wait=None):
        async with turns.turn("dave"):
            log.append(name)
            if wait:
                await wait.wait()

    first = asyncio.create_task(message("first", release))
    await asyncio.sleep(0)
    second = asyncio.create_task(message("second"))
    third = asyncio.create_task(message("third"))
    await asyncio.sleep(0.01)
    second.cancel()
    release.set()
    await first
    await third
    assert log == ["first", "third"]
    assert len(turns) == 0
