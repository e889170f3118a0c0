"""The answer cache in Redis, shared by every replica (implements `AnswerCache`)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Optional, Text, cast

from bilingual_assistant.answers.cache import CacheStats, LRUAnswerCache
from bilingual_assistant.answers.models import AnswerPayload
from bilingual_assistant.config import CacheSettings

logger = logging.getLogger(__name__)

# After Redis fails, answers are cached in this process for this long before Redis
# is tried again: a Redis that hangs would otherwise add its timeout to every answer.
RETRY_SECONDS = 30.0


class _UnavailableError(Exception):
    """Redis is out of reach: use the fallback."""


class RedisAnswerCache:
    """Answers in Redis, shared by every replica; counters are shared too.

    When Redis fails, answers go to an in-process LRU for `RETRY_SECONDS`, then
    Redis is tried again; one log line when it goes (`cache.redis_unavailable`) and
    one when it is back (`cache.redis_back`)."""

    def __init__(
        self,
        url: Text,
        ttl_seconds: int = CacheSettings.ttl_seconds,
        prefix: Text = "assistant:answers",
        fallback: Optional[LRUAnswerCache] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis.asyncio as redis

        self.url = url
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self._redis = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True
        )
        self.fallback = fallback or LRUAnswerCache(ttl_seconds=ttl_seconds)
        self._clock = clock
        self._down_until: Optional[float] = None  # None: Redis is in use

    @property
    def in_fallback(self) -> bool:
        """Whether answers are cached in this process while Redis is out of reach."""
        return self._down_until is not None and self._clock() < self._down_until

    def _failed(self, error: Exception) -> None:
        if self._down_until is None:
            logger.warning("cache.redis_unavailable", extra={
                "error": str(error), "fallback": "in-process",
                "retry_seconds": RETRY_SECONDS})
        self._down_until = self._clock() + RETRY_SECONDS

    def _worked(self) -> None:
        if self._down_until is not None:
            logger.info("cache.redis_back")
            self._down_until = None

    async def _try(self, call: Any) -> Any:
        """Runs a Redis call; raises `_UnavailableError` when Redis is (or just went) out
        of reach."""
        from redis.exceptions import RedisError

        if self.in_fallback:
            raise _UnavailableError()
        try:
            result = await call()
        except (RedisError, OSError) as error:
            self._failed(error)
            raise _UnavailableError() from error
        self._worked()
        return result

    def _key(self, key: Text) -> Text:
        return f"{self.prefix}:{key}"

    async def _count(self, field: Text) -> None:
        await self._redis.hincrby(f"{self.prefix}:stats", field, 1)

    async def get(self, key: Text) -> Optional[AnswerPayload]:
        """The cached answer, or None; from the in-process fallback while Redis is
        out of reach."""

        async def read() -> Any:
            raw = await self._redis.get(self._key(key))
            await self._count("hits" if raw is not None else "misses")
            return raw

        try:
            raw = await self._try(read)
        except _UnavailableError:
            return await self.fallback.get(key)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            return None
        return cast(AnswerPayload, value)

    async def set(self, key: Text, value: AnswerPayload) -> None:
        """Stores an answer with the time to live; in the in-process fallback while
        Redis is out of reach (never raises)."""
        try:
            await self._try(lambda: self._redis.set(
                self._key(key), json.dumps(value, ensure_ascii=False), ex=self.ttl_seconds))
        except _UnavailableError:
            await self.fallback.set(key, value)

    async def drop_other_versions(self, version: Text) -> int:
        """Deletes answers computed under other knowledge-base versions (in Redis
        and in the fallback)."""
        dropped = await self.fallback.drop_other_versions(version)
        keep = self._key(f"{version}:")

        async def drop() -> int:
            count = 0
            async for key in self._redis.scan_iter(match=f"{self.prefix}:*:*", count=500):
                if not key.startswith(keep) and key != f"{self.prefix}:stats":
                    count += await self._redis.delete(key)
            return count

        try:
            dropped += await self._try(drop)
        except _UnavailableError:
            pass
        return dropped

    async def stats(self) -> CacheStats:
        """Hits and misses counted by every replica."""
        from redis.exceptions import RedisError

        try:
            counts = await self._redis.hgetall(f"{self.prefix}:stats")
        except (RedisError, OSError):
            return CacheStats()
        return CacheStats(int(counts.get("hits", 0)), int(counts.get("misses", 0)))

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._redis.aclose()
