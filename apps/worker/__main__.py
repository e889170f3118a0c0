"""Runs the job worker: `python -m apps.worker --help`."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from typing import Optional, Sequence, Text

from apps.entrypoint import run
from apps.job_queue import QUEUE, shown
from apps.worker.wiring import build_worker
from bilingual_assistant.adapters.prometheus import MetricsServer, PrometheusRecorder
from bilingual_assistant.config import load_settings
from bilingual_assistant.logs import configure_logging

logger = logging.getLogger("apps.worker")


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Takes jobs from the queue, one at a time, until stopped."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description="Run background jobs (ingestion, "
                                                 "re-indexing) from the queue.")
    parser.add_argument("--name", default=f"worker-{socket.gethostname()}-{os.getpid()}",
                        help="this worker's name in the jobs' records")
    args = parser.parse_args(argv)
    configure_logging("worker")
    recorder = PrometheusRecorder("worker")
    app, _, announce = build_worker(settings, args.name, recorder)
    metrics = settings.metrics
    if metrics.worker_port:
        try:
            server = MetricsServer(recorder, metrics.worker_host, metrics.worker_port,
                                   metrics.token).start()
            logger.info("worker.metrics", extra={"host": metrics.worker_host,
                                                 "port": server.port})
        except OSError as error:
            # A second worker on the same machine: it runs its jobs all the same.
            logger.error("worker.metrics_unavailable", extra={
                "port": metrics.worker_port, "error": str(error),
                "fix": "set WORKER_METRICS_PORT to a free port, or 0 for none"})
    announce()
    logger.info("worker.start", extra={"worker": args.name,
                                       "broker": shown(settings.jobs_broker)})
    # One job at a time in this process (the knowledge base has one writer anyway);
    # run more workers for more throughput. No remote control: only the metrics listen.
    app.worker_main(["worker", "--pool=solo", "--concurrency=1", "-Q", QUEUE,
                     "-n", f"{args.name}@%h", "--loglevel=WARNING", "--without-mingle",
                     "--without-gossip", "--without-heartbeat"])
    return 0


if __name__ == "__main__":
    run(main)
