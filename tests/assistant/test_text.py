import pytest

from assistant.text import detect_language, has_content, strip_markup


@pytest.mark.parametrize(
    "text, expected",
    [
        ("明天北京天气怎么样", "zh"),
        ("what's the weather in Beijing", "en"),
        ("明天 New York 天气", "zh"),
        ("what does 帝都 mean", "en"),
        ("hello, 你好", "zh"),
        ("😀👍", None),
        ("12345 !!!", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hi", True),
        ("你好", True),
        ("42", True),
        ("١٢٣", True),
        ("?! 3", True),
        ("Привет", True),
        ("!!!???", False),
        ("😀👍🏽", False),
        ("……。！", False),
        ("\u200b \t\n", False),
        ("", False),
        (None, False),
    ],
)
def test_has_content(text, expected):
    assert has_content(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<script>alert(1)</script>ok", "alert(1)ok"),
        ('<svg onload=alert(1)>', ""),
        ("<scr<script>ipt>x", "x"),
        ("<!-- hidden -->shown", "shown"),
        ("a < b and c > d, <3", "a < b and c > d, <3"),
        ("正式员工<b>15</b>天", "正式员工15天"),
        ('<img src=x onerror="alert(1)">', ""),
    ],
)
def test_markup_is_stripped_from_text_for_people(text, expected):
    assert strip_markup(text) == expected
