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


def _restricted_folder(tmp_path):
    """The three sample documents, the VPN guide for `it` only, and a payroll
    folder for `hr` whose bonus page is also `finance`'s."""
    folder = make_folder(tmp_path)
    (folder / "en/vpn.md.access.yml").write_text("groups: [it]\n")
    payroll = folder / "payroll"
    payroll.mkdir()
    (payroll / ".access.yml").write_text("groups: [hr]\n")
    (payroll / "salary.md").write_text(
        "# Salary dates\n\nSalaries are paid on the 25th of every month by bank transfer.\n")
    (payroll / "bonus.md").write_text(
        "# Bonus\n\nThe yearly bonus is paid with the March salary.\n")
    (payroll / "bonus.md.access.yml").write_text("groups: [hr, finance]\n")
    return folder


def test_each_reader_finds_only_the_documents_of_their_groups(tmp_path, store, embedder):
    from bilingual_assistant.knowledge.access import EVERYONE, EVERYTHING, Reader

    ingest(_restricted_folder(tmp_path), store, embedder)
    assert store.document_readers() == {
        "en/canteen.txt": (), "zh/leave.md": (), "en/vpn.md": ("it",),
        "payroll/salary.md": ("hr",), "payroll/bonus.md": ("finance", "hr")}
    retriever = Retriever(store, embedder, RetrievalSettings(top_k=10, min_score=0.0))

    def sources(question, reader, mode="hybrid"):
        return {p.chunk.source for p in retriever.search(question, mode=mode, reader=reader)}

    for mode in ("dense", "bm25", "hybrid"):
        found = sources("when is the salary paid", Reader(frozenset({"hr"})), mode)
        assert "payroll/salary.md" in found and "en/vpn.md" not in found, mode
        outsider = sources("when is the salary paid", EVERYONE, mode)
        assert not outsider & {"payroll/salary.md", "payroll/bonus.md", "en/vpn.md"}, mode
        finance = sources("when is the bonus paid", Reader(frozenset({"finance"})), mode)
        assert "payroll/salary.md" not in finance and "en/vpn.md" not in finance, mode
    assert "payroll/bonus.md" in sources("yearly bonus March", Reader(frozenset({"finance"})))
    assert "en/vpn.md" in sources("vpn server", Reader(frozenset({"it", "x"})))
    assert {"payroll/salary.md", "en/vpn.md"} <= (
        sources("salary", EVERYTHING, "bm25") | sources("vpn", EVERYTHING, "bm25"))
    hit = retriever.search("salary paid 25th", mode="bm25", reader=EVERYTHING)[0]
    assert hit.chunk.source == "payroll/salary.md" and hit.chunk.readers == ("hr",)


def test_changing_an_access_file_reindexes_the_documents_it_covers(tmp_path, store, embedder):
    from bilingual_assistant.knowledge.access import EVERYONE

    folder = _restricted_folder(tmp_path)
    ingest(folder, store, embedder)
    (folder / "payroll/.access.yml").write_text("groups: []\n")
    report = ingest(folder, store, embedder)
    assert report.updated == ["payroll/salary.md"]  # bonus.md names its own groups
    assert store.document_readers()["payroll/salary.md"] == ()
    found = store.bm25_search("salary 25th", 5, EVERYONE)
    assert [h.chunk.source for h in found][:1] == ["payroll/salary.md"]


def test_an_access_file_that_cannot_be_read_keeps_its_documents_out(tmp_path, store, embedder):
    folder = _restricted_folder(tmp_path)
    (folder / "payroll/.access.yml").write_text("groups: hr\n  - oops: [\n")
    report = ingest(folder, store, embedder)
    assert sorted(s for s, _ in report.failed) == ["payroll/salary.md"]
    assert "payroll/salary.md" not in store.indexed_documents()


def test_a_collection_made_before_readers_refuses_restricted_documents_and_says_rebuild(
        tmp_path, embedder):
    from pymilvus import DataType, MilvusClient

    from bilingual_assistant.knowledge.access import Reader

    settings = lite(tmp_path / "old.db", "old")
    client = MilvusClient(uri=str(tmp_path / "old.db"))
    schema = client.create_schema(auto_id=False)  # the schema as it was, no `readers`
    for name, kind, extra in [("id", DataType.VARCHAR, {"is_primary": True, "max_length": 64}),
                              ("text", DataType.VARCHAR, {"max_length": 8192}),
                              ("search_text", DataType.VARCHAR, {
                                  "max_length": 8192, "enable_analyzer": True,
                                  "analyzer_params": {"tokenizer": "jieba"}}),
                              ("dense", DataType.FLOAT_VECTOR, {"dim": embedder.dim}),
                              ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
                              ("source", DataType.VARCHAR, {"max_length": 1024}),
                              ("title", DataType.VARCHAR, {"max_length": 1024}),
                              ("heading", DataType.VARCHAR, {"max_length": 1024}),
                              ("chunk_index", DataType.INT64, {}),
                              ("content_hash", DataType.VARCHAR, {"max_length": 64})]:
        schema.add_field(name, kind, **extra)
    from pymilvus import Function, FunctionType
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["search_text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("old", schema=schema, index_params=index)
    client.close()
    old = MilvusKnowledgeStore(settings, embedder.dim)
    try:
        folder = _restricted_folder(tmp_path)
        report = ingest(folder, old, embedder)
        assert sorted(report.added) == ["en/canteen.txt", "zh/leave.md"]
        assert {s for s, _ in report.failed} == {
            "en/vpn.md", "payroll/salary.md", "payroll/bonus.md"}
        assert all("make index REBUILD=1" in why for _, why in report.failed)
        assert old.bm25_search("canteen lunch", 3, Reader(frozenset({"hr"})))
        assert old.document_readers() == {"en/canteen.txt": (), "zh/leave.md": ()}
    finally:
        old.close()
