import os
import uuid

import pytest

from assistant.answers.cache import (
    LRUAnswerCache,
    RedisAnswerCache,
    build_cache,
    cache_key,
    normalise_question,
)

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def test_normalisation_folds_width_case_spaces_and_trailing_punctuation():
    assert normalise_question("  How   many leave DAYS?? ") == "how many leave days"
    assert normalise_question("年假有几天？") == normalise_question("年假有几天")
    assert normalise_question("ＶＰＮ怎么连！") == "vpn怎么连"


def test_keys_depend_on_version_and_language():
    assert cache_key("Leave days?", "en", "v1") == cache_key("leave  days", "en", "v1")
    assert cache_key("leave days", "en", "v1") != cache_key("leave days", "en", "v2")
    assert cache_key("leave days", "en", "v1") != cache_key("leave days", "zh", "v1")
    assert cache_key("x", "en", "v1").startswith("v1:")


async def test_lru_hits_misses_eviction_and_versions():
    cache = LRUAnswerCache(max_entries=2)
    assert await cache.get("v1:a") is None
    await cache.set("v1:a", {"text": "A"})
    await cache.set("v1:b", {"text": "B"})
    assert await cache.get("v1:a") == {"text": "A"}  # a is now most recent
    await cache.set("v2:c", {"text": "C"})  # evicts b
    assert await cache.get("v1:b") is None
    stats = await cache.stats()
    assert (stats.hits, stats.misses) == (1, 2)
    assert await cache.drop_other_versions("v2") == 1
    assert len(cache) == 1 and await cache.get("v2:c") == {"text": "C"}


async def test_lru_entries_expire():
    cache = LRUAnswerCache(ttl_seconds=-1)
    await cache.set("v:a", {"text": "A"})
    assert await cache.get("v:a") is None and len(cache) == 0


def test_build_cache_picks_redis_only_when_configured():
    assert isinstance(build_cache("", 10, 60), LRUAnswerCache)
    assert isinstance(build_cache(REDIS_URL, 10, 60), RedisAnswerCache)


@pytest.fixture
async def redis_cache():
    cache = RedisAnswerCache(REDIS_URL, 60, prefix=f"test:{uuid.uuid4().hex}")
    try:
        await cache._redis.ping()
    except Exception as error:  # noqa: BLE001
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {error}")
    yield cache
    async for key in cache._redis.scan_iter(match=f"{cache.prefix}:*"):
        await cache._redis.delete(key)
    await cache.close()


async def test_redis_cache_is_shared_between_instances(redis_cache):
    other = RedisAnswerCache(REDIS_URL, 60, prefix=redis_cache.prefix)
    await redis_cache.set("v1:q", {"text": "答案", "sources": []})
    assert await other.get("v1:q") == {"text": "答案", "sources": []}
    assert await other.get("v1:missing") is None
    stats = await redis_cache.stats()
    assert (stats.hits, stats.misses) == (1, 1)
    await redis_cache.set("v2:q", {"text": "new"})
    assert await other.drop_other_versions("v2") == 1
    assert await redis_cache.get("v1:q") is None
    assert await redis_cache.get("v2:q") == {"text": "new"}
    await other.close()


async def test_redis_entries_have_a_ttl(redis_cache):
    await redis_cache.set("v1:q", {"text": "x"})
    ttl = await redis_cache._redis.ttl(f"{redis_cache.prefix}:v1:q")
    assert 0 < ttl <= 60


async def test_unreachable_redis_is_a_miss_not_an_error():
    cache = RedisAnswerCache("redis://127.0.0.1:9/0", 60)
    await cache.set("v:a", {"text": "A"})
    assert await cache.get("v:a") is None
    assert await cache.drop_other_versions("v") == 0
    assert (await cache.stats()).hits == 0
    await cache.close()
