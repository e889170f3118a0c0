"""Submitting, running, reaping and retrying background jobs.

The API submits a job (stored as `queued`, then handed to the queue); a worker
claims it (`running`), reports progress and heartbeats, and finishes it. A job
whose worker died stops heartbeating and is failed with that reason the next time
anyone looks (`reap`), never left running. A retry is a new job with the same
parameters; the handlers are idempotent (ingestion skips unchanged documents).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Text

from bilingual_assistant.errors import AssistantError, InputError, NotFoundError, ServiceError
from bilingual_assistant.jobs.models import KINDS, Job, JobQueue, JobStore
from bilingual_assistant.metrics import NoRecorder, Recorder

logger = logging.getLogger(__name__)

STALE_SECONDS = 60.0  # a running job without a heartbeat for this long has no worker
HEARTBEAT_SECONDS = 5.0
LOCK_WAIT_SECONDS = 1.0


class Progress:
    """What a running job's handler reports through, and how it takes a lock."""

    def __init__(self, store: JobStore, job: Job, clock: Callable[[], float],
                 heartbeat: Callable[[Callable[[], object]], None]) -> None:
        self.store, self.job, self.clock = store, job, clock
        self._keep_alive = heartbeat

    def __call__(self, fraction: float, message: Text) -> None:
        """Reports `fraction` (0 to 1) done and what it is doing."""
        self.store.report(self.job.id, max(0.0, min(1.0, fraction)), message[:500],
                          self.clock())

    @contextmanager
    def exclusive(self, name: Text, ttl: float = STALE_SECONDS) -> Iterator[None]:
        """Holds the named lock (one writer of the knowledge base at a time) while
        the block runs, waiting for it with a message; the heartbeat renews it."""
        waiting = False
        while not self.store.acquire(name, self.job.id, self.clock(), ttl):
            if not waiting:
                self(0.0, f"waiting for another job that holds '{name}'")
                waiting = True
            time.sleep(LOCK_WAIT_SECONDS)
        self._keep_alive(lambda: self.store.acquire(name, self.job.id, self.clock(), ttl))
        try:
            yield
        finally:
            self.store.release(name, self.job.id)


Handler = Callable[[Dict[Text, Any], Progress], Text]


class Jobs:
    """The API's side: submit, look up, list and retry jobs."""

    def __init__(self, store: JobStore, queue: JobQueue,
                 clock: Callable[[], float] = time.time,
                 stale_seconds: float = STALE_SECONDS) -> None:
        self.store, self.queue, self.clock = store, queue, clock
        self.stale_seconds = stale_seconds

    def submit(self, kind: Text, params: Dict[Text, Any], by: Text,
               retry_of: Optional[Job] = None) -> Job:
        """Stores a job and hands it to the queue.

        Raises:
            InputError: for an unknown kind.
            ServiceError: when the queue cannot be reached (the job is kept, failed
                with that reason, so it can be retried).
        """
        if kind not in KINDS:
            raise InputError(f"Unknown job kind {kind!r}; one of {', '.join(KINDS)}.")
        job = Job(id=secrets.token_hex(8), kind=kind, state="queued", created_by=by,
                  created_at=self.clock(), params=dict(params), message="queued",
                  attempt=retry_of.attempt + 1 if retry_of else 1,
                  retry_of=retry_of.id if retry_of else None)
        self.store.add(job)
        try:
            self.queue.enqueue(job)
        except ServiceError as error:
            self.store.finish(job.id, "failed", "could not be queued", str(error), self.clock())
            raise
        logger.info("jobs.submitted", extra={"job": job.id, "kind": kind, "by": by})
        return job

    def reap(self) -> List[Text]:
        """Fails running jobs whose worker stopped heartbeating; their ids."""
        now = self.clock()
        failed = self.store.fail_stale(
            now - self.stale_seconds, now,
            f"the worker stopped responding (no heartbeat for {self.stale_seconds:.0f} s): "
            f"it was stopped or crashed. Retry the job.")
        for job_id in failed:
            logger.warning("jobs.worker_lost", extra={"job": job_id})
        return failed

    def _explained(self, found: List[Job]) -> List[Job]:
        """Queued jobs say so when no worker is running to take them."""
        if not any(job.state == "queued" for job in found):
            return found
        seen = self.store.last_worker_seen()
        if seen is not None and seen >= self.clock() - self.stale_seconds:
            return found
        note = ("queued: no worker is running to take it; start one (`make worker`) and "
                "it will run")
        return [replace(job, message=note) if job.state == "queued" else job
                for job in found]

    def get(self, job_id: Text) -> Job:
        """A job as it stands now.

        Raises:
            NotFoundError: when there is no job with this id.
        """
        self.reap()
        job = self.store.get(job_id)
        if job is None:
            raise NotFoundError(f"No job has the id {job_id!r}.")
        return self._explained([job])[0]

    def recent(self, limit: int = 50) -> List[Job]:
        """The newest jobs, newest first."""
        self.reap()
        return self._explained(self.store.recent(max(1, min(limit, 200))))

    def retry(self, job_id: Text, by: Text) -> Job:
        """A new attempt at a failed job, with the same parameters.

        Raises:
            NotFoundError: for an unknown job; InputError: unless it failed.
        """
        job = self.get(job_id)
        if job.state != "failed":
            raise InputError(f"Job {job_id} is {job.state}; only a failed job can be retried.")
        return self.submit(job.kind, job.params, by, retry_of=job)


