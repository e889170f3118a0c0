"""NoveltyClassifier: calibration, the threshold, persistence and config."""

import json

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bilingual_assistant.components.novelty_classifier import (
    SIMILARITY_KEY,
    NoveltyClassifier,
    leave_one_out_similarities,
    unit_rows,
)
from tests.components.helpers import context, create_featurizer, tokenized

RESOURCE = Resource("novelty")
# Four training examples on two intents. Cosine similarities: a-b 0.8, c-d 0.6,
# between the groups 0; so the leave-one-out nearest similarities are
# a 0.8, b 0.8, c 0.6, d 0.6.
TRAINING = [
    ("a", "greet", [1.0, 0.0, 0.0]),
    ("b", "greet", [0.8, 0.6, 0.0]),
    ("c", "ask_weather", [0.0, 0.0, 1.0]),
    ("d", "ask_weather", [0.0, 0.8, 0.6]),
]
GREET = {"name": "greet", "confidence": 0.97}
RANKING = [GREET, {"name": "ask_weather", "confidence": 0.03}]
CITY = {"entity": "city", "value": "Beijing", "start": 0, "end": 2}


def featurized(text, vector, intent=None, **data):
    message = Message(data={TEXT: text, **({"intent": intent} if intent else {}), **data})
    message.add_features(Features(np.array([vector], dtype=np.float32),
                                  FEATURE_TYPE_SENTENCE, TEXT, "bert"))
    return message


def training_data():
    return TrainingData([featurized(t, v, i) for t, i, v in TRAINING])


def trained(tmp_path, **config):
    classifier = NoveltyClassifier.create(
        {**NoveltyClassifier.get_default_config(), **config},
        LocalModelStorage(tmp_path), RESOURCE, context("novelty"),
    )
    classifier.train(training_data())
    return classifier


def parsed(text, vector, intent=GREET):
    return featurized(text, vector, intent=dict(intent),
                      intent_ranking=[dict(r) for r in RANKING], entities=[dict(CITY)])


def test_leave_one_out_similarity_is_the_nearest_other_example():
    vectors = unit_rows(np.array([v for _, _, v in TRAINING]))
    nearest = leave_one_out_similarities(vectors, [t for t, _, _ in TRAINING])
    np.testing.assert_allclose(nearest, [0.8, 0.8, 0.6, 0.6], atol=1e-6)


def test_the_same_text_is_not_its_own_neighbour():
    vectors = unit_rows(np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]]))
    nearest = leave_one_out_similarities(vectors, ["Hello", "hello ", "hi"])
    np.testing.assert_allclose(nearest, [0.6, 0.6, 0.6], atol=1e-6)


def test_unit_rows_leaves_a_zero_vector_alone():
    rows = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize("percentile, expected", [(0, 0.6), (50, 0.7), (100, 0.8)])
def test_threshold_is_a_percentile_of_the_training_similarities(
    tmp_path, percentile, expected
):
    assert trained(tmp_path, percentile=percentile).threshold == pytest.approx(expected)


def test_a_set_threshold_replaces_the_calibration(tmp_path):
    assert trained(tmp_path, threshold=0.25).threshold == 0.25


def test_message_near_a_training_example_keeps_its_prediction(tmp_path):
    classifier = trained(tmp_path, percentile=0)  # threshold 0.6
    [message] = classifier.process([parsed("hello", [0.9, 0.1, 0.0])])
    assert message.get("intent") == GREET
    assert message.get("intent_ranking") == RANKING
    assert message.get(SIMILARITY_KEY) == pytest.approx(0.9939, abs=1e-4)


def test_message_unlike_every_example_becomes_nlu_fallback(tmp_path):
    classifier = trained(tmp_path, percentile=0)
    # nearest: c, at 0.5 < 0.6
    [message] = classifier.process([parsed("blorp", [0.0, -0.866, 0.5])])
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}
    assert message.get("intent_ranking") == [message.get("intent"), *RANKING]
    assert message.get("entities") == [CITY]
    assert message.get(SIMILARITY_KEY) == pytest.approx(0.5, abs=1e-4)
    assert {"intent", "intent_ranking", SIMILARITY_KEY} <= set(message.output_properties)


@pytest.mark.parametrize("intent", ["out_of_scope", "nlu_fallback"])
def test_an_out_of_scope_prediction_is_left_alone(tmp_path, intent):
    classifier = trained(tmp_path, percentile=0)
    prediction = {"name": intent, "confidence": 0.7}
    [message] = classifier.process([parsed("blorp", [0.0, -0.866, 0.5], prediction)])
    assert message.get("intent") == prediction


