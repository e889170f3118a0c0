"""The answer action, run against trackers from JSON fixtures and the answer
service over in-memory fakes, asserting the exact events, messages and the
structured answer each reply carries."""

import json
from dataclasses import replace
from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import ActionAnswerQuestion
from actions.conversation import ANSWER_KEY, history_from_events, language_of
from bilingual_assistant.answers.cache import LRUAnswerCache
from bilingual_assistant.answers.models import Turn
from bilingual_assistant.answers.service import AnswerService
from bilingual_assistant.knowledge.access import PlatformGroups, Reader
from tests.fakes.in_memory import ScriptedChatModel, StaticSearch, chunk

FIXTURES = Path(__file__).parent / "fixtures"
DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
LEAVE = chunk("en/hr-annual-leave.md", "Full-time employees get 15 days a year. Contractors "
              "get no paid annual leave; they use unpaid leave (UPL).", "Annual Leave")


def tracker(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((FIXTURES / f"{name}.json").read_text("utf-8")))


def make_service(llm, *chunks) -> AnswerService:
    return AnswerService(StaticSearch(*chunks), LRUAnswerCache(), lambda: "v1", llm)


async def run(action, state):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, state, DOMAIN)
    return events, dispatcher.messages


async def test_answers_with_sources_in_the_text_and_as_data():
    llm = ScriptedChatModel(lambda m: "Full-time employees get 15 days a year [1].")
    events, messages = await run(ActionAnswerQuestion(make_service(llm, LEAVE)),
                                 tracker("question_en_annual_leave"))
    assert events == [] and len(messages) == 1
    assert messages[0]["text"] == ("Full-time employees get 15 days a year [1].\n"
                                   "Sources:\n[1] Annual Leave (en/hr-annual-leave.md)")
    assert messages[0][ANSWER_KEY] == {
        "text": "Full-time employees get 15 days a year [1].",
        "sources": [{"number": 1, "title": "Annual Leave", "source": "en/hr-annual-leave.md"}],
        "mode": "llm", "language": "en", "cached": False,
        "query": "How many days of annual leave do I get?",
    }
    assert not messages[0]["custom"]  # no channel shows the structured answer


async def test_a_follow_up_is_joined_to_the_question_it_follows():
    llm = ScriptedChatModel(lambda m: "Contractors get no paid annual leave; they use UPL [1].")
    events, messages = await run(ActionAnswerQuestion(make_service(llm, LEAVE)),
                                 tracker("follow_up_en_contractors"))
    assert events == []
    assert messages[0]["text"].startswith("Contractors get no paid annual leave")
    assert messages[0][ANSWER_KEY]["query"] == (
        "How many days of annual leave do I get? and for contractors?")
    prompt = llm.requests[0][1]["content"]
    assert prompt.endswith(
        "Question: How many days of annual leave do I get? and for contractors?")
    assert "Sources" not in prompt


def asked(state: Tracker) -> Tracker:
    """The same conversation with its latest message classified as a question."""
    data = state.current_state()
    data["latest_message"]["intent"] = {"name": "ask_question", "confidence": 0.9}
    return Tracker.from_dict(data)


async def test_nothing_found_says_so_in_the_conversations_language():
    llm = ScriptedChatModel(lambda m: "x")
    events, messages = await run(ActionAnswerQuestion(make_service(llm)),
                                 asked(tracker("question_zh_off_topic")))
    assert events == []
    assert [m["text"] for m in messages] == [
        "抱歉，我在现有的文档里没有找到这个问题的答案。可以换个说法，或者联系相关部门。"]
    assert messages[0][ANSWER_KEY]["mode"] == "not_found" and llm.calls == 0


async def test_a_message_the_nlu_could_not_place_gets_the_out_of_scope_reply():
    # Without an answerability model nothing can clear the bar: the NLU's word
    # stands and the documents are not searched (with one: test_answerability.py).
    search = StaticSearch(LEAVE)
    service = AnswerService(search, LRUAnswerCache(), lambda: "v1", None)
    events, messages = await run(ActionAnswerQuestion(service), tracker("question_zh_off_topic"))
    assert [m["text"] for m in messages] == [
        "抱歉，这超出了我能帮忙的范围。说“帮助”看看我能做什么。"]
    assert messages[0][ANSWER_KEY]["mode"] == "out_of_scope" and search.queries == []


async def test_an_unavailable_store_gives_a_polite_reply():
    search = StaticSearch(LEAVE)
    search.failing = True
    service = AnswerService(search, LRUAnswerCache(), lambda: "v1", None)
    events, messages = await run(ActionAnswerQuestion(service),
                                 asked(tracker("question_zh_off_topic")))
    assert events == []
    assert [m["text"] for m in messages] == ["抱歉，知识库暂时无法使用，请稍后再试。"]
    assert messages[0][ANSWER_KEY]["mode"] == "unavailable"


def test_history_reads_answers_from_their_structured_data():
    events = tracker("follow_up_en_contractors").events
    assert history_from_events(events) == [
        Turn("user", "How many days of annual leave do I get?"),
        Turn("assistant", "Full-time employees get 15 days a year [1]."),
    ]
    assert len(history_from_events(events * 5, limit=3)) == 3


