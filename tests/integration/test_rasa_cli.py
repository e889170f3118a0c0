"""`rasa data validate`, `rasa test` and the held-out NLU evaluation."""

import json
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bilingual_assistant.text import detect_language
from tests.integration.conftest import PROJECT, run_rasa

MIN_EXAMPLES = 15
HELD_OUT = PROJECT / "tests" / "nlu" / "held_out.yml"
OFF_TOPIC = PROJECT / "tests" / "nlu" / "off_topic.yml"
# Choose NoveltyClassifier's percentile: apart from the training and both test sets.
VALIDATION = PROJECT / "benchmarks" / "data" / "in_scope_validation.yml"
QUESTIONS = PROJECT / "benchmarks" / "data" / "retrieval_questions.yml"


def _intent_texts(path: Path):
    data = load_data(str(path))
    by_intent = {}
    for example in data.intent_examples:
        by_intent.setdefault(example.get("intent"), set()).add(example.get("text"))
    return by_intent


@pytest.mark.parametrize("language", ["zh", "en"])
def test_each_intent_has_enough_examples_per_language(language):
    counts = {i: len(t) for i, t in _intent_texts(PROJECT / "data/nlu" / language).items()}
    domain = yaml.safe_load((PROJECT / "domain.yml").read_text())
    assert set(counts) == set(domain["intents"])
    assert min(counts.values()) >= MIN_EXAMPLES, counts


@pytest.mark.parametrize("path, minimum", [(HELD_OUT, 80), (OFF_TOPIC, 60)])
def test_held_out_examples_are_not_training_examples(path, minimum):
    train = set().union(*_intent_texts(PROJECT / "data" / "nlu").values())
    held_out = set().union(*_intent_texts(path).values())
    assert len(held_out) >= minimum
    assert not {t.lower() for t in held_out} & {t.lower() for t in train}


def test_validation_examples_are_in_no_other_set():
    validation = {t.lower() for t in set().union(*_intent_texts(VALIDATION).values())}
    assert len(validation) >= 60
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    validation |= {q["question"].lower() for q in questions}
    for path in (PROJECT / "data" / "nlu", HELD_OUT, OFF_TOPIC):
        other = set().union(*_intent_texts(path).values())
        assert not validation & {t.lower() for t in other}, path


def test_off_topic_set_is_half_chinese_half_english():
    by_intent = _intent_texts(OFF_TOPIC)
    assert set(by_intent) == {"out_of_scope"}
    languages = [detect_language(t) for t in by_intent["out_of_scope"]]
    assert languages.count("zh") == languages.count("en") == len(languages) // 2


@pytest.mark.slow
def test_data_validate_has_no_warnings(tmp_path):
    result = run_rasa(["data", "validate", "--fail-on-warnings"], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "UserWarning" not in result.stdout


@pytest.fixture(scope="module")
def evaluation(trained_model, work_dir):
    """One `rasa test` of the model on the test stories and the held-out messages (as
    the retrain job evaluates models; the training data is not tested again)."""
    out = work_dir / "rasa-test-results"
    result = run_rasa(["test", "--model", str(trained_model), "--stories",
                       str(PROJECT / "tests" / "test_stories.yml"), "--nlu", str(HELD_OUT),
                       "--out", str(out)], work_dir)
    assert result.returncode == 0, result.stdout[-5000:]
    assert "Traceback" not in result.stdout
    return out


@pytest.mark.slow
def test_rasa_test_passes_every_story(evaluation):
    failed = (evaluation / "failed_test_stories.yml").read_text()
    assert "None of the test stories failed" in failed, failed
    report = json.loads((evaluation / "story_report.json").read_text())
    assert report["conversation_accuracy"]["accuracy"] == 1.0


@pytest.mark.slow
def test_held_out_intent_macro_f1(evaluation):
    out = evaluation
    intents = json.loads((out / "intent_report.json").read_text())
    assert intents["macro avg"]["f1-score"] >= 0.90, intents["macro avg"]
    entities = json.loads((out / "DIETClassifier_report.json").read_text())
    assert entities["macro avg"]["f1-score"] >= 0.85, entities["macro avg"]
