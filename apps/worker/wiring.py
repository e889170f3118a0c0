"""The worker's composition root: settings in, the Celery app with its task out."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Text, Tuple

from celery import Celery

from apps.job_queue import TASK, celery_app
from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.adapters.rasa_cli import RasaCli, RasaModelServer
from bilingual_assistant.adapters.sql_service_store import SqlJobStore, SqlRetention, connect
from bilingual_assistant.config import Settings
from bilingual_assistant.errors import AssistantError
from bilingual_assistant.jobs.knowledge import KnowledgeJobs
from bilingual_assistant.jobs.retrain import RetrainJob
from bilingual_assistant.jobs.service import HEARTBEAT_SECONDS, Worker
from bilingual_assistant.knowledge.embedder import make_embedder
from bilingual_assistant.metrics import Recorder

logger = logging.getLogger("apps.worker")


def build_worker(settings: Settings, name: Text, recorder: Optional[Recorder] = None,
                 ) -> Tuple[Celery, Worker, Callable[[], None]]:
    """The Celery app running `Worker.run` as its one task, the worker (its job times
    go to `recorder`), and a function that starts the thread saying this worker is
    alive."""
    store = SqlJobStore(connect(settings.api.db_url))
    knowledge = settings.knowledge
    embedder = make_embedder(knowledge.embedding_model, settings.paths.encoders_dir)
    handlers = KnowledgeJobs(
        Path(knowledge.documents_dir), MilvusKnowledgeStore(knowledge, embedder.dim),
        embedder, knowledge.chunk_size, knowledge.chunk_overlap).handlers()
    if settings.jobs.rasa_command:
        project = Path.cwd()
        handlers["retrain"] = RetrainJob(
            RasaCli(Path(settings.jobs.rasa_command), project, project / "models",
                    project / "tests" / "nlu" / "held_out.yml",
                    project / "tests" / "test_stories.yml"),
            RasaModelServer(settings.api.rasa_url, settings.rasa_server.auth_token))
    # Several heartbeats fit in the time after which a silent job counts as lost.
    beat_every = min(HEARTBEAT_SECONDS, settings.jobs.stale_seconds / 4)
    worker = Worker(store, handlers, name, heartbeat_seconds=beat_every, recorder=recorder)
    app = celery_app(settings.jobs_broker)

    @app.task(name=TASK)
    def run_job(job_id: Text) -> None:
        worker.run(job_id)

    def announce() -> None:
        def beat() -> None:
            while True:
                try:
                    store.worker_alive(name, time.time())
                except AssistantError as error:
                    logger.warning("worker.heartbeat_failed", extra={"error": str(error)})
                time.sleep(beat_every)

        threading.Thread(target=beat, name="worker-alive", daemon=True).start()
        days = settings.conversations.retention_days
        if days:
            retention = retention_of(settings)
            threading.Thread(target=keep_for, args=(retention, days), name="retention",
                             daemon=True).start()

    return app, worker, announce


# How often the worker deletes what is past the retention period.
RETENTION_EVERY_SECONDS = 3600


def retention_of(settings: Settings) -> SqlRetention:
    """Retention over the services' tables and Rasa's conversations."""
    from sqlalchemy import create_engine

    return SqlRetention(connect(settings.api.db_url),
                        create_engine(settings.conversations.db_url))


def keep_for(retention: SqlRetention, days: int,
             clock: Callable[[], float] = time.time,
             sleep: Callable[[float], None] = time.sleep, rounds: Optional[int] = None) -> None:
    """Deletes what is older than `days`, every `RETENTION_EVERY_SECONDS` (`rounds`
    times, for tests; for ever otherwise). Every worker does it; deleting twice
    deletes nothing more."""
    done = 0
    while rounds is None or done < rounds:
        try:
            deleted = retention.purge(clock() - days * 86400)
            logger.info("worker.retention", extra={"days": days, **deleted})
        except AssistantError as error:
            logger.warning("worker.retention_failed", extra={"error": str(error)})
        done += 1
        if rounds is None or done < rounds:
            sleep(RETENTION_EVERY_SECONDS)
