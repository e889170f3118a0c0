"""Background jobs as data: what was asked, where it stands, how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Text

KINDS = ("ingest", "reindex", "retrain")
STATES = ("queued", "running", "succeeded", "failed")
FINISHED = ("succeeded", "failed")


@dataclass(frozen=True)
class Job:
    """One background job.

    Attributes:
        id: its id.
        kind: one of `KINDS`.
        state: one of `STATES`.
        progress: 0 to 1.
        message: what it is doing, or how it ended ("12 of 40 files").
        error: why it failed (None unless `failed`).
        params: what it was asked to do.
        created_by: who asked (a principal's subject).
        created_at, started_at, finished_at, heartbeat_at: seconds since the epoch.
        attempt: 1 for a new job, one more for each retry.
        retry_of: the failed job it retries.
    """

    id: Text
    kind: Text
    state: Text
    created_by: Text
    created_at: float
    params: Dict[Text, Any] = field(default_factory=dict)
    progress: float = 0.0
    message: Text = ""
    error: Optional[Text] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    heartbeat_at: Optional[float] = None
    worker: Optional[Text] = None
    attempt: int = 1
    retry_of: Optional[Text] = None

    @property
    def finished(self) -> bool:
        """Whether it succeeded or failed."""
        return self.state in FINISHED

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        return asdict(self)


class JobStore(Protocol):
    """Where jobs and the writers' lock live (SQL in the services; a dict in tests).

    Every change is atomic: two workers never both claim a job, never both hold the
    lock.
    """

    def add(self, job: Job) -> None:
        """Stores a new job."""

    def get(self, job_id: Text) -> Optional[Job]:
        """The job, or None."""

    def recent(self, limit: int) -> List[Job]:
        """The newest jobs, newest first."""

    def claim(self, job_id: Text, worker: Text, now: float) -> bool:
        """Moves a queued job to running for `worker`; False if it was not queued."""

    def report(self, job_id: Text, progress: float, message: Text, now: float) -> None:
        """Records progress of a running job (also a heartbeat)."""

    def heartbeat(self, job_id: Text, now: float) -> None:
        """Records that the running job's worker is alive."""

    def finish(self, job_id: Text, state: Text, message: Text, error: Optional[Text],
               now: float) -> None:
        """Ends a job (`succeeded` or `failed`)."""

    def fail_stale(self, before: float, now: float, reason: Text) -> List[Text]:
        """Fails every running job whose last heartbeat is older than `before`;
        their ids."""

    def acquire(self, name: Text, owner: Text, now: float, ttl: float) -> bool:
        """Takes the named lock for `ttl` seconds unless another owner holds it."""

    def release(self, name: Text, owner: Text) -> None:
        """Gives the lock back if `owner` holds it."""

    def worker_alive(self, name: Text, now: float) -> None:
        """Records that a worker process is running."""

    def last_worker_seen(self) -> Optional[float]:
        """When any worker last said it was alive (None: never)."""

    def unfinished(self) -> int:
        """How many jobs are queued or running (the backlog)."""


class JobQueue(Protocol):
    """Hands a job to a worker (Celery in the services)."""

    def enqueue(self, job: Job) -> None:
        """Sends the job; raises `ServiceError` when the queue cannot be reached."""
