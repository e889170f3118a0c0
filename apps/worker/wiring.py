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
from bilingual_assistant.adapters.sql_service_store import SqlJobStore, connect
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

    return app, worker, announce