def test_history_holds_knowledge_exchanges_only():
    # A bot message without structured data (a response, the weather) is not a
    # knowledge answer, even if it looks like one: neither it nor the message it
    # answered is history, so "那外包人员呢?" is never joined to a weather question.
    answer = {"text": "Full-time employees get 15 days a year [1].", "sources": [],
              "mode": "llm", "language": "en", "cached": False, "query": "leave?"}
    events = [{"event": "user", "text": "hi"},
              {"event": "bot", "text": "Hello!\nSources:\n[1] A (a.md)"},
              {"event": "user", "text": "How many days of leave?"},
              {"event": "bot", "text": "display", "metadata": {ANSWER_KEY: answer}},
              {"event": "user", "text": "what's the weather in London tomorrow?"},
              {"event": "bot", "text": "London, tomorrow: sunny"},
              {"event": "user", "text": "and for contractors?"}]
    assert history_from_events(events) == [
        Turn("user", "How many days of leave?"), Turn("assistant", answer["text"])]


def test_the_language_is_the_slot_policy_set():
    assert language_of(tracker("question_zh_off_topic")) == "zh"
    assert language_of(tracker("question_en_annual_leave")) == "en"
    unset = Tracker.from_dict({**json.loads(
        (FIXTURES / "question_zh_off_topic.json").read_text("utf-8")), "slots": {}})
    assert language_of(unset) == "en"


PAYROLL = replace(chunk("hr/payroll.md", "Salaries are paid on the 25th of every month.",
                        "Payroll"), readers=("hr",))


def with_reader(state: Tracker, metadata, sender=None) -> Tracker:
    """The same conversation whose latest message carries `metadata` (a channel's)."""
    data = state.current_state()
    data["latest_message"]["intent"] = {"name": "ask_question", "confidence": 0.9}
    data["latest_message"]["metadata"] = metadata
    if sender is not None:
        data["sender_id"] = sender
    return Tracker.from_dict(data)


async def test_an_answer_quotes_and_cites_only_documents_the_asker_may_read():
    llm = ScriptedChatModel(lambda m: "Salaries are paid on the 25th [1]."
                            if "payroll" in m[-1]["content"].lower() else "No answer.")
    service = make_service(llm, PAYROLL)
    action = ActionAnswerQuestion(service)
    question = tracker("question_en_annual_leave")
    hr = {"reader": Reader(frozenset({"hr"})).to_metadata()}
    _, messages = await run(action, with_reader(question, hr))
    assert [s["source"] for s in messages[0][ANSWER_KEY]["sources"]] == ["hr/payroll.md"]
    # The same question from someone outside hr, after hr's answer was cached.
    for outsider in ({"reader": Reader(frozenset({"it"})).to_metadata()}, {}, None):
        _, messages = await run(action, with_reader(question, outsider))
        assert messages[0][ANSWER_KEY]["sources"] == [], outsider
        assert messages[0][ANSWER_KEY]["mode"] == "not_found"
        assert "25th" not in messages[0]["text"]


async def test_platform_people_get_the_groups_the_mapping_gives_them():
    llm = ScriptedChatModel(lambda m: "Salaries are paid on the 25th [1].")
    platforms = PlatformGroups([("telegram:*:42", ("hr",))])
    action = ActionAnswerQuestion(make_service(llm, PAYROLL), platforms)
    question = tracker("question_en_annual_leave")
    _, messages = await run(action, with_reader(question, {"chat_type": "private"},
                                                "telegram:42:42"))
    assert messages[0][ANSWER_KEY]["sources"][0]["source"] == "hr/payroll.md"
    _, messages = await run(action, with_reader(question, {"chat_type": "private"},
                                                "telegram:43:43"))
    assert messages[0][ANSWER_KEY]["sources"] == []


def after(state: Tracker, *modes) -> Tracker:
    """The conversation with earlier knowledge answers of these modes before its
    latest message."""
    data = state.current_state()
    data["latest_message"]["intent"] = {"name": "ask_question", "confidence": 0.9}
    earlier = []
    for mode in modes:
        earlier += [{"event": "user", "text": "earlier question"},
                    {"event": "bot", "text": "earlier answer",
                     "metadata": {ANSWER_KEY: {"text": "x", "mode": mode, "sources": [],
                                               "query": "earlier question"}}}]
    data["events"] = earlier + data["events"]
    return Tracker.from_dict(data)


async def test_a_person_is_offered_after_the_second_answer_in_a_row_that_did_not_help():
    action = ActionAnswerQuestion(make_service(ScriptedChatModel(lambda m: "x")))
    question = tracker("question_zh_off_topic")
    offered = "回复“转人工”可以联系同事"
    for earlier, expected in ((("not_found",), True), (("unsure",), True), ((), False),
                              (("llm",), False), (("not_found", "unsure"), False),
                              (("not_found", "llm"), False)):
        _, messages = await run(action, after(question, *earlier))
        assert messages[0][ANSWER_KEY]["mode"] == "not_found"
        assert (len(messages) == 2 and offered in messages[1]["text"]) is expected, earlier


async def test_messages_without_words_are_no_misses_and_bring_no_offer():
    action = ActionAnswerQuestion(make_service(ScriptedChatModel(lambda m: "x")))
    wordless = after(tracker("question_zh_off_topic"), "not_found")
    data = wordless.current_state()
    data["latest_message"]["text"] = "!!!???"
    _, messages = await run(action, Tracker.from_dict(data))
    assert len(messages) == 1 and messages[0][ANSWER_KEY]["query"] == ""
