"""Public reading-comprehension sets as benchmark sets: loading, splits, documents."""

import json

import pytest
import yaml

from benchmarks.answer_accuracy import QUESTIONS
from benchmarks.public_sets import (
    DATASETS,
    build_sets,
    load_squad,
    sets_from_file,
    split_paragraphs,
)


def squad(tmp_path, paragraphs, questions=2, ids=True):
    """A SQuAD-shaped file: one article per paragraph (as CMRC 2018) or, without
    `ids`, one article holding them all (as the SQuAD sample)."""
    entries = []
    for p in range(paragraphs):
        qas = [{"id": f"P{p}_Q{q}", "question": f"question {q} on paragraph {p}?",
                "answers": [{"text": f"answer {p}.{q}", "answer_start": 0},
                            {"text": f"answer {p}.{q}", "answer_start": 0},
                            {"text": f"the answer {p}.{q}", "answer_start": 0}]}
               for q in range(questions)]
        entries.append({"id": f"P{p}", "context": f"Paragraph {p} says answer {p}.0.",
                        "qas": qas} if ids else
                       {"context": f"Paragraph {p} says answer {p}.0.", "qas": qas})
    data = ([{"title": f"Article {p}", "paragraphs": [e]} for p, e in enumerate(entries)]
            if ids else [{"title": "Beyoncé", "paragraphs": entries}])
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}), "utf-8")
    return path


def test_paragraphs_and_questions_are_read(tmp_path):
    paragraphs = load_squad(squad(tmp_path, 2, ids=False))
    assert [p.id for p in paragraphs] == ["Beyoncé-1", "Beyoncé-2"]
    assert paragraphs[1].file_name == "Beyonce-2.md"
    assert paragraphs[0].questions[1].answers == ("answer 0.1", "the answer 0.1")
    assert paragraphs[0].markdown("en").startswith("# Beyoncé, paragraph 1\n\n")
    assert "第1段" in paragraphs[0].markdown("zh")


def test_the_split_is_deterministic_and_half_and_half(tmp_path):
    path = squad(tmp_path, 12)
    placed = split_paragraphs(load_squad(path))
    assert placed == split_paragraphs(load_squad(path))
    for split in ("tune", "test"):
        assert sum(1 for s, _ in placed.values() if s == split) == 6
        assert sum(1 for s, i in placed.values() if s == split and i) == 3
    first = sets_from_file("demo", path, "en", "all", 0)
    again = sets_from_file("demo", path, "en", "all", 0)
    assert len(first) == 1 and first[0].items == again[0].items
    assert first[0].documents == again[0].documents


def test_left_out_paragraphs_are_unanswerable_and_never_written(tmp_path):
    path = squad(tmp_path, 12)
    (one,) = sets_from_file("demo", path, "en", "all", 0)
    written = {p.name for p in one.write(tmp_path / "documents")}
    assert {p.name for p in (tmp_path / "documents").iterdir()} == written
    assert len(written) == 6 and len(one.left_out) == 6
    paragraphs = {p.id: p for p in load_squad(path)}
    assert not written & {paragraphs[i].file_name for i in one.left_out}
    for item in one.items:
        paragraph = item["id"].split("-")[1].split("_")[0]
        if paragraph in one.left_out:
            assert item["kind"] == "unanswerable" and item["sources"] == []
            assert item["facts"] == []
        else:
            assert item["kind"] == "answerable"
            assert item["sources"] == [paragraphs[paragraph].file_name]
            assert item["sources"][0] in written
            number = paragraph[1:]
            assert item["facts"] == [[f"answer {number}.{item['id'][-3]}",
                                      f"the answer {number}.{item['id'][-3]}"]]
    assert len(one.items) == 24 and len({i["id"] for i in one.items}) == 24


def test_items_have_the_question_sets_shape(tmp_path):
    (one,) = sets_from_file("demo", squad(tmp_path, 8), "zh", "all", 0)
    project = yaml.safe_load(QUESTIONS.read_text("utf-8"))[0]
    for item in one.items:
        assert set(item) == set(project)
        assert item["language"] == "zh" and item["previous"] == "" and item["wrong"] == []
        assert item["split"] in ("tune", "test")


def test_questions_are_capped_per_split_deterministically(tmp_path):
    path = squad(tmp_path, 12, questions=5)
    tune = sets_from_file("demo", path, "en", "tune", 7)[0].items
    assert len(tune) == 7 and all(i["split"] == "tune" for i in tune)
    assert tune == sets_from_file("demo", path, "en", "tune", 7)[0].items
    both = sets_from_file("demo", path, "en", "all", 7)[0].items
    assert sum(1 for i in both if i["split"] == "test") == 7
    assert [i for i in both if i["split"] == "tune"] == tune
    # The documents do not depend on the cap or the split asked for.
    assert sets_from_file("demo", path, "en", "test", 3)[0].documents == \
        sets_from_file("demo", path, "en", "all", 0)[0].documents


def test_a_few_paragraphs_rotate_the_one_left_out(tmp_path):
    path = squad(tmp_path, 3, questions=4, ids=False)
    sets = sets_from_file("squad2", path, "en", "all", 0)
    assert [s.index for s in sets] == [f"paragraph {k} left out" for k in (1, 2, 3)]
    paragraphs = load_squad(path)
    asked = {}
    for k, one in enumerate(sets):
        left = paragraphs[k]
        assert one.left_out == [left.id]
        written = {p.name for p in one.write(tmp_path / f"index-{k}")}
        assert written == {p.file_name for p in paragraphs} - {left.file_name}
        for item in one.items:
            asked.setdefault(item["question"], []).append(item["kind"])
            if item["kind"] == "answerable":
                assert item["sources"][0] in written
    # Each question once answerable, once unanswerable; each paragraph left out once.
    assert len(asked) == 12
    assert all(sorted(kinds) == ["answerable", "unanswerable"] for kinds in asked.values())
    splits = [i["split"] for one in sets for i in one.items]
    assert splits.count("tune") == splits.count("test") == 12


@pytest.mark.skipif(not (DATASETS / "cmrc2018" / "trial.json").exists(),
                    reason="the shared datasets are not here")
def test_the_shared_sets():
    (cmrc,) = build_sets("cmrc2018", DATASETS, "all", 0)
    assert len(cmrc.documents) == 128 and len(cmrc.left_out) == 128
    assert len(cmrc.items) == 1002
    capped = build_sets("cmrc2018", DATASETS, "tune", 200)[0].items
    assert len(capped) == 200 and {i["kind"] for i in capped} == {"answerable",
                                                                  "unanswerable"}
    squad_sets = build_sets("squad2", DATASETS, "all", 0)
    assert len(squad_sets) == 3
    assert sum(len(s.items) for s in squad_sets) == 2 * 39
