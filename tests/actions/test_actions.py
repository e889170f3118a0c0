"""The weather actions, run against trackers from JSON fixtures and the fake
Open-Meteo server, asserting the exact events and messages."""

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAskCity, ActionWeather, ValidateWeatherForm
from actions.help import ActionHelp
from bilingual_assistant.adapters.open_meteo import OpenMeteoClient

FIXTURES = Path(__file__).parent / "fixtures"
DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
TODAY = dt.date(2026, 11, 24)


def tracker(name: str, **slots) -> Tracker:
    state = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    state = copy.deepcopy(state)
    state["slots"].update(slots)
    return Tracker.from_dict(state)


def texts(dispatcher: CollectingDispatcher):
    return [m["text"] for m in dispatcher.messages]


@pytest.fixture
def provider(weather_settings):
    return OpenMeteoClient(weather_settings)


async def run_weather(provider, state: Tracker):
    """Runs ActionWeather on `state`; returns its events and the texts it sent."""
    dispatcher = CollectingDispatcher()
    action = ActionWeather(provider, clock=lambda: TODAY)
    events = await action.run(dispatcher, state, DOMAIN)
    return events, texts(dispatcher)


async def test_weather_report_in_chinese(provider):
    events, sent = await run_weather(provider, tracker("weather_beijing_tomorrow_zh"))
    assert events == [SlotSet("date", None), SlotSet("last_date", "tomorrow")]
    assert sent == ["北京明天：晴，气温 5°C 到 12°C，降水概率 75%。"]


async def test_weather_report_in_english_defaults_to_today(provider):
    events, sent = await run_weather(provider, tracker("weather_london_no_date_en"))
    assert events == [SlotSet("date", None), SlotSet("last_date", None)]
    assert sent == [
        "London, today: light snow, 6°C to 13°C, 68% chance of rain."
    ]


async def test_weather_for_a_weekday_names_the_day(provider):
    _, sent = await run_weather(provider, tracker("weather_london_no_date_en", date="friday"))
    assert sent[0].startswith("London, Friday 27 November: ")


def follow_up(text: str, entities, **slots) -> Tracker:
    """A tracker whose latest message is an `inform` sent right after a forecast."""
    state = json.loads((FIXTURES / "weather_beijing_tomorrow_zh.json").read_text("utf-8"))
    state["events"] += [{"event": "action", "name": "action_weather"},
                        {"event": "slot", "name": "date", "value": None},
                        {"event": "action", "name": "action_listen"},
                        {"event": "user", "text": text,
                         "parse_data": {"intent": {"name": "inform"}}}]
    state["latest_message"] = {"text": text, "intent": {"name": "inform", "confidence": 0.9},
                               "entities": entities}
    state["slots"].update(slots)
    return Tracker.from_dict(state)


async def test_a_follow_up_naming_a_day_keeps_the_city(provider):
    state = follow_up("那后天呢", [{"entity": "date", "value": "day_after_tomorrow"}],
                      city="Beijing", date="day_after_tomorrow", last_date="tomorrow")
    events, sent = await run_weather(provider, state)
    assert sent[0].startswith("北京后天：")
    assert events == [SlotSet("date", None), SlotSet("last_date", "day_after_tomorrow")]


async def test_a_follow_up_naming_a_city_keeps_the_day(provider):
    state = follow_up("那上海呢", [{"entity": "city", "value": "Shanghai"}],
                      city="Shanghai", date=None, last_date="day_after_tomorrow")
    _, sent = await run_weather(provider, state)
    assert sent[0].startswith("上海后天：")


async def test_a_new_weather_question_without_a_day_is_about_today(provider):
    # Not a follow-up: the last forecast's day is not carried over.
    state = tracker("weather_london_no_date_en", last_date="friday")
    _, sent = await run_weather(provider, state)
    assert sent[0].startswith("London, today: ")


async def test_unknown_city(provider):
    state = tracker("weather_london_no_date_en", city="Atlantis")
    events, sent = await run_weather(provider, state)
    assert events == [SlotSet("date", None), SlotSet("last_date", None)]
    assert sent == [
        "Sorry, I couldn't find a city called \"Atlantis\". Please try another city name."
    ]


