"""Fine-tuning the encoder on intents and entities, alone and inside the featurizer."""

import json

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bilingual_assistant.components.bert_featurizer import (
    SETTINGS_FILE,
    BertFeaturizer,
    entity_tags,
)
from bilingual_assistant.encoders.fine_tuning import (
    NO_ENTITY,
    TuningExample,
    TuningOptions,
    fine_tune,
)
from bilingual_assistant.encoders.torch_encoder import BertEncoder
from tests.components.helpers import (
    context,
    create_featurizer,
    dense,
    featurizer_config,
    token_texts,
    tokenized,
    tokenizer,
)

# Two intents whose words the tiny random BERT has never been taught apart.
WEATHER = ["明天北京天气怎么样", "今天上海下雨吗", "what is the weather in new york",
           "the weather in beijing", "北京下雨吗", "上海天气"]
GREET = ["你好", "hello", "你好的", "hello !", "hello hello", "你好 ,"]


def examples():
    out = []
    for intent, texts in (("weather", WEATHER), ("greet", GREET)):
        for message in tokenized(texts):
            words = token_texts(message)
            out.append(TuningExample(words, intent, [NO_ENTITY] * len(words)))
    return out


def options(**overrides):
    return TuningOptions(**{"epochs": 30, "learning_rate": 1e-3, "batch_size": 4,
                            **overrides})


def centroid_accuracy(encoder, data):
    """Nearest-centroid intent accuracy of the sentence vectors (a linear probe)."""
    vectors = np.vstack(encoder.encode([e.words for e in data]).sentence)
    labels = np.array([e.intent for e in data])
    centroids = {i: vectors[labels == i].mean(axis=0) for i in set(labels)}
    names = list(centroids)
    distances = np.stack([np.linalg.norm(vectors - centroids[n], axis=1) for n in names])
    return float(np.mean(np.array(names)[distances.argmin(axis=0)] == labels))


def margin(encoder, data):
    """Mean distance between the intents' centroids over the mean spread within."""
    vectors = np.vstack(encoder.encode([e.words for e in data]).sentence)
    labels = np.array([e.intent for e in data])
    a, b = (vectors[labels == i] for i in ("weather", "greet"))
    spread = np.mean([np.linalg.norm(v - v.mean(axis=0), axis=1).mean() for v in (a, b)])
    return float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)) / spread)


def test_fine_tuning_separates_the_intents(tiny_bert):
    encoder = BertEncoder.from_directory(tiny_bert)
    data = examples()
    before = margin(encoder, data)
    report = fine_tune(encoder, data, options())
    assert report is not None
    assert report.examples == 12 and report.intents == 2 and report.entity_types == 0
    assert report.last_epoch_loss < report.first_epoch_loss / 2
    assert margin(encoder, data) > 2 * before
    assert centroid_accuracy(encoder, data) == 1.0
    assert not encoder.model.training  # back in evaluation mode (no dropout)


def test_fine_tuning_learns_entity_types_of_words(tiny_bert):
    encoder = BertEncoder.from_directory(tiny_bert)
    [message] = tokenized(["明天北京天气怎么样"])
    words = token_texts(message)
    city = ["city" if w == "北京" else NO_ENTITY for w in words]
    data = [TuningExample(words, None, city)] * 8
    before = encoder.encode([words]).sequence[0]
    report = fine_tune(encoder, data, options(epochs=20, entities=True))
    assert report is not None and report.entity_types == 1 and report.intents == 0
    after = encoder.encode([words]).sequence[0]
    assert not np.allclose(before, after)


