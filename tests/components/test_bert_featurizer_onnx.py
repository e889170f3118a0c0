"""BertFeaturizer with `runtime: onnx`: export, INT8 quantisation, agreement with the
PyTorch features, persistence through Rasa's model storage, config errors.

The tiny randomly initialised BERT (tests/fakes/tiny_bert.py) is exported and
quantised in well under a second. Measured on it, the quantised encoder's vectors
have a cosine of 0.99995 or more to PyTorch's (sentence and word vectors alike;
multilingual-e5-small: 0.997 mean, 0.995 lowest, on sentence vectors): the tests
ask for 0.999, far above what a broken export gives (dropout left on, a wrong
input: 0.96 and below).
"""

import json
import shutil

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.training_data import TrainingData

from bilingual_assistant.components.bert_featurizer import SETTINGS_FILE, BertFeaturizer
from bilingual_assistant.encoders.onnx_encoder import (
    ONNX_FILE,
    OnnxEncoder,
    export_quantized,
    ffn_output_matmuls,
)
from bilingual_assistant.encoders.torch_encoder import BertEncoder
from tests.components.helpers import (
    context,
    create_featurizer,
    dense,
    featurizer_config,
    tokenized,
)

TEXTS = ["明天北京天气怎么样", "what is the weather in new york ?", "hello",
         "unbelievables xqzt 龘", "明天 New York 天气"]
