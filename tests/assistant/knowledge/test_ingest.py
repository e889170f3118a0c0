"""Ingestion's rules through an in-memory store and embedder (Milvus: tests/contract)."""

import pytest

from assistant.errors import InputError
from assistant.knowledge.ingest import ingest
from tests.fakes.documents import DOCS, make_folder
from tests.fakes.in_memory import HashingEmbedder, InMemoryStore


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
    assert pruned.deleted == ["zh/leave.md"]
    assert sorted(store.indexed_documents()) == ["en/canteen.txt", "en/vpn.md"]


def test_progress_is_reported_per_file_and_a_bad_file_is_skipped(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "bad.txt").write_bytes("Café".encode("latin-1"))
    progress = []
    report = ingest(folder, InMemoryStore(), HashingEmbedder(),
                    progress=lambda *args: progress.append(args))
    assert [p[:2] for p in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [s for s, _ in report.failed] == ["bad.txt"] and "not UTF-8" in report.failed[0][1]
    assert len(report.added) == 3


def test_a_missing_folder_is_an_input_error_that_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="KNOWLEDGE_DIR"):
        ingest(tmp_path / "nowhere", InMemoryStore(), HashingEmbedder())
