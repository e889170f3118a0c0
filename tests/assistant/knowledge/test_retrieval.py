"""Hybrid retrieval's rules through an in-memory store and embedder."""

import pytest

from bilingual_assistant.config import RetrievalSettings
from bilingual_assistant.errors import InputError
from bilingual_assistant.knowledge.chunking import Chunk
from bilingual_assistant.knowledge.retrieval import Retriever, rrf_fuse
from bilingual_assistant.knowledge.store import Hit
from tests.fakes.in_memory import HashingEmbedder, InMemoryStore, chunk

CHUNKS = [
    chunk("en/vpn.md", "Open NorthConnect and enter the VPN server name."),
    chunk("en/canteen.md", "Lunch is served from 11:30 in the canteen."),
    chunk("zh/leave.md", "正式员工每年有15天带薪年假。"),
]


def retriever(**settings) -> Retriever:
    store, embedder = InMemoryStore(), HashingEmbedder()
    for c in CHUNKS:
        store.replace_document(c.source, [c], embedder.embed([c.text]))
    return Retriever(store, embedder, RetrievalSettings(**settings))


def test_rrf_rewards_agreement():
    def hit(cid):
        return Hit(Chunk(cid, "s", "t", "", 0, "x", "h"), 1.0)

    fused = rrf_fuse([[hit("a"), hit("b")], [hit("b"), hit("c")]])
    assert max(fused, key=fused.get) == "b"
    assert fused["a"] == pytest.approx(1 / 61)


def test_hybrid_search_ranks_and_keeps_the_dense_similarity():
    found = retriever(min_score=0.1).search("where is lunch served")
    assert found[0].chunk.source == "en/canteen.md"
    assert 0 < found[0].similarity <= 1
    assert len(retriever(top_k=2, min_score=-1).search("vpn lunch 年假")) == 2


def test_nothing_is_returned_below_the_threshold_or_for_blank_queries():
    assert retriever(min_score=0.99).search("lunch") == []
    assert retriever(min_score=-1).search("   ") == []


def test_the_defaults_are_the_declared_settings():
    plain = retriever()
    assert (plain.top_k, plain.min_score) == (RetrievalSettings.top_k,
                                              RetrievalSettings.min_score)


def test_an_unknown_mode_is_an_input_error():
    with pytest.raises(InputError, match="dense, bm25, hybrid"):
        retriever().search("x", mode="fuzzy")