async def test_date_not_understood_and_out_of_range(provider):
    _, sent = await run_weather(provider, tracker("weather_beijing_tomorrow_zh", date="某天"))
    assert sent == ["抱歉，我不明白“某天”是哪一天。可以说今天、明天或星期几。"]
    _, sent = await run_weather(provider, tracker("weather_london_no_date_en", date="2027-01-30"))
    assert sent == [
        "Sorry, I can only look up the weather for the next 16 days."
    ]


@pytest.mark.parametrize("failure", ["status", "timeout"])
async def test_service_failure_is_explained(provider, open_meteo, failure):
    if failure == "status":
        open_meteo.fail_with = 500
    else:
        open_meteo.delay_seconds = 1.5
    events, sent = await run_weather(provider, tracker("weather_beijing_tomorrow_zh"))
    assert events == [SlotSet("date", None), SlotSet("last_date", None)]
    assert sent == ["抱歉，天气服务暂时无法使用，请稍后再试。"]


async def test_form_rejects_an_unknown_city(provider):
    dispatcher = CollectingDispatcher()
    events = await ValidateWeatherForm(provider).run(
        dispatcher, tracker("weather_form_city_given_en"), DOMAIN
    )
    assert events == [SlotSet("city", None)]
    assert texts(dispatcher) == [
        "Sorry, I couldn't find a city called \"Atlantis\". Please try another city name."
    ]


async def test_form_keeps_a_known_city(provider):
    dispatcher = CollectingDispatcher()
    state = tracker("weather_form_city_given_en", city="Tokyo")
    state.events[-1]["value"] = "Tokyo"
    events = await ValidateWeatherForm(provider).run(dispatcher, state, DOMAIN)
    assert events == [SlotSet("city", "Tokyo")]
    assert dispatcher.messages == []


async def test_form_keeps_the_city_when_the_geocoder_is_down(provider, open_meteo):
    open_meteo.fail_with = 502
    dispatcher = CollectingDispatcher()
    state = tracker("weather_form_city_given_en", city="Tokyo")
    state.events[-1]["value"] = "Tokyo"
    events = await ValidateWeatherForm(provider).run(dispatcher, state, DOMAIN)
    assert events == [SlotSet("city", "Tokyo")]
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "language, question",
    [("zh", "你想查询哪个城市的天气？"), ("en", "Which city would you like the weather for?")],
)
async def test_ask_city_in_the_users_language(language, question):
    dispatcher = CollectingDispatcher()
    state = tracker("weather_form_city_given_en", language=language)
    assert await ActionAskCity().run(dispatcher, state, DOMAIN) == []
    assert texts(dispatcher) == [question]


async def test_with_the_skill_off_the_form_ends_unasked_and_nothing_is_looked_up(
        provider, open_meteo):
    dispatcher = CollectingDispatcher()
    state = tracker("weather_form_city_given_en", city="Tokyo")
    events = await ValidateWeatherForm(provider, enabled=False).run(dispatcher, state, DOMAIN)
    assert events == [SlotSet("requested_slot", None), ActiveLoop(None)]
    assert dispatcher.messages == []
    dispatcher = CollectingDispatcher()
    action = ActionWeather(provider, clock=lambda: TODAY, enabled=False)
    events = await action.run(dispatcher, tracker("weather_beijing_tomorrow_zh"), DOMAIN)
    assert texts(dispatcher) == ["这里没有开启天气查询。你可以问我公司文档里的问题。"]
    assert events == [SlotSet("date", None), SlotSet("last_date", None)]
    assert open_meteo.requests == []


@pytest.mark.parametrize("weather", [True, False])
@pytest.mark.parametrize("language", ["zh", "en"])
async def test_help_lists_the_weather_only_when_it_is_on(language, weather):
    dispatcher = CollectingDispatcher()
    state = tracker("weather_form_city_given_en", language=language)
    assert await ActionHelp(weather=weather).run(dispatcher, state, DOMAIN) == []
    [sent] = texts(dispatcher)
    lines = sent.split("\n")
    assert lines[1].startswith("- 回答关于公司文档" if language == "zh" else "- answer questions")
    mentions = [line for line in lines if ("天气" in line or "weather" in line)]
    assert len(mentions) == (1 if weather else 0)
