"""The answer cache on the real Redis at 127.0.0.1:6379 (database 15)."""

import os
import uuid

import pytest

from bilingual_assistant.adapters.redis_cache import RedisAnswerCache
from tests.conftest import require_redis

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def payload(text):
    return {"text": text, "sources": [], "mode": "llm", "language": "zh", "cached": False,
            "query": text}


@pytest.fixture
async def redis_cache():
    require_redis(REDIS_URL)  # fails, never skips: Redis runs here and in CI
    cache = RedisAnswerCache(REDIS_URL, 60, prefix=f"test:{uuid.uuid4().hex}")
    yield cache
    async for key in cache._redis.scan_iter(match=f"{cache.prefix}:*"):
        await cache._redis.delete(key)
    await cache.close()


async def test_redis_cache_is_shared_between_instances(redis_cache):
    other = RedisAnswerCache(REDIS_URL, 60, prefix=redis_cache.prefix)
    await redis_cache.set("v1:q", payload("答案"))
    assert await other.get("v1:q") == payload("答案")
    assert await other.get("v1:missing") is None
    stats = await redis_cache.stats()
    assert (stats.hits, stats.misses) == (1, 1)
    await redis_cache.set("v2:q", payload("new"))
    assert await other.drop_other_versions("v2") == 1
    assert await redis_cache.get("v1:q") is None
    assert await redis_cache.get("v2:q") == payload("new")
    await other.close()


async def test_redis_entries_have_a_ttl(redis_cache):
    await redis_cache.set("v1:q", payload("x"))
    ttl = await redis_cache._redis.ttl(f"{redis_cache.prefix}:v1:q")
    assert 0 < ttl <= 60


async def test_without_redis_answers_are_cached_in_the_process_and_logged_once(caplog):
    cache = RedisAnswerCache("redis://127.0.0.1:1/0", 60)
    with caplog.at_level("INFO", logger="bilingual_assistant.adapters.redis_cache"):
        await cache.set("v1:q", payload("答案"))
        assert await cache.get("v1:q") == payload("答案")
        assert await cache.get("v1:other") is None
        assert await cache.drop_other_versions("v2") == 1  # never an error
        assert await cache.get("v1:q") is None
    assert cache.in_fallback
    assert [r.message for r in caplog.records].count("cache.redis_unavailable") == 1
    await cache.close()


async def test_redis_is_tried_again_after_a_while_and_used_when_back(redis_cache, caplog,
                                                                    monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    now = [0.0]
    cache = RedisAnswerCache(REDIS_URL, 60, prefix=redis_cache.prefix, clock=lambda: now[0])
    real_get = cache._redis.get

    async def refused(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache._redis, "get", refused)
    with caplog.at_level("INFO", logger="bilingual_assistant.adapters.redis_cache"):
        assert await cache.get("v1:q") is None  # Redis fails: the fallback from now on
        await cache.set("v1:q", payload("local"))
        monkeypatch.setattr(cache._redis, "get", real_get)  # Redis is back
        assert await cache.get("v1:q") == payload("local")  # not tried again yet
        await redis_cache.set("v1:q", payload("shared"))
        now[0] = 31.0
        assert await cache.get("v1:q") == payload("shared")  # Redis again
    messages = [r.message for r in caplog.records]
    assert messages.count("cache.redis_unavailable") == 1 and "cache.redis_back" in messages
    assert not cache.in_fallback
    await cache.close()
