"""What the platform channels share: splitting, remembering ids, rendering sources."""

import uuid

from channels.platform import (
    RedisSeenIds,
    SeenIds,
    seen_ids,
    source_url,
    split_text,
    utf8_size,
    utf16_size,
)


def test_split_text_cuts_at_paragraphs_lines_then_spaces_and_loses_nothing():
    text = "first paragraph\n\nsecond line one\nsecond line two"
    assert split_text(text, 100) == [text]
    assert split_text(text, 20) == ["first paragraph", "second line one", "second line two"]
    words = "alpha beta gamma delta"
    assert split_text(words, 11) == ["alpha beta", "gamma delta"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("   ", 10) == []


def test_split_text_measures_as_the_platform_does():
    chinese = "年假" * 1500  # 3,000 characters, 9,000 UTF-8 bytes
    pieces = split_text(chinese, 2000, utf8_size)
    assert all(utf8_size(p) <= 2000 for p in pieces) and "".join(pieces) == chinese
    emoji = "🙂" * 3000  # two UTF-16 units each
    pieces = split_text(emoji, 4000, utf16_size)
    assert all(utf16_size(p) <= 4000 for p in pieces) and "".join(pieces) == emoji


async def test_seen_ids_remember_for_their_window_only():
    now = [0.0]
    seen = SeenIds(seconds=60, limit=3, clock=lambda: now[0])
    assert await seen.first_time("a") and not await seen.first_time("a")
    now[0] = 61
    assert await seen.first_time("a")  # forgotten after the window
    for key in "bcde":
        await seen.first_time(key)
    assert len(seen._seen) <= 4  # bounded


async def test_replicas_share_the_seen_ids_in_redis():
    # Database 9 of the local Redis: a platform's retry reaching another replica.
    key = f"event-{uuid.uuid4().hex}"
    first, second = (RedisSeenIds("redis://127.0.0.1:6379/9", "slack", seconds=5)
                     for _ in range(2))
    assert await first.first_time(key)
    assert not await second.first_time(key) and not await first.first_time(key)
    assert 0 < await second._redis.ttl(first.prefix + key) <= 5


async def test_seen_ids_without_redis_take_the_message_and_say_so(caplog):
    gone = RedisSeenIds("redis://127.0.0.1:1/0", "telegram")
    assert await gone.first_time("42") and await gone.first_time("42")
    assert "channel.seen_unavailable" in caplog.text


def test_the_channel_memory_is_shared_when_redis_is_configured(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "")
    assert isinstance(seen_ids("wecom"), SeenIds)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/9")
    assert isinstance(seen_ids("wecom"), RedisSeenIds)


def test_sources_link_to_their_own_address_or_under_the_base():
    local = {"number": 1, "title": "t", "source": "zh/it-vpn.md"}
    web = {"number": 2, "title": "t", "source": "https://intranet.example/page"}
    assert source_url(local, "https://docs.example.com/kb/") == \
        "https://docs.example.com/kb/zh/it-vpn.md"
    assert source_url(local, "") is None
    assert source_url(web, "") == "https://intranet.example/page"
