"""The cross-encoder verifier on a tiny random BERT: training, the ONNX copy, errors."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bilingual_assistant.encoders.cross_encoder import (
    ONNX_FILE,
    SETTINGS_FILE,
    TOKENIZER_FILE,
    OnnxCrossEncoder,
    Pair,
    TorchCrossEncoder,
    TrainingOptions,
    probabilities,
    train_cross_encoder,
)
from bilingual_assistant.errors import EncoderLoadError
from tests.fakes.tiny_bert import build_tiny_bert

ROOT = Path(__file__).resolve().parents[3]

# Separable by the sentence alone: rain answers, greetings do not.
QUESTIONS = ["明天北京天气怎么样", "今天上海下雨吗", "what is the weather in new york"]
ANSWERS = ["明天北京下雨", "上海今天下雨", "the weather in new york is rain"]
OTHERS = ["你好", "hello hello", "你好的", "hello !"]


def toy_pairs():
    pairs = []
    for question in QUESTIONS:
        pairs += [Pair(question, s, 1.0) for s in ANSWERS]
        pairs += [Pair(question, s, 0.0) for s in OTHERS]
    return pairs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = build_tiny_bert(tmp_path_factory.mktemp("tiny"))
    out = tmp_path_factory.mktemp("verifier")
    options = TrainingOptions(learning_rate=3e-3, head_learning_rate=3e-2, batch_size=7,
                              max_length=32, threads=1)
    report = train_cross_encoder(base, toy_pairs() * 4, out, epochs=6, options=options)
    return out, report


def test_training_writes_the_folder_and_lowers_the_loss(trained):
    out, report = trained
    for name in (ONNX_FILE, TOKENIZER_FILE, SETTINGS_FILE, "torch/config.json",
                 "torch/head.pt"):
        assert (out / name).is_file(), name
    stored = json.loads((out / SETTINGS_FILE).read_text("utf-8"))
    assert stored["settings"]["max_length"] == 32
    assert stored["settings"]["query_prefix"] == "query: "
    assert stored["settings"]["lowercase"] is True  # the tiny vocabulary is lower-case
    assert report.pairs == 84 and report.positives == 36
    assert len(report.epoch_seconds) == 6
    assert report.epoch_losses[-1] < report.epoch_losses[0]


def test_a_positive_beats_a_negative_after_training(trained):
    out, _ = trained
    verifier = OnnxCrossEncoder(out)
    for question in QUESTIONS:
        scores = verifier.scores(question, ANSWERS[:1] + OTHERS[:1])
        assert scores[0] > scores[1]
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_the_onnx_scores_agree_with_torch(trained):
    out, _ = trained
    onnx, torch_copy = OnnxCrossEncoder(out, batch_size=3), TorchCrossEncoder(out)
    sentences = ANSWERS + OTHERS + ["北京"]  # 8 sentences: batches of 3, padded
    for question in QUESTIONS:
        a = onnx.logits(question, sentences)
        b = torch_copy.logits(question, sentences)
        assert a.shape == b.shape == (8,)
        assert np.allclose(a, b, atol=0.2), (a, b)
        assert np.allclose(onnx.scores(question, sentences), probabilities(b), atol=0.05)


def test_threads_sharing_one_verifier_get_the_same_scores(trained):
    verifier = OnnxCrossEncoder(trained[0], batch_size=2)
    sentences = ANSWERS + OTHERS
    # the same batches: dynamic quantisation scales activations per batch, so a
    # sentence's score moves a little (1e-3) with the sentences batched with it
    alone = OnnxCrossEncoder(trained[0], batch_size=2)
    expected = {q: alone.scores(q, sentences) for q in QUESTIONS}
    with ThreadPoolExecutor(4) as pool:  # the first calls race to load it
        found = list(pool.map(lambda q: (q, verifier.scores(q, sentences)), QUESTIONS * 4))
    for question, scores in found:
        assert np.allclose(scores, expected[question], atol=1e-6)


def test_no_sentences_no_scores(trained):
    assert OnnxCrossEncoder(trained[0]).scores("北京", []) == []


def test_a_missing_folder_says_how_to_make_it(tmp_path):
    with pytest.raises(EncoderLoadError, match="does not exist.*apps.cli.verifier"):
        OnnxCrossEncoder(tmp_path / "nowhere").scores("北京", ["北京"])


def test_an_incomplete_folder_names_the_missing_files(trained, tmp_path):
    (tmp_path / TOKENIZER_FILE).write_bytes((trained[0] / TOKENIZER_FILE).read_bytes())
    with pytest.raises(EncoderLoadError, match=f"missing {ONNX_FILE}, {SETTINGS_FILE}"):
        OnnxCrossEncoder(tmp_path).scores("北京", ["北京"])


def test_the_onnx_verifier_imports_no_torch_or_transformers(trained):
    code = (
        "import sys\n"
        "from bilingual_assistant.encoders.cross_encoder import OnnxCrossEncoder\n"
        f"scores = OnnxCrossEncoder({str(trained[0])!r}).scores('北京', ['北京下雨', '你好'])\n"
        "assert len(scores) == 2\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
