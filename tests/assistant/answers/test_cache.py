"""The answer cache's keys and the in-process LRU (Redis: tests/contract)."""

from bilingual_assistant.answers.cache import LRUAnswerCache, cache_key, normalise_question


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
