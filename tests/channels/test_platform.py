"""What the platform channels share: splitting, remembering ids, rendering sources."""

from channels.platform import SeenIds, source_url, split_text, utf8_size, utf16_size


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


def test_seen_ids_remember_for_their_window_only():
    now = [0.0]
    seen = SeenIds(seconds=60, limit=3, clock=lambda: now[0])
    assert seen.first_time("a") and not seen.first_time("a")
    now[0] = 61
    assert seen.first_time("a")  # forgotten after the window
    for key in "bcde":
        seen.first_time(key)
    assert len(seen._seen) <= 4  # bounded


def test_sources_link_to_their_own_address_or_under_the_base():
    local = {"number": 1, "title": "t", "source": "zh/it-vpn.md"}
    web = {"number": 2, "title": "t", "source": "https://intranet.example/page"}
    assert source_url(local, "https://docs.example.com/kb/") == \
        "https://docs.example.com/kb/zh/it-vpn.md"
    assert source_url(local, "") is None
    assert source_url(web, "") == "https://intranet.example/page"
