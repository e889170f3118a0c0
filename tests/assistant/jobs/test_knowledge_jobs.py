"""The knowledge base's jobs through a worker: ingest (idempotent on retry),
delete, reindex, and a folder with a broken file."""

import pytest

from bilingual_assistant.jobs.knowledge import KnowledgeJobs
from bilingual_assistant.jobs.service import Jobs, Worker
from tests.fakes.in_memory import (
    HashingEmbedder,
    InMemoryJobStore,
    InMemoryStore,
    RecordingQueue,
)
from tests.fakes.pdf import write_pdf


@pytest.fixture
def world(tmp_path):
    (tmp_path / "vpn.md").write_text("# VPN\n\nInstall Secure Connect.\n", encoding="utf-8")
    (tmp_path / "leave.md").write_text("# 年假\n\n每年 15 天。\n", encoding="utf-8")
    store, jobs_store = InMemoryStore(), InMemoryJobStore()
    knowledge = KnowledgeJobs(tmp_path, store, HashingEmbedder(), 100, 10)
    jobs = Jobs(jobs_store, RecordingQueue())
    worker = Worker(jobs_store, knowledge.handlers(), "w1", heartbeat_seconds=0.05)
    return tmp_path, store, jobs, worker


def run(jobs, worker, kind, **params):
    return worker.run(jobs.submit(kind, params, "admin").id)


def test_ingesting_twice_changes_nothing_the_second_time(world):
    folder, store, jobs, worker = world
    first = run(jobs, worker, "ingest")
    assert first.state == "succeeded" and "2 added" in first.message
    assert set(store.indexed_documents()) == {"vpn.md", "leave.md"}
    version = store.version()
    second = run(jobs, worker, "ingest")
    assert "2 unchanged" in second.message and store.version() == version


def test_an_upload_then_a_delete(world):
    folder, store, jobs, worker = world
    run(jobs, worker, "ingest")
    (folder / "new.txt").write_text("Parking\n\nThe car park opens at 7.", encoding="utf-8")
    assert "1 added" in run(jobs, worker, "ingest").message
    (folder / "new.txt").unlink()
    done = run(jobs, worker, "ingest", delete=["new.txt"])
    assert done.state == "succeeded" and "new.txt" not in store.indexed_documents()


def test_reindex_rebuilds_everything(world):
    folder, store, jobs, worker = world
    run(jobs, worker, "ingest")
    store.rows["stale.md"] = store.rows["vpn.md"]
    done = run(jobs, worker, "reindex", rebuild=True)
    assert done.state == "succeeded" and "2 added" in done.message
    assert set(store.indexed_documents()) == {"vpn.md", "leave.md"}


def test_a_broken_file_fails_the_job_naming_it_and_the_rest_is_indexed(world):
    folder, store, jobs, worker = world
    (folder / "broken.pdf").write_bytes(b"not a pdf")
    done = run(jobs, worker, "ingest")
    assert done.state == "failed" and "broken.pdf" in done.error
    assert {"vpn.md", "leave.md"} <= set(store.indexed_documents())


def test_hostile_uploads_lose_nothing_indexed_and_the_next_job_runs(world):
    folder, store, jobs, worker = world
    run(jobs, worker, "ingest")
    uploads = folder / "uploads"
    uploads.mkdir()
    write_pdf(uploads / "bomb.pdf", ["Quarterly figures"], padding_mb=100)
    write_pdf(uploads / "form.pdf", ["Expense form", "Submit within 30 days."],
              script="app.alert('pwned')")
    (uploads / "page.html").write_text(
        "<h1>Shuttle</h1><p>Leaves at 8:15.</p><script>steal()</script>", encoding="utf-8")
    (uploads / "notes.md").write_text("# Notes\n\n'; DROP TABLE chunks; -- is text here.\n",
                                      encoding="utf-8")
    done = run(jobs, worker, "ingest")
    assert done.state == "failed" and "bomb.pdf" in done.error
    assert "compression bomb" in done.error
    indexed = store.indexed_documents()
    assert {"vpn.md", "leave.md", "uploads/form.pdf", "uploads/page.html",
            "uploads/notes.md"} <= set(indexed) and "uploads/bomb.pdf" not in indexed
    texts = " ".join(chunk.text for rows in store.rows.values() for chunk, _ in rows)
    assert "pwned" not in texts and "steal" not in texts and "DROP TABLE chunks" in texts
    (uploads / "bomb.pdf").unlink()
    assert run(jobs, worker, "ingest", delete=["uploads/bomb.pdf"]).state == "succeeded"


def test_a_store_that_fails_fails_the_job_and_frees_the_lock(world):
    folder, store, jobs, worker = world
    store.failing = True
    done = run(jobs, worker, "ingest")
    assert done.state == "failed" and "fail" in done.error
    assert worker.store.locks == {}
