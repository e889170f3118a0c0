"""NoContentClassifier: messages without words or numbers go to `nlu_fallback`."""

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bilingual_assistant.components.no_content_classifier import NoContentClassifier
from tests.components.helpers import context

GREET = {"name": "greet", "confidence": 0.97}
RANKING = [GREET, {"name": "affirm", "confidence": 0.02}, {"name": "deny", "confidence": 0.01}]
CITY = {"entity": "city", "value": "Beijing", "start": 0, "end": 2}


def classify(tmp_path, text):
    classifier = NoContentClassifier.create(
        NoContentClassifier.get_default_config(), LocalModelStorage(tmp_path),
        Resource("no_content"), context("no_content"),
    )
    message = Message(data={"text": text, "intent": dict(GREET),
                            "intent_ranking": [dict(r) for r in RANKING],
                            "entities": [dict(CITY)]})
    [result] = classifier.process([message])
    return result


@pytest.mark.parametrize("text", ["!!!???", "😀😀😀", "", "\u200b", "……。", "  👍🏽 "])
def test_message_without_words_becomes_nlu_fallback(tmp_path, text):
    message = classify(tmp_path, text)
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}
    assert message.get("intent_ranking") == [
        {"name": "nlu_fallback", "confidence": 1.0}, *RANKING
    ]
    assert message.get("entities") == []
    assert {"intent", "intent_ranking", "entities"} <= set(message.output_properties)


@pytest.mark.parametrize("text", ["hi", "北京", "2", "hi!!! 😀", "ok?"])
def test_message_with_words_keeps_its_prediction(tmp_path, text):
    message = classify(tmp_path, text)
    assert message.get("intent") == GREET
    assert message.get("intent_ranking") == RANKING
    assert message.get("entities") == [CITY]


def test_an_earlier_fallback_is_not_listed_twice(tmp_path):
    classifier = NoContentClassifier.create({}, LocalModelStorage(tmp_path),
                                            Resource("no_content"), context("no_content"))
    fallback = {"name": "nlu_fallback", "confidence": 0.6}
    message = Message(data={"text": "???", "intent": fallback,
                            "intent_ranking": [fallback, GREET]})
    [result] = classifier.process([message])
    assert result.get("intent_ranking") == [{"name": "nlu_fallback", "confidence": 1.0}, GREET]