def test_an_exempt_intent_is_left_alone(tmp_path):
    classifier = trained(tmp_path, percentile=0, exempt_intents=["inform"])
    inform = {"name": "inform", "confidence": 0.9}
    [kept] = classifier.process([parsed("Atlantis", [0.0, -0.866, 0.5], inform)])
    [replaced] = classifier.process([parsed("blorp", [0.0, -0.866, 0.5])])
    assert kept.get("intent") == inform
    assert replaced.get("intent")["name"] == "nlu_fallback"


def test_message_without_dense_features_is_left_alone(tmp_path):
    classifier = trained(tmp_path)
    message = Message(data={TEXT: "hi", "intent": dict(GREET)})
    [result] = classifier.process([message])
    assert result.get("intent") == GREET
    assert result.get(SIMILARITY_KEY) is None


def test_trained_component_loads_back_from_the_model(tmp_path):
    classifier = trained(tmp_path, percentile=50)
    loaded = NoveltyClassifier.load({**NoveltyClassifier.get_default_config(),
                                     "percentile": 50},
                                    LocalModelStorage(tmp_path), RESOURCE,
                                    context("novelty"))
    assert loaded.threshold == pytest.approx(classifier.threshold)
    # d itself (1.0) stays; nearest c at 0.6 is below the threshold of 0.7
    for vector, expected in (([0.0, 0.8, 0.6], "ask_weather"),
                             ([0.0, -0.8, 0.6], "nlu_fallback")):
        intent = {"name": "ask_weather", "confidence": 0.9}
        original = classifier.process([parsed("x", vector, intent)])[0]
        reloaded = loaded.process([parsed("x", vector, intent)])[0]
        assert original.get("intent")["name"] == reloaded.get("intent")["name"] == expected
        assert original.get(SIMILARITY_KEY) == reloaded.get(SIMILARITY_KEY)


def test_the_model_keeps_the_calibration_similarities(tmp_path):
    trained(tmp_path)
    with LocalModelStorage(tmp_path).read_from(RESOURCE) as directory:
        settings = json.loads((directory / "novelty.json").read_text())
    assert settings["nearest_similarities"] == [0.6, 0.6, 0.8, 0.8]
    assert settings["examples"] == 4 and settings["percentile"] == 5.0


def test_load_without_a_trained_resource_explains(tmp_path):
    with pytest.raises(InvalidConfigException, match="Retrain the model"):
        NoveltyClassifier.load(NoveltyClassifier.get_default_config(),
                               LocalModelStorage(tmp_path), RESOURCE, context("novelty"))


def test_training_without_dense_features_explains(tmp_path):
    classifier = NoveltyClassifier.create(NoveltyClassifier.get_default_config(),
                                          LocalModelStorage(tmp_path), RESOURCE,
                                          context("novelty"))
    data = TrainingData([Message(data={TEXT: "hi", "intent": "greet"})])
    with pytest.raises(InvalidConfigException, match="dense featurizer"):
        classifier.train(data)


def test_features_of_another_size_are_refused(tmp_path):
    classifier = trained(tmp_path)
    with pytest.raises(InvalidConfigException, match="Retrain"):
        classifier.process([parsed("x", [1.0, 0.0])])


@pytest.mark.parametrize(
    "config, message",
    [
        ({"percentile": 101}, "'percentile' must be a number from 0 to 100"),
        ({"percentile": "5"}, "'percentile' must be a number from 0 to 100"),
        ({"percentile": True}, "'percentile' must be a number from 0 to 100"),
        ({"threshold": 1.5}, "'threshold' must be empty"),
        ({"threshold": "high"}, "'threshold' must be empty"),
        ({"exempt_intents": "inform"}, "'exempt_intents' must be a list"),
    ],
)
def test_bad_config_is_rejected(tmp_path, config, message):
    with pytest.raises(InvalidConfigException, match=message):
        NoveltyClassifier.create({**NoveltyClassifier.get_default_config(), **config},
                                 LocalModelStorage(tmp_path), RESOURCE, context("novelty"))


def test_after_the_real_featurizer_a_training_sentence_is_familiar(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    texts = ["明天北京天气怎么样", "what is the weather in Paris", "你好", "hello there"]
    examples = featurizer.process(tokenized(texts))
    for message, intent in zip(examples, ["ask_weather", "ask_weather", "greet", "greet"],
                               strict=True):
        message.set("intent", intent)
    classifier = NoveltyClassifier.create(NoveltyClassifier.get_default_config(),
                                          LocalModelStorage(tmp_path),
                                          RESOURCE, context("novelty"))
    classifier.train(TrainingData(examples))
    [again] = featurizer.process(tokenized(["你好"]))
    again.set("intent", dict(GREET))
    [result] = classifier.process([again])
    assert result.get(SIMILARITY_KEY) == pytest.approx(1.0, abs=1e-4)
    assert result.get("intent") == GREET
