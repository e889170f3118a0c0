"""Knowledge conversations end to end: Rasa 3.6 -> action server (rasa-sdk, shared
secret) -> Milvus Lite + the embedded LLM, over Rasa's REST channel."""

import re

import pytest

pytestmark = pytest.mark.slow

SOURCES_ZH = re.compile(r"\n来源:\n\[\d\] .+ \((zh|en)/[\w.-]+\)")
SOURCES_EN = re.compile(r"\nSources:\n\[\d\] .+ \((zh|en)/[\w.-]+\)")


def test_chinese_question_follow_up_and_weather(servers):
    say = lambda text: servers.say("kb-zh", text)  # noqa: E731
    replies = say("IT服务台几点上班?")
    assert len(replies) == 1, replies
    answer = replies[0]
    assert SOURCES_ZH.search(answer), answer
    assert "it-helpdesk-hours" in answer
    # The README's first example, as it shows it (tests/contract/test_readme_examples.py
    # checks the same replies without Rasa).
    assert "周一至周五 08:30–18:00" in answer, answer
    [follow_up] = say("那周末呢?")
    assert "it-helpdesk-hours" in follow_up, follow_up
    assert "周六和周日 09:00–17:00 拨打分机 7000" in follow_up, follow_up
    [report] = say("明天北京天气怎么样")
    assert report.startswith("北京明天："), report


def test_english_question_follow_up_and_weather(servers):
    say = lambda text: servers.say("kb-en", text)  # noqa: E731
    [answer] = say("How many days of annual leave do I get?")
    assert SOURCES_EN.search(answer), answer
    assert "hr-annual-leave" in answer
    assert "Full-time employees receive 15 days of paid annual leave per year" in answer, answer
    [follow_up] = say("and for contractors?")
    assert "hr-annual-leave" in follow_up, follow_up
    assert "Contractors do not get paid annual leave" in follow_up, follow_up
    [report] = say("what's the weather in London tomorrow?")
    assert report.startswith("London, tomorrow:"), report


def test_question_the_documents_do_not_answer(servers):
    assert servers.say("kb-none", "How many moons does Jupiter have?") in (
        ["Sorry, I couldn't find the answer to that in the documents I have. "
         "Try rephrasing it, or contact the team in charge."],
        ['Sorry, that\'s outside what I can help with. Say "help" to see what I can do.'],
    )


def logged(servers, event_prefix) -> int:
    """How many events of the action server's JSON log start with `event_prefix`."""
    log = (servers.logs / "actions.log").read_text()
    return log.count(f'"event": "{event_prefix}')


def test_repeated_question_is_served_from_the_cache(servers):
    first = servers.say("kb-cache-1", "How do I book a meeting room?")
    assert first and "Sources:" in first[0]
    hits, answered = logged(servers, "answers.cache_hit"), logged(servers, "answers.answered")
    llm = logged(servers, "llm.")  # completions, failures, retries
    again = servers.say("kb-cache-2", "how do I book a meeting room")
    assert again == first
    assert logged(servers, "answers.cache_hit") == hits + 1
    # nothing was retrieved or generated again, and the LLM was not asked
    assert logged(servers, "answers.answered") == answered
    assert logged(servers, "llm.") == llm


def test_action_server_killed_gives_a_polite_reply_then_answers_once_back(servers):
    servers.stop_actions(kill=True)
    try:
        assert servers.say("kb-down", "VPN 怎么连接?") == [
            "抱歉，我现在无法完成这个请求，服务暂时不可用。请稍后再试。"]
        assert servers.say("kb-down-en", "How do I reset my password?") == [
            "Sorry, I can't do that right now: a service I rely on is unavailable. "
            "Please try again in a moment."]
        assert servers.say("kb-down-en", "hello")[0].startswith("Hi!")  # Rasa still works
    finally:
        servers.start_actions()
    # Back: the same conversation gets its answer, with sources, and Rasa was not
    # restarted.
    again = servers.say("kb-down-en", "How do I reset my password?")
    assert again and "Sources:" in again[0] and "password" in again[0].lower(), again