def test_nothing_to_learn_leaves_the_encoder_unchanged(tiny_bert):
    encoder = BertEncoder.from_directory(tiny_bert)
    words = [e.words for e in examples()]
    before = encoder.encode(words).sentence
    one_intent = [TuningExample(e.words, "greet", e.tags) for e in examples()]
    assert fine_tune(encoder, one_intent, options()) is None
    entities_off = [TuningExample(e.words, "x", ["city"] * len(e.words))
                    for e in examples()]
    assert fine_tune(encoder, entities_off, options(entities=False)) is None
    for got, want in zip(encoder.encode(words).sentence, before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_heads_learn_at_their_own_rate(tiny_bert):
    # With the encoder almost frozen (1e-6), only the heads can lower the loss:
    # at the encoder's rate they hardly move, at their own rate they fit.
    data = examples()
    same = fine_tune(BertEncoder.from_directory(tiny_bert), data,
                     options(epochs=30, learning_rate=1e-6))
    own = fine_tune(BertEncoder.from_directory(tiny_bert), data,
                    options(epochs=30, learning_rate=1e-6, head_learning_rate=3e-2))
    assert same is not None and own is not None
    assert same.last_epoch_loss > 0.9 * same.first_epoch_loss
    assert own.last_epoch_loss < 0.5 * own.first_epoch_loss


def test_same_seed_same_weights(tiny_bert):
    results = []
    for _ in range(2):
        encoder = BertEncoder.from_directory(tiny_bert)
        fine_tune(encoder, examples(), options(epochs=3))
        results.append(encoder.encode([["明天", "北京"]]).sentence[0])
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize(
    "text, entities, expected",
    [
        ("明天北京天气怎么样", [("北京", "city")], [NO_ENTITY, "city", NO_ENTITY, NO_ENTITY]),
        ("weather in new york", [("new york", "city")],
         [NO_ENTITY, NO_ENTITY, "city", "city"]),
        ("明天 New York 天气", [("New York", "city"), ("明天", "date")],
         ["date", "city", "city", NO_ENTITY]),
        ("hello", [], [NO_ENTITY]),
    ],
)
def test_entity_tags_follow_the_annotated_spans(text, entities, expected):
    [message] = tokenized([text])
    spans = [{"start": text.index(v), "end": text.index(v) + len(v), "entity": e}
             for v, e in entities]
    from rasa.nlu.constants import TOKENS_NAMES

    assert entity_tags(message.get(TOKENS_NAMES[TEXT]), spans) == expected


def training_data():
    messages = []
    for intent, texts in (("weather", WEATHER), ("greet", GREET)):
        for text in texts:
            data = {TEXT: text, INTENT: intent}
            if "北京" in text:
                start = text.index("北京")
                data[ENTITIES] = [{"start": start, "end": start + 2, "entity": "city",
                                   "value": "北京"}]
            messages.append(Message(data=data))
    data = TrainingData(messages)
    tokenizer().process_training_data(data)
    return data


def test_featurizer_stores_the_fine_tuned_encoder(tmp_path, tiny_bert):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("bert")
    config = featurizer_config(tiny_bert, fine_tune_epochs=5,
                               fine_tune_learning_rate=1e-3, fine_tune_batch_size=4)
    featurizer = BertFeaturizer.create(config, storage, resource, context())
    featurizer.train(training_data())
    [tuned] = featurizer.process(tokenized(["明天北京天气"]))

    loaded = BertFeaturizer.load(config, storage, resource, context())
    [after] = loaded.process(tokenized(["明天北京天气"]))
    for got, want in zip(dense(after), dense(tuned), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    [plain] = create_featurizer(tmp_path / "plain", tiny_bert).process(
        tokenized(["明天北京天气"]))
    assert not np.allclose(dense(plain)[1], dense(after)[1])

    with storage.read_from(resource) as directory:
        settings = json.loads((directory / SETTINGS_FILE).read_text())
    report = settings["fine_tuned"]
    assert report["epochs"] == 5 and report["examples"] == 12
    assert report["intents"] == 2 and report["entity_types"] == 1


def test_featurizer_without_fine_tuning_records_none(tmp_path, tiny_bert):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    featurizer = BertFeaturizer.create(featurizer_config(tiny_bert), storage,
                                       Resource("bert"), context())
    featurizer.train(training_data())
    with storage.read_from(Resource("bert")) as directory:
        assert json.loads((directory / SETTINGS_FILE).read_text())["fine_tuned"] is None


def test_long_example_is_rejected_before_fine_tuning(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert, fine_tune_epochs=1)
    data = training_data()
    long = Message(data={TEXT: " ".join(["weather"] * 200), INTENT: "weather"})
    tokenizer().process_training_data(TrainingData([long]))
    data = data.merge(TrainingData([long]))
    weights = [p.detach().clone() for p in featurizer.encoder.model.parameters()]
    with pytest.raises(InvalidConfigException, match="training example .* limit of 64"):
        featurizer.train(data)
    for before, after in zip(weights, featurizer.encoder.model.parameters(), strict=True):
        assert bool((before == after).all())


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"fine_tune_epochs": -1}, "'fine_tune_epochs' must be an integer >= 0"),
        ({"fine_tune_epochs": 2.5}, "'fine_tune_epochs' must be an integer >= 0"),
        ({"fine_tune_batch_size": 0}, "'fine_tune_batch_size' must be an integer >= 1"),
        ({"fine_tune_learning_rate": 0}, "'fine_tune_learning_rate' must be a number"),
        ({"fine_tune_learning_rate": "fast"}, "'fine_tune_learning_rate' must be"),
        ({"fine_tune_learning_rate": 3}, "'fine_tune_learning_rate' must be"),
        ({"fine_tune_head_learning_rate": 0}, "'fine_tune_head_learning_rate' must be a"),
        ({"fine_tune_head_learning_rate": None}, "'fine_tune_head_learning_rate' must"),
        ({"fine_tune_entities": "yes"}, "'fine_tune_entities' must be true or false"),
        ({"random_seed": None}, "'random_seed' must be an integer >= 0"),
    ],
)
def test_bad_fine_tuning_config_is_rejected(tmp_path, tiny_bert, overrides, message):
    with pytest.raises(InvalidConfigException, match=message):
        create_featurizer(tmp_path, tiny_bert, **overrides)
