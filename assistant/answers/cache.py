"""The answer cache: normalised question + knowledge-base version -> answer.

An in-process LRU by default; Redis, shared by every replica, when `REDIS_URL` is
set. The knowledge base's version is part of every key, so answers computed before
the documents changed are never served; `drop_other_versions` frees their space.
A cache that fails (Redis down) counts as a miss and never fails the answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Optional, Protocol, Text, Tuple

logger = logging.getLogger(__name__)

_TRAILING = re.compile(r"[\s?？!！。.,，;；~～]+$")


def normalise_question(text: Text) -> Text:
    """Folds width and case, collapses spaces and drops trailing punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = " ".join(text.split())
    return _TRAILING.sub("", text)


def cache_key(question: Text, language: Text, version: Text) -> Text:
    """The key of a question's answer under a knowledge-base version."""
    digest = hashlib.sha256(f"{language}\n{normalise_question(question)}".encode()).hexdigest()
    return f"{version}:{digest[:32]}"


@dataclass
class CacheStats:
    """Hit and miss counters."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        """Share of lookups that hit."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class AnswerCache(Protocol):
    """Stores answers (JSON-serialisable dicts) by key."""

    async def get(self, key: Text) -> Optional[Dict[Text, Any]]: ...

    async def set(self, key: Text, value: Dict[Text, Any]) -> None: ...

    async def drop_other_versions(self, version: Text) -> int: ...

    async def stats(self) -> CacheStats: ...


class LRUAnswerCache:
    """In-process least-recently-used cache with a time to live."""

    def __init__(self, max_entries: int = 1024, ttl_seconds: float = 86400.0) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._items: OrderedDict[Text, Tuple[float, Dict[Text, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._stats = CacheStats()

    async def get(self, key: Text) -> Optional[Dict[Text, Any]]:
        """The cached answer, or None (expired entries are dropped)."""
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                if item is not None:
                    del self._items[key]
                self._stats.misses += 1
                return None
            self._items.move_to_end(key)
            self._stats.hits += 1
            return dict(item[1])

    async def set(self, key: Text, value: Dict[Text, Any]) -> None:
        """Stores an answer, evicting the least recently used beyond the limit."""
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl_seconds, dict(value))
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    async def drop_other_versions(self, version: Text) -> int:
        """Removes answers computed under other knowledge-base versions."""
        with self._lock:
            stale = [k for k in self._items if not k.startswith(f"{version}:")]
            for key in stale:
                del self._items[key]
        return len(stale)

    async def stats(self) -> CacheStats:
        """Hits and misses since start."""
        return CacheStats(self._stats.hits, self._stats.misses)

    def __len__(self) -> int:
        return len(self._items)


class RedisAnswerCache:
    """Answers in Redis, shared by every replica; counters are shared too."""

    def __init__(
        self, url: Text, ttl_seconds: int = 86400, prefix: Text = "assistant:answers"
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

    async def get(self, key: Text) -> Optional[Dict[Text, Any]]:
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
        return value if isinstance(value, dict) else None

    async def set(self, key: Text, value: Dict[Text, Any]) -> None:
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


def build_cache(redis_url: Text, max_entries: int, ttl_seconds: int) -> AnswerCache:
    """Redis when a URL is given, otherwise the in-process LRU."""
    if redis_url:
        return RedisAnswerCache(redis_url, ttl_seconds)
    return LRUAnswerCache(max_entries, ttl_seconds)
