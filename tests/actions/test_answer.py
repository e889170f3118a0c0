"""The answer action, run against trackers from JSON fixtures, the sample
knowledge base in Milvus Lite and a local OpenAI-compatible server, asserting the
exact events and messages."""

import json
from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import ActionAnswerQuestion, history_from_events
from assistant.answers import AnswerService, Turn
from assistant.answers.cache import LRUAnswerCache
from assistant.knowledge import Retriever
from assistant.knowledge.store import MilvusKnowledgeStore
from assistant.llm.client import ChatClient
from assistant.settings import KnowledgeSettings, LLMSettings

FIXTURES = Path(__file__).parent / "fixtures"
DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())


def tracker(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((FIXTURES / f"{name}.json").read_text("utf-8")))


def make_service(sample_kb, fake_llm) -> AnswerService:
    client = ChatClient(LLMSettings(base_url=fake_llm.base_url, timeout_seconds=5.0))
    return AnswerService(sample_kb, LRUAnswerCache(), lambda: "v1", client)


async def run(action, state):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, state, DOMAIN)
    return events, [m["text"] for m in dispatcher.messages]


async def test_answers_with_sources(sample_kb, fake_llm):
    fake_llm.reply = lambda messages: "Full-time employees get 15 days a year [1]."
    events, sent = await run(ActionAnswerQuestion(make_service(sample_kb, fake_llm)),
                             tracker("question_en_annual_leave"))
    assert events == []
    assert sent == ["Full-time employees get 15 days a year [1].\n"
                    "Sources:\n[1] Annual Leave (en/hr-annual-leave.md)"]


async def test_follow_up_uses_the_conversation(sample_kb, fake_llm):
    fake_llm.reply = lambda messages: "Contractors get no paid annual leave; they use UPL [1]."
    events, sent = await run(ActionAnswerQuestion(make_service(sample_kb, fake_llm)),
                             tracker("follow_up_en_contractors"))
    assert events == []
    assert sent == ["Contractors get no paid annual leave; they use UPL [1].\n"
                    "Sources:\n[1] Annual Leave (en/hr-annual-leave.md)"]
    prompt = fake_llm.requests[0]["body"]["messages"][1]["content"]
    assert "- user: How many days of annual leave do I get?" in prompt
    assert "- assistant: Full-time employees get 15 days a year [1]." in prompt
    assert "Sources:" not in prompt  # earlier answers go in without their source list


async def test_off_topic_question_says_it_does_not_know(sample_kb, fake_llm):
    events, sent = await run(ActionAnswerQuestion(make_service(sample_kb, fake_llm)),
                             tracker("question_zh_off_topic"))
    assert events == []
    assert sent == [
        "抱歉，我在现有的文档里没有找到这个问题的答案。可以换个说法，或者联系相关部门。"]
    assert fake_llm.calls == 0


async def test_unreachable_milvus_gives_a_polite_reply(sample_kb, fake_llm):
    settings = KnowledgeSettings(milvus_uri="http://127.0.0.1:9", collection="kb")
    retriever = Retriever(MilvusKnowledgeStore(settings, 512), sample_kb.embedder)
    service = AnswerService(retriever, LRUAnswerCache(), lambda: "v1", None)
    events, sent = await run(ActionAnswerQuestion(service), tracker("question_zh_off_topic"))
    assert events == [] and sent == ["抱歉，知识库暂时无法使用，请稍后再试。"]


async def test_service_is_built_on_first_use_only(sample_kb, fake_llm):
    built = []

    def factory():
        built.append(1)
        return make_service(sample_kb, fake_llm)

    action = ActionAnswerQuestion(factory=factory)
    assert built == [] and action.name() == "action_answer_question"
    await run(action, tracker("question_en_annual_leave"))
    await run(action, tracker("question_en_annual_leave"))
    assert built == [1]


def test_history_keeps_user_and_bot_texts_without_the_latest_question():
    events = tracker("follow_up_en_contractors").events
    assert history_from_events(events) == [
        Turn("user", "How many days of annual leave do I get?"),
        Turn("assistant", "Full-time employees get 15 days a year [1]."),
    ]
    assert len(history_from_events(events * 5, limit=3)) == 3
