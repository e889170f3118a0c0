from pathlib import Path

import pytest

from assistant.knowledge.chunking import Chunk
from assistant.knowledge.ingest import ingest, main
from assistant.knowledge.retrieval import Retriever, rrf_fuse
from assistant.knowledge.store import Hit, MilvusKnowledgeStore, StoreError
from assistant.settings import KnowledgeSettings

DOCS = {
    "en/vpn.md": "# VPN guide\n\n## Connecting\nOpen NorthConnect and enter vpn.northwind.example. "
    "Approve the MFA prompt on your phone.\n",
    "zh/leave.md": "# 年假制度\n\n## 天数\n正式员工每年有15天带薪年假。外包人员没有带薪年假。\n",
    "en/canteen.txt": "Canteen\n\nLunch is served from 11:30 to 13:30 on the 2nd floor.\n",
}


def make_folder(root: Path) -> Path:
    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "docs"


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
    retriever = Retriever(store, embedder, top_k=2, min_score=0.3)
    assert retriever.search("外包有没有年假")[0].chunk.source == "zh/leave.md"
    assert retriever.search("how do I connect to the vpn")[0].chunk.source == "en/vpn.md"
    assert retriever.search("when is lunch", mode="bm25")[0].chunk.source == "en/canteen.txt"
    passage = retriever.search("when is lunch", mode="dense")[0]
    assert passage.chunk.source == "en/canteen.txt" and 0 < passage.similarity <= 1
    assert retriever.search("   ") == []


def test_nothing_is_returned_below_the_score_threshold(tmp_path, store, embedder):
    ingest(make_folder(tmp_path), store, embedder)
    assert Retriever(store, embedder, min_score=0.99).search("quantum chromodynamics") == []
    with pytest.raises(ValueError, match="mode"):
        Retriever(store, embedder).search("x", mode="fuzzy")


def test_rrf_rewards_agreement():
    def hit(cid):
        return Hit(Chunk(cid, "s", "t", "", 0, "x", "h"), 1.0)

    fused = rrf_fuse([[hit("a"), hit("b")], [hit("b"), hit("c")]])
    assert max(fused, key=fused.get) == "b"
    assert fused["a"] == pytest.approx(1 / 61)


def test_dimension_mismatch_is_explained(tmp_path, embedder):
    settings = KnowledgeSettings(milvus_uri=str(tmp_path / "kb.db"), collection="dims")
    MilvusKnowledgeStore(settings, 8).count()
    with pytest.raises(StoreError, match="dimension 8"):
        MilvusKnowledgeStore(settings, embedder.dim).count()


def test_command_line_reports_progress_and_errors(tmp_path, monkeypatch, capsys):
    folder = make_folder(tmp_path)
    (folder / "bad.txt").write_bytes("Café".encode("latin-1"))
    monkeypatch.setenv("MILVUS_LITE_PATH", str(tmp_path / "cli.db"))
    assert main([str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "[  4/4]" in out and "3 added" in out and "1 failed" in out
    assert "not UTF-8" in err
    assert main([str(tmp_path / "missing")]) == 2
