"""The answer benchmark's strict grading and its question set."""

import yaml

from assistant.answers.models import Answer, Source
from benchmarks.answer_accuracy import QUESTIONS, Graded, mentions

ITEM = {"id": "en-x-01", "language": "en", "kind": "answerable", "split": "test",
        "previous": "", "question": "how many days?", "facts": [["15 days", "15天"]],
        "wrong": ["10 days"], "sources": ["en/hr-annual-leave.md"]}


def answer(text, mode="llm", source="en/hr-annual-leave.md"):
    return Answer(text, [Source(1, "Leave", source)], mode, "en", False, "q")


def test_a_fact_matches_only_as_a_whole_number_or_word():
    assert mentions("You get 15 days.", "15 days")
    assert not mentions("You get 115 days.", "15 days")
    assert not mentions("共 15 天", "5 天") and mentions("共 5 天", "5 天")
    assert not mentions("three", "HR") and mentions("Ask HR.", "hr")
    assert not mentions("at 19:30", "9:30")


def test_grading_is_strict():
    assert Graded(ITEM, answer("Full-timers get 15 days [1]."), 1.0).verdict == "correct"
    both = Graded(ITEM, answer("15 days, or 10 days for interns [1]."), 1.0)
    assert both.verdict == "wrong"  # a wrong number makes the answer wrong
    assert Graded(ITEM, answer("Leave is generous [1]."), 1.0).verdict == "wrong"
    refused = Graded(ITEM, answer("Not in the documents.", mode="not_found"), 1.0)
    assert refused.verdict == "refused" and refused.right_source is None
    elsewhere = Graded(ITEM, answer("15 days [1].", source="en/it-vpn.md"), 1.0)
    assert elsewhere.verdict == "correct" and elsewhere.right_source is False
    unanswerable = {**ITEM, "kind": "unanswerable", "facts": [], "sources": []}
    assert Graded(unanswerable, answer("x", mode="not_found"), 1.0).verdict == "correct"
    assert Graded(unanswerable, answer("The CEO earns 15 days."), 1.0).verdict == "wrong"


def test_the_question_set_is_as_the_issue_asks():
    items = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    count = lambda **k: sum(1 for i in items if all(i[a] == b for a, b in k.items()))  # noqa: E731
    assert count(kind="answerable") >= 150 and count(kind="unanswerable") >= 30
    assert count(kind="follow_up") >= 20
    for language in ("zh", "en"):
        assert count(language=language) * 2 >= len(items) - 10  # about half each
    assert len({i["id"] for i in items}) == len(items)
    assert count(split="test") >= 100 and count(split="tune") >= 100
    assert all(i["previous"] for i in items if i["kind"] == "follow_up")