class Worker:
    """The worker's side: runs a job's handler, reporting and heartbeating."""

    def __init__(self, store: JobStore, handlers: Dict[Text, Handler], name: Text,
                 clock: Callable[[], float] = time.time,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 recorder: Optional[Recorder] = None) -> None:
        self.store, self.handlers, self.name, self.clock = store, handlers, name, clock
        self.heartbeat_seconds = heartbeat_seconds
        self.recorder = recorder or NoRecorder()

    def run(self, job_id: Text) -> Optional[Job]:
        """Runs a queued job to its end; a job that is not queued (already run, being
        run, or unknown: a redelivered message) is left alone and None returned."""
        if not self.store.claim(job_id, self.name, self.clock()):
            logger.info("jobs.not_claimed", extra={"job": job_id, "worker": self.name})
            return None
        job = self.store.get(job_id)
        assert job is not None
        handler = self.handlers.get(job.kind)
        stop = threading.Event()
        renewals: List[Callable[[], object]] = []

        def beat() -> None:
            while not stop.wait(self.heartbeat_seconds):
                try:
                    self.store.heartbeat(job_id, self.clock())
                    for renew in list(renewals):
                        renew()
                except AssistantError as error:  # the database blinked: try again
                    logger.warning("jobs.heartbeat_failed", extra={"error": str(error)})

        thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
        thread.start()
        started = time.perf_counter()
        try:
            if handler is None:
                raise InputError(f"This worker cannot run '{job.kind}' jobs.")
            message = handler(job.params, Progress(self.store, job, self.clock,
                                                   renewals.append))
            state, error = "succeeded", None
        except AssistantError as failure:
            state, message, error = "failed", "failed", str(failure)
        except Exception as failure:  # noqa: BLE001 - a job never stays running
            logger.exception("jobs.crashed", extra={"job": job_id})
            state, message, error = "failed", "failed", (
                f"{failure.__class__.__name__}: {failure}. See the worker's log.")
        finally:
            stop.set()
            thread.join(timeout=self.heartbeat_seconds + 1)
        self.store.finish(job_id, state, message, error, self.clock())
        seconds = time.perf_counter() - started
        self.recorder.observe("assistant_job_seconds", seconds,
                              kind=job.kind if handler is not None else "unknown",
                              outcome=state)
        logger.info("jobs.finished", extra={
            "job": job_id, "kind": job.kind, "state": state, "seconds": round(seconds, 2)})
        finished = self.store.get(job_id)
        return finished if finished is not None else replace(job, state=state)
