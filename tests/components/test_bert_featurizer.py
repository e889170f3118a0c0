"""BertFeaturizer: alignment, batching, limits, config and persistence."""

import logging

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bilingual_assistant.components.bert_featurizer import BertFeaturizer
from tests.components.helpers import (
    context,
    create_featurizer,
    dense,
    featurizer_config,
    token_texts,
    tokenized,
)


@pytest.mark.parametrize(
    "text, expected_tokens",
    [
        ("明天北京天气怎么样", ["明天", "北京", "天气", "怎么样"]),
        ("what is the weather in New York?", None),
        ("明天 New York 天气", None),
        ("hello 😀👍", None),
        ("unbelievables xqzt 龘", None),
    ],
)
def test_one_sequence_row_per_rasa_token(tmp_path, tiny_bert, text, expected_tokens):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    [message] = featurizer.process(tokenized([text]))
    tokens = token_texts(message)
    if expected_tokens is not None:
        assert tokens == expected_tokens
    assert " " not in tokens  # the tokenizer drops Jieba's whitespace tokens
    sequence, sentence = dense(message)
    assert sequence.shape == (len(tokens), 16)
    assert sentence.shape == (1, 16)
    # every token, including emoji and unknown words, gets a real (non-zero) row
    assert np.all(np.abs(sequence).sum(axis=1) > 0)


