"""Real multi-turn conversations through Rasa's REST channel, in each language."""

import re

import pytest
import requests

from bilingual_assistant.answers.messages import MESSAGES
from tests.integration.conftest import RASA_TOKEN

pytestmark = pytest.mark.slow

REPORT_ZH = re.compile(r"^北京(今天|明天)：.+，气温 -?\d+°C 到 -?\d+°C，降水概率 \d+%。$")
REPORT_EN = re.compile(r"^London, tomorrow: .+, -?\d+°C to -?\d+°C, \d+% chance of rain\.$")


def test_chinese_conversation_with_weather_form(servers):
    say = lambda text: servers.say("zh-user", text)  # noqa: E731
    assert say("你好")[0].startswith("你好！我是你的双语助手")
    assert say("帮我查一下天气") == ["你想查询哪个城市的天气？"]
    # a digression inside the form: answered, then the form asks again
    assert say("你是机器人吗") == [
        "我是一个由 Rasa 驱动的 AI 助手，不是真人。",
        "你想查询哪个城市的天气？",
    ]
    [report] = say("帝都")
    assert REPORT_ZH.match(report), report
    assert say("谢谢")[0] == "不客气，随时找我！"


def test_english_conversation_with_city_and_date(servers):
    say = lambda text: servers.say("en-user", text)  # noqa: E731
    assert say("hello there")[0].startswith("Hi! I'm your bilingual assistant")
    [report] = say("what's the weather in London tomorrow?")
    assert REPORT_EN.match(report), report
    assert say("are you a bot?") == ["I'm an AI assistant powered by Rasa, not a human."]
    assert say("bye")[0] == "Goodbye, have a great day!"


def test_language_follows_the_user(servers):
    assert servers.say("switcher", "hi")[0].startswith("Hi!")
    assert servers.say("switcher", "你好")[0].startswith("你好！")


@pytest.mark.parametrize("text, reply", [
    ("I want to talk to a human", "Please contact the team in charge."),
    ("agent please", "Please contact the team in charge."),
    ("转人工", "请联系负责的团队。"),
    ("找个真人", "请联系负责的团队。"),
])
def test_asking_for_a_person_says_who_to_contact_not_that_it_is_a_bot(servers, text, reply):
    """Issue #28, as seen: "I want to talk to a human" got the bot-challenge reply
    and "转人工" a document search."""
    replies = servers.say(f"handoff-{text}", text)
    assert len(replies) == 1 and reply in replies[0], replies
    assert "not a human" not in replies[0] and "不是真人" not in replies[0]


def test_unknown_city_is_asked_again(servers):
    say = lambda text: servers.say("atlantis-user", text)  # noqa: E731
    say("what's the weather like?")
    assert say("Atlantis") == [
        "Sorry, I couldn't find a city called \"Atlantis\". Please try another city name.",
        "Which city would you like the weather for?",
    ]
    [report] = say("London")
    assert report.startswith("London, today: ")


ASK_WHAT = ["What would you like to know?"]  # MESSAGES["empty"]: nothing to look up
TOO_LONG = [MESSAGES["too_long"]["en"]]


@pytest.mark.parametrize(
    "text, expected",
    [("", ASK_WHAT), ("   ", ASK_WHAT), ("!!!???", ASK_WHAT), ("😀😀😀", ASK_WHAT),
     ("\u200b", ASK_WHAT), ("x" * 10_000, TOO_LONG),
     # a mixed message with a city and a day: tomorrow's weather in Beijing
     ("明天 weather 北京 ok? 🤔 ñ ü", re.compile(r"^(北京明天：|Beijing, tomorrow: )"))],
    ids=["empty", "spaces", "punctuation", "emoji", "zero-width-space", "10000-x", "mixed"],
)
def test_bad_input_gets_a_reply_not_an_error(servers, text, expected, request):
    # Each message starts its own conversation, so the reply's language is known.
    replies = servers.say(f"bad-input-{request.node.callspec.id}", text)
    # At least one reply, each with some text: an empty list is no reply.
    assert replies and all(isinstance(r, str) and r.strip() for r in replies), replies
    if isinstance(expected, list):
        assert replies == expected
    else:
        assert len(replies) == 1 and expected.match(replies[0]), replies
    # the server is still healthy afterwards
    assert servers.say("bad-input-after", "hi")[0].startswith("Hi!")


@pytest.mark.parametrize(
    "text, reply",
    [("!!!???", "What would you like to know?"), ("😀😀😀", "What would you like to know?"),
     ("？？", "What would you like to know?")],
)
def test_message_without_words_is_asked_what_the_user_wants(servers, text, reply):
    sender = f"no-words-{text}"
    assert servers.say(sender, text) == [reply]
    # the conversation's language, once known, is kept
    servers.say(sender, "你好")
    assert servers.say(sender, text) == ["请问您想了解什么？"]


