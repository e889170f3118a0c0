"""Hit testing: what the retriever finds for each question, kept as runs."""

import pytest

from bilingual_assistant.errors import InputError, NotFoundError
from bilingual_assistant.knowledge.hit_testing import MAX_QUESTIONS, HitTester, HitTestRun
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.retrieval import Retriever
from tests.fakes.in_memory import HashingEmbedder, InMemoryHitTestLog, InMemoryStore


@pytest.fixture
def tester(tmp_path):
    (tmp_path / "vpn.md").write_text(
        "# VPN\n\nInstall Northwind Secure Connect and sign in with your account.\n",
        encoding="utf-8")
    (tmp_path / "leave.md").write_text(
        "# 年假\n\n正式员工每年有 15 天带薪年假。\n", encoding="utf-8")
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(tmp_path, store, embedder)
    return HitTester(Retriever(store, embedder), InMemoryHitTestLog())


def test_a_batch_finds_each_questions_passages_and_is_kept(tester):
    run = tester.run(["how do I install the VPN", "年假有几天", "bitcoin price"],
                     "local", top_k=2)
    first, second, third = run.results
    assert first.hits[0].source == "vpn.md" and first.hits[0].rank == 1
    assert second.hits[0].source == "leave.md" and "15 天" in second.hits[0].passage
    assert first.answered and second.answered
    assert not third.answered and third.hits == []
    assert len(first.hits) <= 2
    assert tester.history() == [run]
    assert tester.get(run.id) == run


def test_a_run_survives_its_payload(tester):
    run = tester.run(["VPN"], "key:1")
    payload = run.to_payload()
    assert payload["answered"] == 1 and payload["results"][0]["answered"] is True
    assert HitTestRun.from_payload(payload) == run


@pytest.mark.parametrize("questions, mode, top_k, problem", [
    ([], "hybrid", 5, "at least one"),
    (["ok", "  "], "hybrid", 5, "Question 2 is empty"),
    (["x" * 2001], "hybrid", 5, "longer than"),
    (["q"] * (MAX_QUESTIONS + 1), "hybrid", 5, "At most"),
    (["q"], "fuzzy", 5, "Mode"),
    (["q"], "hybrid", 0, "top_k"),
])
def test_bad_runs_are_refused_and_not_kept(tester, questions, mode, top_k, problem):
    with pytest.raises(InputError, match=problem):
        tester.run(questions, "local", mode, top_k)
    assert tester.history() == []


def test_an_unknown_run_is_not_found(tester):
    with pytest.raises(NotFoundError):
        tester.get("nope")
