"""Ingestion's rules through an in-memory store and embedder (Milvus: tests/contract)."""

from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.knowledge.ingest import ingest
from tests.fakes.in_memory import HashingEmbedder, InMemoryStore

DOCS = {
    "en/vpn.md": "# VPN guide\n\n## Connecting\nOpen NorthConnect: vpn.northwind.example.\n",
    "zh/leave.md": "# 年假制度\n\n## 天数\n正式员工每年有15天带薪年假。外包人员没有带薪年假。\n",
}


def make_folder(root: Path) -> Path:
    for name, text in DOCS.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "docs"


def test_only_changed_documents_are_embedded_again(tmp_path):
    folder, store, embedder = make_folder(tmp_path), InMemoryStore(), HashingEmbedder()
    first = ingest(folder, store, embedder)
    assert sorted(first.added) == sorted(DOCS) and first.version == "v1"
    calls = embedder.calls
    again = ingest(folder, store, embedder)
    assert not again.changed and embedder.calls == calls and store.version() == "v1"
    (folder / "en/vpn.md").write_text("# VPN guide\n\nUse vpn2.northwind.example.\n")
    changed = ingest(folder, store, embedder)
    assert changed.updated == ["en/vpn.md"] and embedder.calls == calls + 1
    assert changed.version == "v2"


def test_removed_documents_stay_until_pruned(tmp_path):
    folder, store, embedder = make_folder(tmp_path), InMemoryStore(), HashingEmbedder()
    ingest(folder, store, embedder)
    (folder / "zh/leave.md").unlink()
    assert "zh/leave.md" in store.indexed_documents()
    assert ingest(folder, store, embedder).deleted == []
    pruned = ingest(folder, store, embedder, prune=True)
    assert pruned.deleted == ["zh/leave.md"] and list(store.indexed_documents()) == ["en/vpn.md"]


def test_progress_is_reported_per_file_and_a_bad_file_is_skipped(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "bad.txt").write_bytes("Café".encode("latin-1"))
    progress = []
    report = ingest(folder, InMemoryStore(), HashingEmbedder(),
                    progress=lambda *args: progress.append(args))
    assert [p[:2] for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert [s for s, _ in report.failed] == ["bad.txt"] and "not UTF-8" in report.failed[0][1]
    assert len(report.added) == 2


def test_a_missing_folder_is_an_input_error_that_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="KNOWLEDGE_DIR"):
        ingest(tmp_path / "nowhere", InMemoryStore(), HashingEmbedder())