@pytest.mark.parametrize(
    "body, status, explanation",
    [
        (b"{not json", 400, "json"),
        (b'{"sender": "x"}', 400, '\\"message\\" must be a string'),
        (b'{"sender": "x", "message": 5}', 400, '\\"message\\" must be a string'),
        (b'{"sender": ["x"], "message": "hi"}', 400, '\\"sender\\" must be a string'),
        (b'{"sender": "x", "message": "hi", "metadata": 3}', 400,
         '\\"metadata\\" must be a JSON object'),
        (b'{"message": "hi"}', 400, '\\"sender\\" is required'),
        (b'{"sender": "a\\nb", "message": "hi"}', 400, "control characters"),
        (b'{"sender": "x", "message": "hi", "metadata": {"k": "' + b"m" * 3000 + b'"}}', 413,
         "the limit is 2048"),
        (b"[]", 400, "must be a JSON object"),
        (b"", 400, "must be a JSON object"),
        (b'{"sender": "x", "message": "' + b"y" * 20_001 + b'"}', 413, "the limit is 20000"),
    ],
)
def test_malformed_request_is_a_client_error(servers, body, status, explanation):
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert explanation.lower() in response.text.lower()
    assert servers.say("after-bad-body", "hi")[0].startswith("Hi!")


def test_parse_endpoint_reports_intent_entities_and_language_neutral_tokens(servers):
    response = requests.post(
        f"{servers.rasa_url}/model/parse",
        json={"text": "明天上海会下雨吗"},
        params={"token": RASA_TOKEN},
        timeout=30,
    )
    assert response.status_code == 200
    parsed = response.json()
    assert parsed["intent"]["name"] == "ask_weather"
    values = {(e["entity"], e["value"]) for e in parsed["entities"]}
    assert {("city", "Shanghai"), ("date", "tomorrow")} <= values


def _day(report: str, separator: str) -> str:
    """The day a report names: "北京后天：…" -> "后天", "London, Friday 4 December: …"."""
    head = report.split(separator, 1)[0]
    return head.split(", ", 1)[1] if ", " in head else head[2:]


def test_weather_follow_ups_change_the_day_or_the_city_and_keep_the_other(servers):
    say = lambda text: servers.say("follow-zh", text)  # noqa: E731
    [first] = say("明天北京天气怎么样")
    assert first.startswith("北京明天："), first
    [next_day] = say("那后天呢")
    assert next_day.startswith("北京后天："), next_day
    [other_city] = say("那上海呢")
    assert other_city.startswith("上海后天："), other_city
    say_en = lambda text: servers.say("follow-en", text)  # noqa: E731
    [first] = say_en("what's the weather in London tomorrow?")
    assert first.startswith("London, tomorrow: "), first
    [friday] = say_en("and on Friday?")
    assert friday.startswith("London, ") and _day(friday, ":") != "tomorrow", friday
    [shanghai] = say_en("what about Shanghai?")
    assert shanghai.startswith("Shanghai, ") and _day(shanghai, ":") == _day(friday, ":")
    # A fresh weather question without a day is about today again.
    [fresh] = say_en("what's the weather in Tokyo?")
    assert fresh.startswith("Tokyo, today: "), fresh


def test_what_can_you_do_names_the_documents_first(servers):
    [help_en] = servers.say("help-en", "what can you do?")
    assert help_en.split("\n")[1].startswith("- answer questions about the company's documents")
    [help_zh] = servers.say("help-zh", "你能帮我做什么")
    assert help_zh.split("\n")[1].startswith("- 回答关于公司文档的问题")


def test_with_weather_enabled_off_the_skill_is_gone(servers):
    servers.stop_actions()
    servers.start_actions(WEATHER_ENABLED="off")
    try:
        asked = len(servers.weather.requests)
        assert servers.say("weather-off-en", "what's the weather in London tomorrow?") == [
            "Weather lookups are turned off here. You can ask me about the company's "
            "documents."]
        assert servers.say("weather-off-zh", "明天北京天气怎么样") == [
            "这里没有开启天气查询。你可以问我公司文档里的问题。"]
        [help_en] = servers.say("weather-off-help", "what can you do?")
        assert "documents" in help_en and "weather" not in help_en
        assert len(servers.weather.requests) == asked
        # The form ended: the next message is answered as a question of its own.
        [thanks] = servers.say("weather-off-en", "thanks")
        assert "city" not in thanks
    finally:
        servers.stop_actions()
        servers.start_actions()
