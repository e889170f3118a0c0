"""The worker as a process on a real queue (the embedded SQLite one and the Redis
at 127.0.0.1:6379): jobs submitted as the API submits them run to the end with
progress; a worker killed mid-job leaves the job failed with the reason, and the
retry, on a new worker, finishes it without redoing what was done."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from apps.job_queue import CeleryQueue, celery_app
from bilingual_assistant.adapters.sql_service_store import SqlJobStore, connect
from bilingual_assistant.jobs.service import Jobs
from tests.conftest import require_redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
pytestmark = pytest.mark.slow


def documents(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"doc-{n:03}.md").write_text(
            f"# Policy {n}\n\nRule {n}: the office on floor {n % 9} opens at {7 + n % 3}:00. "
            f"第 {n} 条：会议室 {n} 需要提前预订。\n" * 3, encoding="utf-8")


class World:
    def __init__(self, tmp: Path, broker: str) -> None:
        self.tmp, self.broker = tmp, broker
        # WORKER_METRICS_PORT 0: several workers on one machine (the metrics server
        # is tested in tests/contract/test_metrics.py and tests/integration).
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "KNOWLEDGE_DIR": str(tmp / "kb"),
                    "WORKER_METRICS_PORT": "0",
                    "MILVUS_LITE_PATH": str(tmp / "knowledge.db"),
                    "SERVICES_DB_URL": f"sqlite:///{tmp / 'api.db'}", "JOBS_BROKER_URL": broker,
                    "JOB_STALE_SECONDS": "4", "REDIS_URL": ""}
        self.engine = connect(self.env["SERVICES_DB_URL"])
        self.store = SqlJobStore(self.engine)
        self.jobs = Jobs(self.store, CeleryQueue(celery_app(broker)), stale_seconds=4)
        self.workers: list[subprocess.Popen] = []

    def start_worker(self, name: str) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("a")
        process = subprocess.Popen([sys.executable, "-m", "apps.worker", "--name", name],
                                   cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(process)
        return process

    def wait(self, job_id: str, until, seconds: float = 240):
        deadline = time.time() + seconds
        while time.time() < deadline:
            job = self.jobs.get(job_id)
            if until(job):
                return job
            if self.workers and all(p.poll() is not None for p in self.workers):
                break  # no worker left: say why
            time.sleep(0.2)
        logs = "\n".join(p.read_text()[-2000:] for p in self.tmp.glob("*.log"))
        raise AssertionError(f"job {job_id} is {self.jobs.get(job_id)}\n{logs}")

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.engine.dispose()


@pytest.fixture
def sqlite_world(tmp_path):
    world = World(tmp_path, f"sqla+sqlite:///{tmp_path / 'broker.db'}")
    yield world
    world.stop()


@pytest.fixture
def redis_world(tmp_path):
    """Redis as the broker; two workers share the knowledge base through a Milvus
    Lite server (a Milvus Lite file is open in one process only)."""
    url = "redis://127.0.0.1:6379/14"
    require_redis(url)
    port = free_port()
    milvus = subprocess.Popen(
        [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir",
         str(tmp_path / "milvus"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=(tmp_path / "milvus.log").open("w"), stderr=subprocess.STDOUT)
    world = World(tmp_path, url)
    world.env["MILVUS_URI"] = f"http://127.0.0.1:{port}"
    try:
        yield world
    finally:
        world.stop()
        milvus.terminate()
        milvus.wait(20)
        redis.Redis.from_url(url).flushdb()


def test_a_worker_killed_mid_job_leaves_it_failed_and_the_retry_finishes_it(sqlite_world):
    world = sqlite_world
    documents(world.tmp / "kb", 60)
    job = world.jobs.submit("ingest", {}, "test")
    assert "no worker is running" in world.jobs.get(job.id).message
    first = world.start_worker("w1")
    running = world.wait(job.id, lambda j: j.state == "running" and j.progress >= 0.2)
    assert running.worker == "w1" and "of 60" in running.message
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    world.workers.remove(first)
    lost = world.wait(job.id, lambda j: j.finished, seconds=30)
    assert lost.state == "failed" and "stopped responding" in lost.error
    world.start_worker("w2")
    retry = world.jobs.retry(job.id, "test")
    done = world.wait(retry.id, lambda j: j.finished)
    assert done.state == "succeeded", done.error
    assert done.progress == 1.0 and done.attempt == 2 and done.worker == "w2"
    # what the first worker indexed before it died was not indexed again
    assert " 0 unchanged" not in done.message and "unchanged" in done.message


def test_jobs_run_through_redis_one_writer_at_a_time(redis_world):
    world = redis_world
    documents(world.tmp / "kb", 3)
    world.start_worker("r1")
    world.start_worker("r2")
    first = world.jobs.submit("ingest", {}, "test")
    second = world.jobs.submit("reindex", {}, "test")
    busy = []  # at each look: how many jobs were writing the knowledge base
    deadline = time.time() + 240
    while time.time() < deadline:
        now = [world.jobs.get(j.id) for j in (first, second)]
        busy.append(sum(j.state == "running" and j.message not in ("started", "")
                        and not j.message.startswith("waiting") for j in now))
        if all(j.finished for j in now):
            break
        time.sleep(0.05)
    assert [j.state for j in now] == ["succeeded", "succeeded"], [j.error for j in now]
    assert "3 added" in now[1].message
    assert max(busy) == 1  # never two writers at once
    assert {j.worker for j in now} <= {"r1", "r2"}
