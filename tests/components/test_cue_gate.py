"""CueGate: a task intent without a word of its task goes to `nlu_fallback`."""

from pathlib import Path

import pytest
import yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bilingual_assistant.components.cue_gate import (
    GATED_KEY,
    CueGate,
    cue_pattern,
    has_cue,
    units_besides_entities,
)
from tests.components.helpers import context

PROJECT = Path(__file__).resolve().parents[2]
WEATHER = {"name": "ask_weather", "confidence": 0.93}
RANKING = [WEATHER, {"name": "ask_question", "confidence": 0.05}]
CITY = {"entity": "city", "value": "Foshan", "start": 24, "end": 30}


def configured_cues():
    [gate] = [c for c in yaml.safe_load((PROJECT / "config.yml").read_text())["pipeline"]
              if c["name"] == "bilingual_assistant.components.cue_gate.CueGate"]
    return gate["cues"]


def configured_limits():
    [gate] = [c for c in yaml.safe_load((PROJECT / "config.yml").read_text())["pipeline"]
              if c["name"] == "bilingual_assistant.components.cue_gate.CueGate"]
    return gate["max_units"]


def gate(tmp_path, cues=None, max_units=None):
    config = {"cues": cues or {"ask_weather": ["天气", "weather", "rain"],
                               "inform": ["天气", "weather", "rain"]},
              "max_units": {"inform": 4} if max_units is None else max_units}
    return CueGate.create(config, LocalModelStorage(tmp_path), Resource("cue_gate"),
                          context("gate"))


def process(component, text, intent=WEATHER):
    message = Message(data={"text": text, "intent": dict(intent),
                            "intent_ranking": [dict(r) for r in RANKING],
                            "entities": [dict(CITY)]})
    [result] = component.process([message])
    return result


def test_a_weather_prediction_without_a_weather_word_falls_back(tmp_path):
    message = process(gate(tmp_path), "which river runs past Foshan?")
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 0.93}
    assert message.get("intent_ranking") == [message.get("intent"), *RANKING]
    assert message.get(GATED_KEY) == WEATHER
    assert message.get("entities") == [CITY]
    assert {"intent", "intent_ranking", GATED_KEY} <= set(message.output_properties)


@pytest.mark.parametrize("text", ["佛山明天天气怎么样", "Will it RAIN in Foshan?",
                                  "weather, Foshan"])
def test_a_weather_word_keeps_the_prediction(tmp_path, text):
    message = process(gate(tmp_path), text)
    assert message.get("intent") == WEATHER
    assert message.get(GATED_KEY) is None


def test_other_intents_are_not_gated(tmp_path):
    greet = {"name": "greet", "confidence": 0.99}
    assert process(gate(tmp_path), "hello Foshan", greet).get("intent") == greet


def test_latin_cues_match_whole_words_and_chinese_cues_anywhere():
    pattern = cue_pattern(["hot", "雨"])
    assert has_cue("is it HOT today", pattern)
    assert not has_cue("which hotel is closest", pattern)
    assert has_cue("明天下雨吗", pattern)
    assert not has_cue("", pattern)


INFORM = {"name": "inform", "confidence": 0.9}


@pytest.mark.parametrize("text", ["Foshan", "what about Foshan?", "I live in Foshan",
                                  "我在佛山", "in what city and state did she grow up?"])
def test_an_inform_is_kept_when_short(tmp_path, text):
    entity = {"entity": "city", "value": "Foshan", "start": text.find("Foshan"),
              "end": text.find("Foshan") + 6} if "Foshan" in text else {
        "entity": "city", "value": "Foshan", "start": 2, "end": 4} if "佛山" in text else {}
    message = Message(data={"text": text, "intent": dict(INFORM),
                            "entities": [entity] if entity else []})
    [result] = gate(tmp_path).process([message])
    short = "grow up" not in text
    assert (result.get("intent") == INFORM) is short, result.get("intent")


def test_a_long_inform_with_a_weather_word_is_kept(tmp_path):
    message = Message(data={"text": "and will it rain there on the weekend then?",
                            "intent": dict(INFORM), "entities": []})
    [result] = gate(tmp_path).process([message])
    assert result.get("intent") == INFORM


def test_units_besides_entities_count_words_and_chinese_characters():
    assert units_besides_entities("卡塞雷斯城是何时建立的？",
                                  [{"start": 0, "end": 5}]) == 6
    assert units_besides_entities("how about the day after tomorrow?",
                                  [{"start": 14, "end": 32}]) == 3
    assert units_besides_entities("I'm in Berlin", [{"start": 7, "end": 13}]) == 3


@pytest.mark.parametrize("cues", [None, [], {"ask_weather": []}, {"ask_weather": "rain"},
                                  {"ask_weather": ["rain", ""]}])
def test_bad_cues_say_how_to_write_them(tmp_path, cues):
    with pytest.raises(InvalidConfigException, match="map each intent name"):
        CueGate.create({"cues": cues}, LocalModelStorage(tmp_path), Resource("g"),
                       context("g"))


@pytest.mark.parametrize("limits", [[], {"inform": -1}, {"inform": "4"}, {"inform": True}])
def test_bad_limits_say_how_to_write_them(tmp_path, limits):
    with pytest.raises(InvalidConfigException, match="whole number"):
        gate(tmp_path, max_units=limits)


@pytest.mark.parametrize("intent", ["ask_weather", "inform"])
def test_every_weather_training_example_keeps_its_intent(tmp_path, intent):
    # The cues and the limit were written from these examples: the gate must not
    # undo what the model was taught (the held-out set: benchmarks/routing.py).
    component = gate(tmp_path, configured_cues(), configured_limits())
    examples = [m for path in ("data/nlu/zh/weather.yml", "data/nlu/en/weather.yml")
                for m in load_data(str(PROJECT / path)).intent_examples
                if m.get("intent") == intent]
    assert len(examples) > 40
    dropped = [m.get("text") for m in examples
               if component.gated(intent, m.get("text"), m.get("entities") or [])]
    assert not dropped
