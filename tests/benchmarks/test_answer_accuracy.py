"""The answer benchmark's strict grading and its question set."""

import argparse
import asyncio
import json

import pytest
import yaml

from benchmarks.answer_accuracy import (
    QUESTIONS,
    Graded,
    Row,
    hosted_llm,
    indexes,
    main,
    mentions,
    routed_questions,
    rows_for,
    run,
    table,
)
from bilingual_assistant.answers.messages import message
from bilingual_assistant.answers.models import Answer, Source

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
    # A refusal is read from what the reply says (the fixed text), not from its mode:
    # before, any text with mode `not_found` was a refusal.
    refused = Graded(ITEM, answer(message("not_found", "en"), mode="not_found"), 1.0)
    assert refused.verdict == "refused" and refused.right_source is None
    assert refused.claim is None and refused.f1 == 0.0
    elsewhere = Graded(ITEM, answer("15 days [1].", source="en/it-vpn.md"), 1.0)
    assert elsewhere.verdict == "correct" and elsewhere.right_source is False
    unanswerable = {**ITEM, "kind": "unanswerable", "facts": [], "sources": []}
    assert Graded(unanswerable, answer(message("not_found", "en"), mode="not_found"),
                  1.0).verdict == "correct"
    assert Graded(unanswerable, answer("The CEO earns 15 days."), 1.0).verdict == "wrong"
    # Changed on purpose: an unavailable knowledge base was a right refusal (by mode).
    down = Graded(unanswerable, answer(message("unavailable", "en"), mode="unavailable"), 1.0)
    assert down.verdict == "error" and down.lenient == "correct"


def test_strict_and_lenient_side_by_side():
    long = "From the documents: " + "Leave is booked in the HR portal. " * 10 + \
        "Full-timers get 15 days [1]."
    graded = Graded(ITEM, answer(long, mode="extractive"), 0.5)
    assert graded.verdict == "too_long" and graded.lenient == "correct"
    assert graded.units > 60 and graded.claim.endswith("Full-timers get 15 days.")
    assert graded.right_source is True and 0 < graded.f1 < 0.2
    short = Graded(ITEM, answer("From the documents: 15 days [1]", mode="extractive"), 0.1)
    assert short.verdict == "correct" and short.f1 == 1.0
    row = Row("project · x · en · all", [graded, short]).as_dict()
    assert (row["n"], row["correct"], row["too_long"], row["lenient_correct"]) == (2, 1, 1, 2)
    assert row["correct_pct"] == 50.0 and row["lenient_correct_pct"] == 100.0
    assert 0.5 < row["mean_f1"] < 0.6 and row["right_source_pct"] == 100.0
    assert "| project · x · en · all | 2 | 1 | 0 | 0 | 0 | 1 | 0 | 50.0 | 100.0 |" in \
        table([Row("project · x · en · all", [graded, short])])


def test_public_items_score_f1_against_every_span():
    item = {**ITEM, "language": "zh", "facts": [["踢爆", "踢爆敌人"]], "wrong": [],
            "sources": ["TRIAL_800.md"]}
    graded = Graded(item, answer("根据文档： 生命数耗完即算为踢爆。[1]",
                                 source="TRIAL_800.md"), 0.1, public=True)
    assert graded.verdict == "correct" and graded.right_source is True
    # 2 of the claim's 10 characters, all of the first span's 2.
    assert graded.f1 == pytest.approx(1 / 3)


def test_the_command_line_knows_the_sets(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--set", "nope"])
    assert exit.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_hosted_llm_is_taken_from_the_settings_or_refused(monkeypatch):
    monkeypatch.setattr("benchmarks.answer_accuracy.environment", lambda: {})
    with pytest.raises(SystemExit) as exit:
        hosted_llm()
    assert "LLM_MODEL (not `local`)" in str(exit.value)
    monkeypatch.setattr("benchmarks.answer_accuracy.environment", lambda: {
        "LLM_BASE_URL": "https://api.deepseek.com/v1", "LLM_MODEL": "deepseek-chat",
        "LLM_API_KEY": "sk-test"})
    assert hosted_llm() == {"LLM_BASE_URL": "https://api.deepseek.com/v1",
                            "LLM_MODEL": "deepseek-chat", "LLM_API_KEY": "sk-test"}


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


def test_rows_add_up_languages_and_kinds_only_where_there_are_several():
    zh = {**ITEM, "language": "zh"}
    graded = [Graded(ITEM, answer("15 days [1]"), 0.1), Graded(zh, answer("15天 [1]"), 0.1)]
    names = [r.name for r in rows_for(graded, "p")]
    assert names == ["p · zh · answerable", "p · en · answerable", "p · all · answerable"]


def test_the_sets_indexes_write_only_the_indexed_paragraphs(tmp_path):
    data = {"version": "v2.0", "data": [{"title": "Beyoncé", "paragraphs": [
        {"context": f"Paragraph {p}.", "qas": [
            {"id": f"q{p}", "question": f"q {p}?", "answers": [{"text": f"{p}"}]}]}
        for p in range(3)]}]}
    (tmp_path / "data" / "squad2-sample").mkdir(parents=True)
    (tmp_path / "data" / "squad2-sample" / "sample.json").write_text(json.dumps(data))
    args = argparse.Namespace(set="squad2", datasets=tmp_path / "data", split="all",
                              max_questions=0, limit=0)
    found = indexes(args, tmp_path / "work")
    assert [i.label for i in found] == [f"paragraph {k} left out" for k in (1, 2, 3)]
    assert all(i.public and i.set_name == "squad2" for i in found)
    assert sorted(p.name for p in found[0].folder.iterdir()) == ["Beyonce-2.md", "Beyonce-3.md"]
    assert [i["kind"] for i in found[0].items] == ["answerable", "unanswerable"]
    project = indexes(argparse.Namespace(set="project", split="test", limit=3), tmp_path)
    assert project[0].folder.name == "knowledge" and len(project[0].items) == 3


class RecordingService:
    """Answers every question with the out-of-scope reply when routed in, else "15
    days", and records how each was asked."""

    def __init__(self):
        self.asked = []

    async def answer(self, question, history, language, routed=False):
        self.asked.append((question, routed))
        if routed:
            return Answer(message("out_of_scope", "en"), [], "out_of_scope", "en", False, "q")
        return answer("15 days [1]", mode="extractive")


def test_questions_the_nlu_routes_are_asked_routed_and_counted(tmp_path):
    routing = tmp_path / "routing.json"
    routing.write_text(json.dumps({"predictions": {"cmrc2018 questions": [
        {"text": "how many days?", "after": "nlu_fallback"},
        {"text": "who wrote it?", "after": "ask_question"},
        {"text": "where?", "after": "out_of_scope"}]}}))
    routed = routed_questions(routing)
    assert routed == {"how many days?", "where?"}
    follow_up = {**ITEM, "kind": "follow_up", "previous": "where?", "question": "and?"}
    plain = {**ITEM, "question": "who wrote it?"}
    service = RecordingService()
    graded = asyncio.run(run(service, [ITEM, plain, follow_up], "t", routed=routed))
    assert service.asked == [("how many days?", True), ("who wrote it?", False),
                             ("where?", True), ("and?", False)]
    row = Row("t", graded).as_dict()
    assert row["routed"] == 1 and row["off_topic_reply"] == 1 and row["correct"] == 2
    assert "| routed | off-topic reply |" in table([Row("t", graded)])
