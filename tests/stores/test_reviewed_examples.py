"""Corrected messages written to a reviewed NLU file that Rasa itself reads."""

from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data

from bilingual_assistant.adapters.nlu_file import ReviewedExamples

PROJECT = Path(__file__).resolve().parents[2]


def test_rasa_reads_the_reviewed_examples(tmp_path):
    examples = ReviewedExamples(tmp_path / "nlu" / "reviewed.yml", PROJECT / "domain.yml")
    assert "affirm" in examples.intents() and "nlu_fallback" not in examples.intents()
    assert examples.add("sure, go ahead", "affirm")
    assert examples.add("好的，  去吧", "affirm")
    assert not examples.add("Sure, go ahead", "affirm")  # already there
    assert examples.add("what's up: \"quotes\" # and hashes", "greet")
    data = load_data(str(tmp_path / "nlu" / "reviewed.yml"))
    found = {(m.get("text"), m.get("intent")) for m in data.intent_examples}
    assert found == {("sure, go ahead", "affirm"), ("好的， 去吧", "affirm"),
                     ("what's up: \"quotes\" # and hashes", "greet")}


def test_a_message_cannot_smuggle_entity_labels_or_control_characters(tmp_path):
    """Issue #27 item 7: feedback text becomes a training example as Rasa reads it;
    `[Berlin](city)` or `[x]{"entity": ...}` would be labels, an escape sequence a
    terminal command."""
    examples = ReviewedExamples(tmp_path / "reviewed.yml", PROJECT / "domain.yml")
    assert examples.add('weather in [Berlin](city) and [Paris]{"entity": "city"}', "ask_weather")
    assert examples.add("hello\x1b[31m red\x00 \u202eevil\u200b", "greet")
    data = load_data(str(tmp_path / "reviewed.yml"))
    by_text = {m.get("text"): m for m in data.intent_examples}
    assert all(not m.get("entities") for m in data.intent_examples)
    assert 'weather in (Berlin)(city) and (Paris){"entity": "city"}' in by_text
    assert "hello(31m red evil" in by_text
