import pytest

from assistant.text import detect_language, has_content


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
