"""Conversation locks for one or several Rasa replicas, with tickets issued and freed atomically.

    lock_store:
      type: stores.lock_store.ConversationLockStore   # endpoints.yml

Rasa processes one message of a conversation at a time by taking a ticket and
waiting until it is the oldest one alive. Rasa Open Source's `RedisLockStore` reads
the conversation's ticket list, adds a ticket and writes the list back: two
replicas can read the same list and hand out the same ticket, and each frees the
other's (rasa#9213; the atomic `ConcurrentRedisLockStore` of PR #11256 was reverted
by PR #11428). It polls once a second, and a ticket dies after 60 s even while its
action still runs, so the next message of the conversation runs beside it.

Here each step is one Redis script (atomic on the server): `INCR` issues the
ticket, a sorted set keeps the queue in ticket order and a hash their deadlines, on
Redis's own clock. The replica holding the lock renews its ticket every third of
its lifetime while the message is processed; a waiting message renews its own at
every look, so a crashed replica's tickets die within `LOCK_LIFETIME_SECONDS` and
nobody else's do. A freed ticket is published, so the next message starts at once.

`LOCK_STORE_URL` (else `REDIS_URL`) selects Redis; without one the same queue lives
in the process (one Rasa process only). When Redis cannot be reached the message is
refused with `LockError`, never processed without its lock; so is a message whose
turn comes while the conversation database is out of reach (`conversations_ready`
in stores/tracker_store.py), rather than answered from a conversation that would
not be kept. Waits, refusals and messages in flight go to this process's
`/metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Protocol, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore

from bilingual_assistant.config import LockSettings, Settings, load_settings
from bilingual_assistant.metrics import Recorder

logger = logging.getLogger(__name__)

# A waiting message is woken when a ticket of its conversation is freed (Redis
# publishes it to every replica), and looks on its own after 10 ms, doubling up to
# 1 s (a third of the ticket's life at most), for tickets that die. Looking alone
# every 50 ms (the first version) costs each waiter 20 Redis calls a second: 20,000
# a second with the 1,000 messages of benchmarks/replicas.py waiting under overload.
FIRST_WAIT_SECONDS = 0.01
LONGEST_WAIT_SECONDS = 1.0
KEY_PREFIX = "rasa:lock:"
SOCKET_TIMEOUT_SECONDS = 5.0

# Every script reads Redis's clock (milliseconds), so replicas' clocks do not matter.
_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""
# KEYS: queue (sorted set of tickets), deadlines (hash ticket -> ms), counter.
# ARGV: lifetime in ms. Returns the new ticket.
_ISSUE = _NOW + """
local ticket = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], ticket, ticket)
redis.call('HSET', KEYS[2], ticket, now + tonumber(ARGV[1]))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], 2 * tonumber(ARGV[1])) end
return ticket
"""
# ARGV: ticket, lifetime in ms. Renews the ticket, drops dead tickets at the head of
# the queue; returns how many live tickets are ahead (0: its turn), -1 when the
# ticket has died.
_TURN = _NOW + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return -1 end
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], 2 * tonumber(ARGV[2])) end
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if head == false or head == nil then return -1 end
  local deadline = tonumber(redis.call('HGET', KEYS[2], head) or '0')
  if deadline >= now then break end
  redis.call('ZREM', KEYS[1], head)
  redis.call('HDEL', KEYS[2], head)
end
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if rank == false or rank == nil then return -1 end
return rank
"""
# ARGV: ticket, the release channel, the conversation id. Frees the ticket (the keys
# go with the last one) and tells every replica that the conversation moved on.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
else redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 0
"""


class ConversationBusyError(LockError):
    """A message's turn did not come within `LOCK_WAIT_SECONDS`: try again later."""

    def __init__(self, message: Text, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class TicketQueue(Protocol):
    """Tickets of each conversation, served oldest first; every call atomic."""

    async def issue(self, conversation_id: Text, lifetime: float) -> int:
        """A new ticket, alive for `lifetime` seconds unless renewed."""

    async def turn(self, conversation_id: Text, ticket: int, lifetime: float) -> int:
        """Renews `ticket` and drops dead tickets; live tickets ahead of it (0: its
        turn), -1 when it has died."""

    async def release(self, conversation_id: Text, ticket: int) -> None:
        """Frees `ticket`."""

    async def released(self, conversation_id: Text, seconds: float) -> None:
        """Returns when a ticket of the conversation is freed, or after `seconds`."""


class _Waiters:
    """Futures of the messages waiting for a conversation's next turn, in this process."""

    def __init__(self) -> None:
        self._waiting: Dict[Text, List[asyncio.Future]] = {}

    async def wait(self, conversation_id: Text, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(conversation_id, []).append(future)
        try:
            await asyncio.wait_for(future, seconds)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiting.get(conversation_id, [])
            if future in waiting:
                waiting.remove(future)
            if not waiting:
                self._waiting.pop(conversation_id, None)

    def wake(self, conversation_id: Text) -> None:
        for future in self._waiting.pop(conversation_id, []):
            if not future.done():
                future.set_result(None)


class InMemoryTicketQueue:
    """The queue inside one process (one Rasa process, no Redis)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._issued: Dict[Text, int] = {}
        self._deadlines: Dict[Text, Dict[int, float]] = {}
        self._waiters = _Waiters()

    async def issue(self, conversation_id: Text, lifetime: float) -> int:
        ticket = self._issued.get(conversation_id, 0) + 1
        self._issued[conversation_id] = ticket
        self._deadlines.setdefault(conversation_id, {})[ticket] = self._clock() + lifetime
        return ticket

    async def turn(self, conversation_id: Text, ticket: int, lifetime: float) -> int:
        deadlines = self._deadlines.get(conversation_id, {})
        now = self._clock()
        if ticket not in deadlines or deadlines[ticket] < now:
            deadlines.pop(ticket, None)
            return -1
        deadlines[ticket] = now + lifetime
        alive = sorted(t for t, deadline in deadlines.items() if deadline >= now)
        for dead in set(deadlines) - set(alive):
            del deadlines[dead]
        return alive.index(ticket)

    async def release(self, conversation_id: Text, ticket: int) -> None:
        deadlines = self._deadlines.get(conversation_id, {})
        deadlines.pop(ticket, None)
        if not deadlines:
            self._deadlines.pop(conversation_id, None)
            self._issued.pop(conversation_id, None)
        self._waiters.wake(conversation_id)

    async def released(self, conversation_id: Text, seconds: float) -> None:
        await self._waiters.wait(conversation_id, seconds)


class RedisTicketQueue:
    """The queue in Redis, shared by every replica (one Lua script per step)."""

    def __init__(self, url: Text, prefix: Text = KEY_PREFIX, client: Any = None) -> None:
        """Connects lazily to `url` (`redis://host:6379/1`); `client`: a
        `redis.asyncio.Redis` instead (tests)."""
        import redis.asyncio

        self._redis = client or redis.asyncio.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)
        self._prefix = prefix
        self._channel = f"{prefix}released"
        self._issue = self._redis.register_script(_ISSUE)
        self._turn = self._redis.register_script(_TURN)
        self._release = self._redis.register_script(_RELEASE)
        self._waiters = _Waiters()
        self._listener: Optional[asyncio.Task] = None

    def keys(self, conversation_id: Text) -> List[Text]:
        """The conversation's queue, deadlines and counter: one hash slot (Redis
        Cluster) through the `{…}` tag."""
        base = f"{self._prefix}{{{conversation_id}}}"
        return [f"{base}:queue", f"{base}:deadlines", f"{base}:counter"]

    async def issue(self, conversation_id: Text, lifetime: float) -> int:
        return int(await self._issue(keys=self.keys(conversation_id),
                                     args=[_ms(lifetime)]))

    async def turn(self, conversation_id: Text, ticket: int, lifetime: float) -> int:
        return int(await self._turn(keys=self.keys(conversation_id),
                                    args=[ticket, _ms(lifetime)]))

    async def release(self, conversation_id: Text, ticket: int) -> None:
        await self._release(keys=self.keys(conversation_id),
                            args=[ticket, self._channel, conversation_id])

    async def released(self, conversation_id: Text, seconds: float) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())
        await self._waiters.wait(conversation_id, seconds)

    async def _listen(self) -> None:
        """Wakes this process's waiters when any replica frees a ticket; subscribes
        again after a lost connection (waiters look on their own meanwhile)."""
        failing = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if failing:
                    logger.info("Lock release notices from Redis are back.")
                failing = False
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        data = message["data"]
                        self._waiters.wake(data.decode() if isinstance(data, bytes) else data)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the connection: retried, waiters still look
                if not failing:
                    logger.warning(f"Lock release notices from Redis stopped ({error}); "
                                   f"subscribing again every second.")
                failing = True
                await asyncio.sleep(1)
            finally:
                try:
                    await pubsub.close()
                except Exception:  # closing a broken connection
                    pass


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _where(url: Text) -> Text:
    """The Redis URL without its password, for messages."""
    if "@" in url:
        scheme, rest = url.split("://", 1) if "://" in url else ("redis", url)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


class ConversationLockStore(LockStore):
    """Rasa's lock store on a `TicketQueue`: Redis when configured, else in-process."""

    # Channels read this: the ticket is taken when Rasa starts handling a message,
    # so a channel that queues messages itself first would take tickets in the
    # order its own queue lets them through, not the order they arrived.
    serves_in_arrival_order = True

    def __init__(
        self,
        endpoint_config: Any = None,
        queue: Optional[TicketQueue] = None,
        settings: Optional[LockSettings] = None,
        where: Text = "",
        recorder: Optional[Recorder] = None,
        ready: Optional[Callable[[], Awaitable[None]]] = None,
    ) -> None:
        """Builds the queue from the settings (`LOCK_STORE_URL`, else `REDIS_URL`).

        Args:
            endpoint_config: Rasa's `lock_store` section (nothing in it is read:
                every option is a setting).
            queue: a queue instead of the configured one (tests).
            settings: the lock settings (read from the environment by default).
            where: how messages name the queue's home.
            recorder: where waits, refusals and messages in flight go (this Rasa
                process's `/metrics` by default).
            ready: checked when a message's turn comes, before it is processed; raises
                a `LockError` to refuse it (with the queue from the settings: the
                conversation store answers, `conversations_ready`).
        """
        if queue is None:
            from stores.tracker_store import conversations_ready

            ready = ready or conversations_ready
            full: Settings = load_settings()
            settings = settings or full.locks
            url = full.lock_store_url
            queue = RedisTicketQueue(url) if url else InMemoryTicketQueue()
            where = _where(url) if url else "this process"
        self.queue: TicketQueue = queue
        self.settings = settings or LockSettings()
        self.where = where or type(queue).__name__
        self.ready = ready
        if recorder is None:
            from bilingual_assistant.adapters.prometheus import shared_recorder

            recorder = shared_recorder("rasa")
        self.recorder: Recorder = recorder
        logger.info(f"Conversation locks: {self.where} (ticket lifetime "
                    f"{self.settings.lifetime_seconds:g} s, renewed while processing).")
        super().__init__()

    async def _call(self, conversation_id: Text, step: Any, *args: Any) -> Any:
        try:
            return await step(conversation_id, *args)
        except LockError:
            raise
        except Exception as error:  # the queue's client: connection, timeout, reply
            raise LockError(
                f"The lock store ({self.where}) could not be reached for conversation "
                f"'{conversation_id}' ({type(error).__name__}: {error}). The message was "
                f"not processed, so no two replicas handle one conversation at once: "
                f"start Redis or correct LOCK_STORE_URL / REDIS_URL."
            ) from error

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: Optional[float] = None,
        wait_time_in_seconds: Optional[float] = None,
    ) -> AsyncIterator[TicketLock]:
        """Holds the conversation's lock while the block runs.

        Args:
            conversation_id: the conversation.
            lock_lifetime: Rasa's default is ignored: `LOCK_LIFETIME_SECONDS`, renewed.
            wait_time_in_seconds: ignored: a waiting message is woken when a
                ticket of its conversation is freed.

        Raises:
            LockError: the queue cannot be reached, or the earlier messages did not
                finish within `LOCK_WAIT_SECONDS`.
        """
        lifetime = self.settings.lifetime_seconds
        started = time.monotonic()
        self.recorder.add("assistant_messages_in_flight", 1)
        try:
            async with self._ticket(conversation_id, lifetime, started) as held:
                yield held
        except ConversationBusyError:
            self.recorder.count("assistant_lock_failures_total", reason="busy")
            raise
        except LockError:
            self.recorder.count("assistant_lock_failures_total", reason="unavailable")
            raise
        finally:
            self.recorder.add("assistant_messages_in_flight", -1)

    @asynccontextmanager
    async def _ticket(self, conversation_id: Text, lifetime: float,
                      started: float) -> AsyncIterator[TicketLock]:
        """`lock` without its measurements."""
        ticket = await self._call(conversation_id, self.queue.issue, lifetime)
        renewing: Optional[asyncio.Task] = None
        try:
            await self._wait_for_turn(conversation_id, ticket, lifetime, started)
            waited = time.monotonic() - started
            self.recorder.observe("assistant_lock_wait_seconds", waited)
            if self.ready is not None:
                await self.ready()
            if waited > 1:
                logger.info(f"Conversation '{conversation_id}' waited {waited:.1f} s for "
                            f"its earlier messages (ticket {ticket}).")
            renewing = asyncio.create_task(self._renew(conversation_id, ticket, lifetime))
            yield TicketLock(conversation_id)
        finally:
            if renewing is not None:
                renewing.cancel()
            try:
                await self._call(conversation_id, self.queue.release, ticket)
            except LockError as error:
                logger.warning(f"{error} Ticket {ticket} dies on its own within "
                               f"{lifetime:g} s.")

    async def _wait_for_turn(self, conversation_id: Text, ticket: int, lifetime: float,
                             started: float) -> None:
        pause = FIRST_WAIT_SECONDS
        while True:
            ahead = await self._call(conversation_id, self.queue.turn, ticket, lifetime)
            if ahead == 0:
                return
            if ahead < 0:
                raise LockError(
                    f"The ticket of conversation '{conversation_id}' died while it "
                    f"waited (the lock store lost it, or this process stalled for "
                    f"LOCK_LIFETIME_SECONDS = {lifetime:g} s); the message was not "
                    f"processed.")
            if time.monotonic() - started > self.settings.wait_seconds:
                raise ConversationBusyError(
                    f"Conversation '{conversation_id}' still had {ahead} earlier "
                    f"message(s) in progress after {self.settings.wait_seconds:g} s "
                    f"(LOCK_WAIT_SECONDS); this message was not processed: send it again.",
                    max(1, int(self.settings.wait_seconds / 4)))
            await self.queue.released(conversation_id, pause)
            pause = min(pause * 2, lifetime / 3, LONGEST_WAIT_SECONDS)

    async def _renew(self, conversation_id: Text, ticket: int, lifetime: float) -> None:
        """Keeps the held ticket alive while the message is processed."""
        while True:
            await asyncio.sleep(lifetime / 3)
            try:
                if await self._call(conversation_id, self.queue.turn, ticket, lifetime) < 0:
                    logger.error(f"The lock of conversation '{conversation_id}' was lost "
                                 f"while its message was processed (ticket {ticket}).")
                    return
            except LockError as error:
                logger.warning(f"{error} Renewal of ticket {ticket} retried.")

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """Not used: `lock` never goes through Rasa's read-then-write steps."""
        return None

    def delete_lock(self, conversation_id: Text) -> None:
        """Not used (see `get_lock`)."""

    def save_lock(self, lock: TicketLock) -> None:
        """Not used (see `get_lock`)."""

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = 0) -> int:
        """Rasa's synchronous step is not offered: use `lock`."""
        raise LockError("ConversationLockStore hands out tickets only through lock().")

