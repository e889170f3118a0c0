"""The Milvus store on a real Milvus Lite file, with the real default embedder:
ingestion, BM25 through Milvus's jieba analyzer, hybrid retrieval."""

import pytest

from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.config import KnowledgeSettings, RetrievalSettings
from bilingual_assistant.errors import ConfigurationError, InputError, StoreError
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.retrieval import Retriever
from tests.contract.conftest import lite
from tests.fakes.documents import DOCS, make_folder


def test_ingestion_is_idempotent_and_tracks_changes(tmp_path, store, embedder):
    folder = make_folder(tmp_path)
    progress = []
    first = ingest(folder, store, embedder, 200, 40,
                   progress=lambda *args: progress.append(args))
    assert sorted(first.added) == sorted(DOCS)
    assert first.chunks == 3 and store.count() == 3
    assert [p[:2] for p in progress] == [(1, 3), (2, 3), (3, 3)]
    version = first.version
    assert version != "empty" and store.version() == version

    again = ingest(folder, store, embedder)
    assert sorted(again.unchanged) == sorted(DOCS) and not again.changed
    assert store.version() == version  # nothing changed, same version

    (folder / "en/vpn.md").write_text("# VPN guide\n\nUse the new server vpn2.northwind.example.\n")
    (folder / "zh/leave.md").unlink()
    changed = ingest(folder, store, embedder)
    assert changed.updated == ["en/vpn.md"] and changed.deleted == []
    assert "zh/leave.md" in store.indexed_documents()  # kept until pruned
    pruned = ingest(folder, store, embedder, prune=True)
    assert pruned.deleted == ["zh/leave.md"]
    assert sorted(store.indexed_documents()) == ["en/canteen.txt", "en/vpn.md"]
    assert store.version() not in (version, changed.version)
    hits = store.bm25_search("vpn2", 5)
    assert [h.chunk.source for h in hits] == ["en/vpn.md"]


def test_an_unreadable_file_does_not_stop_the_others(tmp_path, store, embedder):
    folder = make_folder(tmp_path)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    report = ingest(folder, store, embedder)
    assert [source for source, _ in report.failed] == ["broken.pdf"]
    assert "not a readable PDF" in report.failed[0][1]
    assert len(report.added) == 3


def test_hybrid_search_finds_chinese_and_english(tmp_path, store, embedder):
    ingest(make_folder(tmp_path), store, embedder)
    retriever = Retriever(store, embedder, RetrievalSettings(top_k=2, min_score=0.3))
    assert retriever.search("外包有没有年假")[0].chunk.source == "zh/leave.md"
    assert retriever.search("how do I connect to the vpn")[0].chunk.source == "en/vpn.md"
    assert retriever.search("when is lunch", mode="bm25")[0].chunk.source == "en/canteen.txt"
    passage = retriever.search("when is lunch", mode="dense")[0]
    assert passage.chunk.source == "en/canteen.txt" and 0 < passage.similarity <= 1
    assert retriever.search("   ") == []


def test_nothing_is_returned_below_the_score_threshold(tmp_path, store, embedder):
    ingest(make_folder(tmp_path), store, embedder)
    high = RetrievalSettings(min_score=0.99)
    assert Retriever(store, embedder, high).search("quantum chromodynamics") == []
    with pytest.raises(InputError, match="mode"):
        Retriever(store, embedder).search("x", mode="fuzzy")


def test_dimension_mismatch_is_a_configuration_error_that_says_the_fix(tmp_path, embedder):
    settings = lite(tmp_path / "kb.db", "dims")
    MilvusKnowledgeStore(settings, 8).count()
    with pytest.raises(ConfigurationError, match="dimension 8.*make index REBUILD=1"):
        MilvusKnowledgeStore(settings, embedder.dim).count()


def test_an_unreachable_server_is_a_store_error_naming_the_settings(embedder):
    settings = KnowledgeSettings(milvus_uri="http://127.0.0.1:9", collection="kb")
    store = MilvusKnowledgeStore(settings, embedder.dim)
    with pytest.raises(StoreError, match="MILVUS_URI"):
        store.version()


def test_pruning_one_folder_keeps_the_documents_of_another(tmp_path, store, embedder):
    folder = make_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "shuttle.txt").write_text("Shuttle\n\nIt leaves at 8:15.\n", encoding="utf-8")
    ingest(folder, store, embedder)
    ingest(elsewhere, store, embedder)
    assert store.document_folders() == {**{source: str(folder.resolve()) for source in DOCS},
                                        "shuttle.txt": str(elsewhere.resolve())}
    (folder / "zh/leave.md").unlink()
    assert ingest(folder, store, embedder, prune=True).deleted == ["zh/leave.md"]
    assert sorted(store.document_folders()) == ["en/canteen.txt", "en/vpn.md", "shuttle.txt"]
    assert ingest(elsewhere, store, embedder, prune=True).deleted == []
    assert sorted(store.indexed_documents()) == ["en/canteen.txt", "en/vpn.md", "shuttle.txt"]
    store.drop()
    assert store.document_folders() == {} and store.indexed_documents() == {}


def test_a_store_without_recorded_folders_gets_them_and_prunes_nothing_unknown(
        tmp_path, store, embedder):
    folder = make_folder(tmp_path)
    ingest(folder, store, embedder)
    store.client.drop_collection(store.folders_collection)  # as indexed before folders were
    store.close()
    reopened = MilvusKnowledgeStore(store.settings, embedder.dim)
    try:
        assert reopened.document_folders() == {}
        (folder / "zh/leave.md").unlink()
        report = ingest(folder, reopened, embedder, prune=True)
        assert report.deleted == [] and report.unknown_folder == ["zh/leave.md"]
        assert sorted(reopened.document_folders()) == ["en/canteen.txt", "en/vpn.md"]
    finally:
        reopened.close()
