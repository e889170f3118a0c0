"""The answer cache in Redis, shared by every replica (implements `AnswerCache`)."""

from __future__ import annotations

import json
import logging
from typing import Optional, Text, cast

from assistant.answers.cache import CacheStats
from assistant.answers.models import AnswerPayload
from assistant.config import CacheSettings

logger = logging.getLogger(__name__)


class RedisAnswerCache:
    """Answers in Redis, shared by every replica; counters are shared too."""

    def __init__(
        self,
        url: Text,
        ttl_seconds: int = CacheSettings.ttl_seconds,
        prefix: Text = "assistant:answers",
    ) -> None:
        import redis.asyncio as redis

        self.url = url
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self._redis = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True
        )

    def _key(self, key: Text) -> Text:
        return f"{self.prefix}:{key}"

    async def _count(self, field: Text) -> None:
        await self._redis.hincrby(f"{self.prefix}:stats", field, 1)

    async def get(self, key: Text) -> Optional[AnswerPayload]:
        """The cached answer, or None (also when Redis cannot be reached)."""
        from redis.exceptions import RedisError

        try:
            raw = await self._redis.get(self._key(key))
            await self._count("hits" if raw is not None else "misses")
        except (RedisError, OSError) as error:
            logger.warning("cache.redis_unavailable", extra={"error": str(error)})
            return None
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
        """Stores an answer with the time to live (errors are logged, not raised)."""
        from redis.exceptions import RedisError

        try:
            await self._redis.set(
                self._key(key), json.dumps(value, ensure_ascii=False), ex=self.ttl_seconds
            )
        except (RedisError, OSError) as error:
            logger.warning("cache.redis_unavailable", extra={"error": str(error)})

    async def drop_other_versions(self, version: Text) -> int:
        """Deletes answers computed under other knowledge-base versions."""
        from redis.exceptions import RedisError

        dropped = 0
        keep = self._key(f"{version}:")
        try:
            async for key in self._redis.scan_iter(match=f"{self.prefix}:*:*", count=500):
                if not key.startswith(keep) and key != f"{self.prefix}:stats":
                    dropped += await self._redis.delete(key)
        except (RedisError, OSError) as error:
            logger.warning("cache.redis_unavailable", extra={"error": str(error)})
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
