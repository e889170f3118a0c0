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