def test_word_pieces_are_pooled_back_to_their_token(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    pieces = featurizer.encoder.word_piece_ids(["unbelievables", "xqzt"])
    assert len(pieces[0]) == 5  # un ##bel ##iev ##able ##s
    assert pieces[1] == [featurizer.encoder.tokenizer.unk_token_id]


def test_token_removed_by_normalisation_still_gets_a_row(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    # a zero-width space survives Jieba but BERT's text cleaning deletes it
    [message] = featurizer.process(tokenized(["\u200b"]))
    assert token_texts(message) == ["\u200b"]
    sequence, _ = dense(message)
    assert sequence.shape == (1, 16) and np.abs(sequence).sum() > 0


def test_message_without_tokens_gets_empty_sequence(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    [message] = featurizer.process(tokenized(["   "]))
    sequence, sentence = dense(message)
    assert sequence.shape == (0, 16)
    assert sentence.shape == (1, 16)


def test_lower_case_vocabulary_is_detected(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    assert featurizer.encoder.lowercase is True
    upper, lower = featurizer.process(tokenized(["Hello", "hello"]))
    np.testing.assert_allclose(dense(upper)[0], dense(lower)[0], atol=1e-6)


def test_lowercase_can_be_switched_off(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert, lowercase=False)
    assert featurizer.encoder.word_piece_ids(["Hello"]) == [
        [featurizer.encoder.tokenizer.unk_token_id]
    ]


def test_long_message_is_truncated_with_a_warning_at_inference(
    tmp_path, tiny_bert, caplog
):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    text = " ".join(["weather"] * 200)
    with caplog.at_level(logging.WARNING):
        [message] = featurizer.process(tokenized([text]))
    assert "longer than the encoder's limit of 64" in caplog.text
    sequence, _ = dense(message)
    assert sequence.shape == (200, 16)
    assert np.abs(sequence[:62]).sum(axis=1).min() > 0  # 64 minus [CLS], [SEP]
    assert np.abs(sequence[62:]).sum() == 0


def test_long_training_example_raises(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    messages = tokenized(["short one", " ".join(["weather"] * 200)])
    with pytest.raises(InvalidConfigException, match="training example"):
        featurizer.process_training_data(TrainingData(messages))


def test_batches_match_single_messages(tmp_path, tiny_bert):
    texts = ["明天北京天气怎么样", "hello", "what is the weather in new york ?", "好"]
    batched = create_featurizer(tmp_path / "a", tiny_bert, batch_size=3)
    calls = []
    original = batched.encoder.encode
    batched.encoder.encode = lambda batch: calls.append(len(batch)) or original(batch)
    data = batched.process_training_data(TrainingData(tokenized(texts)))
    assert calls == [3, 1]
    single = create_featurizer(tmp_path / "b", tiny_bert)
    for message, text in zip(data.training_examples, texts, strict=True):
        [alone] = single.process(tokenized([text]))
        for got, want in zip(dense(message), dense(alone), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_cls_pooling_differs_from_mean(tmp_path, tiny_bert):
    mean = create_featurizer(tmp_path / "m", tiny_bert)
    cls = create_featurizer(tmp_path / "c", tiny_bert, sentence_pooling="cls")
    [a] = mean.process(tokenized(["明天北京天气"]))
    [b] = cls.process(tokenized(["明天北京天气"]))
    assert not np.allclose(dense(a)[1], dense(b)[1])
    np.testing.assert_allclose(dense(a)[0], dense(b)[0], atol=1e-6)


def test_training_and_inference_use_their_own_thread_counts(tmp_path, tiny_bert):
    import torch

    before = torch.get_num_threads()
    try:
        featurizer = create_featurizer(tmp_path, tiny_bert, num_threads=2,
                                       inference_threads=1)
        torch.set_num_threads(3)
        assert torch.get_num_threads() == 3  # creating the component changes nothing
        featurizer.process_training_data(TrainingData(tokenized(["明天北京天气"])))
        assert torch.get_num_threads() == 2
        featurizer.process(tokenized(["what is the weather"]))
        assert torch.get_num_threads() == 1
        unset = create_featurizer(tmp_path / "u", tiny_bert, inference_threads=None)
        unset.process(tokenized(["hello"]))
        assert torch.get_num_threads() == 1  # None leaves torch's setting alone
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"sentence_pooling": "max"}, "'sentence_pooling' must be one of"),
        ({"token_pooling": "last"}, "'token_pooling' must be one of"),
        ({"batch_size": 0}, "'batch_size' must be an integer >= 1"),
        ({"batch_size": "8"}, "'batch_size' must be an integer >= 1"),
        ({"num_threads": -2}, "'num_threads' must be an integer >= 1"),
        ({"inference_threads": 0}, "'inference_threads' must be an integer >= 1"),
        ({"inference_threads": 1.5}, "'inference_threads' must be an integer >= 1"),
        ({"max_length": 2}, "'max_length' must be an integer >= 8"),
        ({"lowercase": "yes"}, "'lowercase' must be 'auto', true or false"),
        ({"model": ""}, "'model' must be"),
    ],
)
def test_bad_config_is_rejected(tmp_path, tiny_bert, overrides, message):
    model = overrides.pop("model", tiny_bert)
    with pytest.raises(InvalidConfigException, match=message):
        create_featurizer(tmp_path, model, **overrides)


def test_missing_model_names_the_path(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(InvalidConfigException, match="no-such-model.*does not exist"):
        create_featurizer(tmp_path / "s", missing)


def test_broken_model_names_the_path(tmp_path, tiny_bert):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "vocab.txt").write_text("[UNK]\n")
    (broken / "model.safetensors").write_bytes(b"garbage")
    featurizer = create_featurizer(tmp_path / "s", str(broken))
    with pytest.raises(InvalidConfigException, match="Could not load the encoder in"):
        featurizer.process(tokenized(["hello"]))


def test_incomplete_model_lists_missing_files(tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    with pytest.raises(InvalidConfigException, match="missing model.safetensors"):
        create_featurizer(tmp_path / "s", str(partial))


def test_trained_featurizer_is_self_contained(tmp_path, tiny_bert):
    import shutil

    model_copy = tmp_path / "model-copy"
    shutil.copytree(tiny_bert, model_copy)
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("bert")
    config = featurizer_config(str(model_copy))
    trained = BertFeaturizer.create(config, storage, resource, context())
    trained.train(TrainingData(tokenized(["hello"])))
    [before] = trained.process(tokenized(["明天 New York 天气"]))

    shutil.rmtree(model_copy)  # the trained model must not need the source any more
    loaded = BertFeaturizer.load(config, storage, resource, context())
    [after] = loaded.process(tokenized(["明天 New York 天气"]))
    for got, want in zip(dense(after), dense(before), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert loaded.encoder.lowercase is True


def test_load_without_trained_encoder_explains(tmp_path, tiny_bert):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    config = featurizer_config(tiny_bert)
    with pytest.raises(InvalidConfigException, match="Retrain the model"):
        BertFeaturizer.load(config, storage, Resource("never-trained"), context())


def test_response_attribute_is_featurized_in_training(tmp_path, tiny_bert):
    featurizer = create_featurizer(tmp_path, tiny_bert)
    message = Message(data={TEXT: "你好", "response": "hello"})
    from tests.components.helpers import tokenizer

    tokenizer().process_training_data(TrainingData([message]))
    featurizer.process_training_data(TrainingData([message]))
    seq, sent = message.get_dense_features("response")
    assert seq.features.shape == (1, 16) and sent.features.shape == (1, 16)


def test_works_after_rasas_own_jieba_tokenizer(tmp_path, tiny_bert):
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer

    plain = JiebaTokenizer(JiebaTokenizer.get_default_config(), None, Resource("j"))
    [message] = plain.process([Message(data={TEXT: "what is 明天 the weather"})])
    tokens = token_texts(message)
    assert " " in tokens  # Rasa's tokenizer keeps Jieba's whitespace tokens
    [message] = create_featurizer(tmp_path, tiny_bert).process([message])
    sequence, _ = dense(message)
    assert sequence.shape == (len(tokens), 16)


def test_each_parsed_message_is_timed_for_rasas_metrics(tmp_path, tiny_bert):
    from prometheus_client import REGISTRY

    def count():
        value = REGISTRY.get_sample_value("assistant_nlu_encode_seconds_count",
                                          {"runtime": "torch"})
        return value or 0.0

    featurizer = create_featurizer(tmp_path, tiny_bert)
    before = count()
    featurizer.process(tokenized(["明天北京天气怎么样", "hello"]))
    assert count() == before + 2
