"""The knowledge base's jobs through a worker: ingest (idempotent on retry),
delete, reindex, and a folder with a broken file."""

import pytest

from assistant.jobs.knowledge import KnowledgeJobs
from assistant.jobs.service import Jobs, Worker
from tests.fakes.in_memory import (
    HashingEmbedder,
    InMemoryJobStore,
    InMemoryStore,
    RecordingQueue,
)


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


def test_a_store_that_fails_fails_the_job_and_frees_the_lock(world):
    folder, store, jobs, worker = world
    store.failing = True
    done = run(jobs, worker, "ingest")
    assert done.state == "failed" and "fail" in done.error
    assert worker.store.locks == {}
