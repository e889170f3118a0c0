"""Jobs: submitted, claimed once, reported, finished; lost workers fail their job;
failed jobs are retried; one writer holds a lock at a time."""

import threading
import time

import pytest

from bilingual_assistant.errors import InputError, NotFoundError, ServiceError, StoreError
from bilingual_assistant.jobs.service import Jobs, Worker
from tests.fakes.in_memory import InMemoryJobStore, RecordingQueue


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def world():
    store, queue, clock = InMemoryJobStore(), RecordingQueue(), Clock()
    return store, queue, clock, Jobs(store, queue, clock, stale_seconds=60)


def test_a_submitted_job_is_stored_queued_and_sent(world):
    store, queue, _, jobs = world
    job = jobs.submit("ingest", {"folder": "knowledge"}, "local")
    assert job.state == "queued" and queue.sent == [job] and store.get(job.id) == job


def test_a_queued_job_says_when_no_worker_is_running(world):
    store, _, clock, jobs = world
    job = jobs.submit("ingest", {}, "local")
    assert "no worker is running" in jobs.get(job.id).message
    store.worker_alive("w1", clock.now)
    assert jobs.get(job.id).message == "queued"
    clock.now += 61
    assert "no worker is running" in jobs.recent()[0].message


def test_an_unknown_kind_is_refused(world):
    with pytest.raises(InputError, match="ingest"):
        world[3].submit("format_disk", {}, "local")


def test_a_queue_that_cannot_be_reached_fails_the_job_with_the_reason(world):
    store, queue, _, jobs = world
    queue.failure = ServiceError("Redis at 127.0.0.1:6379 refused the connection")
    with pytest.raises(ServiceError):
        jobs.submit("ingest", {}, "local")
    [job] = store.recent(5)
    assert job.state == "failed" and "Redis" in job.error


def test_a_worker_runs_a_job_reporting_progress_and_only_once(world):
    store, queue, clock, jobs = world
    seen = []

    def ingest(params, progress):
        progress(0.5, "1 of 2 files")
        seen.append(store.get(job.id).progress)
        return "2 added"

    job = jobs.submit("ingest", {"folder": "x"}, "local")
    worker = Worker(store, {"ingest": ingest}, "w1", clock)
    done = worker.run(job.id)
    assert seen == [0.5]
    assert (done.state, done.progress, done.message, done.error) == (
        "succeeded", 1.0, "2 added", None)
    assert worker.run(job.id) is None  # a redelivered message does nothing
    assert worker.run("unknown") is None


@pytest.mark.parametrize("failure, expected", [
    (StoreError("Milvus cannot be reached"), "Milvus cannot be reached"),
    (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
])
def test_a_failing_handler_fails_the_job_with_its_reason(world, failure, expected):
    store, _, clock, jobs = world

    def broken(params, progress):
        raise failure

    job = jobs.submit("ingest", {}, "local")
    done = Worker(store, {"ingest": broken}, "w1", clock).run(job.id)
    assert done.state == "failed" and expected in done.error


def test_a_job_whose_worker_died_is_failed_when_looked_at_and_can_be_retried(world):
    store, queue, clock, jobs = world
    job = jobs.submit("reindex", {"rebuild": True}, "local")
    assert store.claim(job.id, "w1", clock.now)  # the worker took it, then died
    clock.now += 30
    assert jobs.get(job.id).state == "running"
    clock.now += 31
    lost = jobs.get(job.id)
    assert lost.state == "failed" and "stopped responding" in lost.error
    again = jobs.retry(job.id, "admin")
    assert (again.state, again.attempt, again.retry_of, again.params) == (
        "queued", 2, job.id, {"rebuild": True})
    assert queue.sent[-1] == again
    # the lost worker coming back does not overwrite the reported failure
    store.finish(job.id, "succeeded", "done", None, clock.now)
    assert store.get(job.id).state == "failed"


def test_only_failed_jobs_are_retried(world):
    _, _, _, jobs = world
    job = jobs.submit("ingest", {}, "local")
    with pytest.raises(InputError, match="only a failed job"):
        jobs.retry(job.id, "local")
    with pytest.raises(NotFoundError):
        jobs.retry("nope", "local")


def test_one_writer_at_a_time_and_the_heartbeat_keeps_a_long_job_alive(world):
    store, _, _, jobs = world
    order = []
    release_first = threading.Event()

    def writer(params, progress):
        with progress.exclusive("knowledge", ttl=5):
            order.append(("start", params["n"]))
            if params["n"] == 1:
                release_first.wait(5)
            order.append(("end", params["n"]))
        return "ok"

    first, second = jobs.submit("ingest", {"n": 1}, "a"), jobs.submit("ingest", {"n": 2}, "b")
    workers = [Worker(store, {"ingest": writer}, f"w{i}", time.time, heartbeat_seconds=0.05)
               for i in (1, 2)]
    threads = [threading.Thread(target=w.run, args=(j.id,)) for w, j in
               zip(workers, (first, second), strict=True)]
    threads[0].start()
    while not order:
        time.sleep(0.01)
    threads[1].start()
    time.sleep(0.3)
    assert "waiting for another job" in store.get(second.id).message
    beats = store.get(first.id).heartbeat_at
    time.sleep(0.2)
    assert store.get(first.id).heartbeat_at > beats  # alive while it works
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert order == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    assert store.locks == {}


def test_job_times_and_the_backlog_are_measured(world):
    from bilingual_assistant.metrics import MemoryRecorder

    store, _, clock, jobs = world
    recorder = MemoryRecorder()
    first, second = jobs.submit("ingest", {}, "local"), jobs.submit("ingest", {}, "local")
    assert store.unfinished() == 2

    def broken(params, progress):
        raise StoreError("The store is down.")

    Worker(store, {"ingest": lambda p, progress: "done"}, "w1", clock,
           recorder=recorder).run(first.id)
    Worker(store, {"ingest": broken}, "w1", clock, recorder=recorder).run(second.id)
    assert len(recorder.samples("assistant_job_seconds", kind="ingest",
                                outcome="succeeded")) == 1
    assert len(recorder.samples("assistant_job_seconds", kind="ingest", outcome="failed")) == 1
    assert store.unfinished() == 0
