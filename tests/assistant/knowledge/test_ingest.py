"""Ingestion's rules through an in-memory store and embedder (Milvus: tests/contract)."""

import pytest

from bilingual_assistant.errors import InputError
from bilingual_assistant.knowledge.ingest import ingest
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


def two_folders(tmp_path):
    """The sample folder, with an upload, and another folder with documents of its own."""
    folder = make_folder(tmp_path)
    (folder / "uploads").mkdir()
    (folder / "uploads/parking.txt").write_text("Parking\n\nThe car park opens at 7.\n",
                                                encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "it").mkdir(parents=True)
    (elsewhere / "it/printers.md").write_text("# Printers\n\nPrint with PIN release.\n",
                                              encoding="utf-8")
    (elsewhere / "shuttle.txt").write_text("Shuttle\n\nIt leaves at 8:15.\n", encoding="utf-8")
    return folder, elsewhere


def test_pruning_one_folder_keeps_the_documents_of_another_and_the_uploads(tmp_path):
    folder, elsewhere = two_folders(tmp_path)
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(folder, store, embedder)
    ingest(elsewhere, store, embedder)
    everything = set(DOCS) | {"uploads/parking.txt", "it/printers.md", "shuttle.txt"}
    assert set(store.indexed_documents()) == everything
    # The knowledge folder again (as `make setup` does after a change in knowledge/):
    # the other folder's documents are not in it, and they stay.
    assert ingest(folder, store, embedder, prune=True).deleted == []
    # The other folder pruned: the knowledge folder's documents and uploads stay.
    assert ingest(elsewhere, store, embedder, prune=True).deleted == []
    assert set(store.indexed_documents()) == everything


def test_pruning_removes_only_what_left_the_folder_being_indexed(tmp_path):
    folder, elsewhere = two_folders(tmp_path)
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(folder, store, embedder)
    ingest(elsewhere, store, embedder)
    (elsewhere / "shuttle.txt").unlink()
    (folder / "zh/leave.md").unlink()
    assert ingest(elsewhere, store, embedder, prune=True).deleted == ["shuttle.txt"]
    assert "zh/leave.md" in store.indexed_documents()  # gone from the other folder only
    assert ingest(folder, store, embedder, prune=True).deleted == ["zh/leave.md"]
    assert set(store.indexed_documents()) == {
        "en/vpn.md", "en/canteen.txt", "uploads/parking.txt", "it/printers.md"}


def test_a_subfolder_prunes_its_own_documents_and_a_parent_folder_those_under_it(tmp_path):
    folder, _ = two_folders(tmp_path)
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(folder / "uploads", store, embedder)  # indexed on its own: "parking.txt"
    ingest(folder, store, embedder)  # the same file as "uploads/parking.txt"
    (folder / "uploads/parking.txt").unlink()
    (folder / "en/vpn.md").unlink()
    # Indexing en/ prunes what left en/, whichever folder indexed it, and nothing else.
    assert ingest(folder / "en", store, embedder, prune=True).deleted == ["en/vpn.md"]
    assert "parking.txt" in store.indexed_documents()
    # The knowledge folder holds uploads/: both names of the removed upload go, and
    # en/'s own "canteen.txt" stays (its file is still there).
    pruned = ingest(folder, store, embedder, prune=True)
    assert pruned.deleted == ["parking.txt", "uploads/parking.txt"]
    assert {"canteen.txt", "en/canteen.txt"} <= set(store.indexed_documents())


def test_documents_of_an_unrecorded_folder_are_kept_and_reported(tmp_path):
    folder, _ = two_folders(tmp_path)
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(folder, store, embedder)
    store.rows["old/report.md"] = store.rows["en/vpn.md"]  # indexed before folders were kept
    store.folders.clear()
    (folder / "zh/leave.md").unlink()
    report = ingest(folder, store, embedder, prune=True)
    # The documents still in the folder are claimed by it again; those not in it
    # whose folder is not recorded (the removed one too) are kept and named.
    assert report.deleted == [] and report.unknown_folder == ["old/report.md", "zh/leave.md"]
    assert "2 kept (folder not recorded)" in report.summary()
    assert store.document_folders()["en/vpn.md"] == str(folder.resolve())


def test_removing_a_folder_deletes_its_documents_and_nothing_else(tmp_path):
    from bilingual_assistant.knowledge.ingest import remove_folder

    folder, elsewhere = two_folders(tmp_path)
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(folder, store, embedder)
    ingest(elsewhere, store, embedder)
    before = store.version()
    deleted, version = remove_folder(folder, store)
    assert deleted == sorted(set(DOCS) | {"uploads/parking.txt"})
    assert set(store.indexed_documents()) == {"it/printers.md", "shuttle.txt"}
    assert version != before  # cached answers from the removed documents are stale
    # Again: nothing left of that folder, nothing changes.
    assert remove_folder(folder, store) == ([], version)