TRAINING = [("明天北京天气怎么样", "weather"), ("上海下雨吗", "weather"),
            ("what is the weather in new york", "weather"), ("你好", "greet"),
            ("hello", "greet"), ("hello hello", "greet")]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (rows, dim) arrays."""
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def training_data():
    messages = tokenized([text for text, _ in TRAINING])
    for message, (_, intent) in zip(messages, TRAINING, strict=True):
        message.set("intent", intent)
    return TrainingData(messages)


def test_quantised_export_agrees_with_pytorch(tmp_path, tiny_bert):
    encoder = BertEncoder.from_directory(tiny_bert)
    words = [[t.text for t in m.get("text_tokens")] for m in tokenized(TEXTS)]
    want = encoder.encode(words)
    target = export_quantized(encoder, tmp_path / ONNX_FILE)
    assert not encoder.model.training  # the exporter must not switch dropout on
    assert target.stat().st_size > 0
    onnx = OnnxEncoder.from_files(target, tiny_bert, encoder.lowercase,
                                  encoder.max_length)
    assert onnx.dim == encoder.dim == 16
    # one padded batch, and one message at a time: both axes are dynamic
    batched = onnx.encode(words)
    singles = [onnx.encode([w]) for w in words]
    for i in range(len(words)):
        for got, j in ((batched, i), (singles[i], 0)):
            assert got.sentence[j].shape == want.sentence[i].shape == (1, 16)
            assert got.sequence[j].shape == want.sequence[i].shape
            assert cosines(got.sentence[j], want.sentence[i]).min() > 0.999
            assert cosines(got.sequence[j], want.sequence[i]).min() > 0.999
        assert batched.truncated[i] == want.truncated[i]


def matmul_weights(path):
    """{MatMul node name: (its weight initializer's data type, shape)} of a graph."""
    import onnx

    model = onnx.load(str(path))
    weights = {t.name: (t.data_type, tuple(t.dims)) for t in model.graph.initializer}
    return model, {n.name: weights.get(n.input[1]) for n in model.graph.node
                   if n.op_type == "MatMul"}


def test_keep_float_ffn_output_leaves_each_layers_ffn_output_in_float32(tmp_path,
                                                                         tiny_bert):
    import onnx

    encoder = BertEncoder.from_directory(tiny_bert)
    layers = encoder.model.config.num_hidden_layers
    hidden = encoder.model.config.hidden_size
    inner = encoder.model.config.intermediate_size
    words = [[t.text for t in m.get("text_tokens")] for m in tokenized(TEXTS)]
    want = encoder.encode(words)
    kept = export_quantized(encoder, tmp_path / "kept" / ONNX_FILE, "ffn_output")
    every = export_quantized(encoder, tmp_path / "every" / ONNX_FILE)

    model, matmuls = matmul_weights(kept)
    floats = {name: w for name, w in matmuls.items()
              if w and w[0] == onnx.TensorProto.FLOAT}
    # exactly one per layer: the feed-forward down-projection, and nothing else
    assert len(floats) == layers == len(ffn_output_matmuls(model))
    assert set(floats.values()) == {(onnx.TensorProto.FLOAT, (inner, hidden))}
    assert all("/output/dense/" in n and "attention" not in n for n in floats)
    # every other MatMul is quantised (MatMulInteger, int8 weights), as without it
    integer = lambda m: sum(n.op_type == "MatMulInteger" for n in m.graph.node)  # noqa: E731
    assert integer(model) == integer(onnx.load(str(every))) - layers > 0
    assert kept.stat().st_size > every.stat().st_size

    session = OnnxEncoder.from_files(kept, tiny_bert, encoder.lowercase,
                                     encoder.max_length)
    for i, w in enumerate(words):
        got = session.encode([w])
        assert cosines(got.sentence[0], want.sentence[i]).min() > 0.999
        assert cosines(got.sequence[0], want.sequence[i]).min() > 0.999


def test_onnx_featurizer_round_trip_through_model_storage(tmp_path, tiny_bert):
    model_copy = tmp_path / "model-copy"
    shutil.copytree(tiny_bert, model_copy)
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("bert")
    tuning = {"fine_tune_epochs": 1, "fine_tune_batch_size": 3}
    config = featurizer_config(str(model_copy), runtime="onnx", **tuning)
    trainer = BertFeaturizer.create(config, storage, resource, context())
    trainer.train(training_data())
    tuned = trainer.encoder  # the fine-tuned PyTorch encoder, as exported
    assert isinstance(tuned, BertEncoder)

    with storage.read_from(resource) as directory:
        stored = {p.name for p in directory.iterdir()}
        settings = json.loads((directory / SETTINGS_FILE).read_text())
    assert ONNX_FILE in stored and "model.safetensors" not in stored
    assert settings["runtime"] == "onnx" and settings["fine_tuned"]["epochs"] == 1
    assert settings["onnx_keep_float"] == "ffn_output"  # the default

    shutil.rmtree(model_copy)  # the trained model needs neither the source nor torch weights
    loaded = BertFeaturizer.load(config, storage, resource, context())
    assert isinstance(loaded.encoder, OnnxEncoder)
    assert loaded.encoder.session.get_session_options().intra_op_num_threads == 1
    served = loaded.process(tokenized(TEXTS))

    # DIET trains on what it is served: training data featurized by the loaded
    # (quantised) component equals featurizing the same messages at inference
    # (one message at a time: in a padded batch, dynamic quantisation's activation
    # scales change and features moved by up to 2e-4).
    trained = loaded.process_training_data(TrainingData(tokenized(TEXTS)))
    for train_message, serve_message in zip(trained.training_examples, served, strict=True):
        for got, want in zip(dense(train_message), dense(serve_message), strict=True):
            np.testing.assert_array_equal(got, want)

    # ... and agrees with the fine-tuned PyTorch encoder it was exported from
    for message, text in zip(served, TEXTS, strict=True):
        words = [t.text for t in message.get("text_tokens")]
        want = tuned.encode([words])
        sequence, sentence = dense(message)
        assert sequence.shape == want.sequence[0].shape
        assert cosines(sentence, want.sentence[0]).min() > 0.999, text
        assert cosines(sequence, want.sequence[0]).min() > 0.999, text


def test_unknown_runtime_is_rejected_with_the_fix(tmp_path, tiny_bert):
    with pytest.raises(InvalidConfigException,
                       match="unknown 'runtime' 'tensorrt'.*'runtime: onnx'"):
        create_featurizer(tmp_path, tiny_bert, runtime="tensorrt")
    with pytest.raises(InvalidConfigException, match="unknown 'runtime' None"):
        BertFeaturizer.validate_config(featurizer_config(tiny_bert, runtime=None))
    BertFeaturizer.validate_config(featurizer_config(tiny_bert, runtime="onnx"))


def test_unknown_onnx_keep_float_is_rejected_with_the_fix(tiny_bert):
    for wrong in ("ffn", None, ["ffn_output"], True):
        with pytest.raises(InvalidConfigException,
                           match="unknown 'onnx_keep_float'.*'onnx_keep_float: ffn_output'"):
            BertFeaturizer.validate_config(
                featurizer_config(tiny_bert, runtime="onnx", onnx_keep_float=wrong))
    for right in ("none", "ffn_output"):
        BertFeaturizer.validate_config(
            featurizer_config(tiny_bert, runtime="onnx", onnx_keep_float=right))


def test_model_trained_with_another_runtime_asks_for_retraining(tmp_path, tiny_bert):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("bert")
    config = featurizer_config(tiny_bert)  # runtime: torch
    BertFeaturizer.create(config, storage, resource, context()).train(
        TrainingData(tokenized(["hello"])))
    with pytest.raises(InvalidConfigException,
                       match="trained with runtime 'torch'.*Retrain the model"):
        BertFeaturizer.load({**config, "runtime": "onnx"}, storage, resource, context())
