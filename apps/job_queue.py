"""The job queue on Celery, shared by the API (which sends a job's id) and the
worker (which runs it): Redis or RabbitMQ when configured, else a SQLite file
through kombu's SQLAlchemy transport, so `make run` needs no server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Text
from urllib.parse import urlsplit, urlunsplit

from celery import Celery
from kombu.exceptions import KombuError, OperationalError

from bilingual_assistant.errors import ServiceError
from bilingual_assistant.jobs.models import Job

logger = logging.getLogger(__name__)

TASK = "bilingual_assistant.run_job"
QUEUE = "jobs"
# Sending gives up quickly: the API tells the user the queue is down rather than
# holding the request.
PUBLISH_RETRY: Dict[Text, Any] = {"max_retries": 2, "interval_start": 0,
                                  "interval_step": 0.5, "interval_max": 1}


def shown(url: Text) -> Text:
    """The broker's address without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def celery_app(broker_url: Text) -> Celery:
    """The Celery app for `broker_url` (a SQLite broker's folder is made)."""
    if broker_url.startswith("sqla+sqlite:///"):
        path = broker_url[len("sqla+sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    app = Celery("assistant", broker=broker_url)
    app.conf.update(
        task_default_queue=QUEUE,
        # Acknowledged when a worker takes it: a worker that dies leaves its job to
        # be failed by the missing heartbeat (and retried by a person), never run a
        # second time behind the user's back.
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app


class CeleryQueue:
    """`JobQueue` on Celery."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, job: Job) -> None:
        """Sends the job's id to the workers.

        Raises:
            ServiceError: when the broker cannot be reached.
        """
        try:
            self.app.send_task(TASK, args=[job.id], queue=QUEUE, retry=True,
                               retry_policy=PUBLISH_RETRY)
        except (OperationalError, KombuError, OSError) as error:
            broker = shown(str(self.app.conf.broker_url))
            logger.error("jobs.queue_unreachable", extra={"broker": broker,
                                                          "error": str(error)})
            raise ServiceError(
                f"The job queue ({broker}) cannot be reached: {error.__class__.__name__}. "
                f"Start it, or unset JOBS_BROKER_URL and REDIS_URL to use the embedded "
                f"SQLite queue; then retry the job.") from None
