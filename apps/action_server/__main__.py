"""Serves the actions: `python -m apps.action_server --help`."""

from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence, Text

from apps.action_server.http import create_app
from apps.action_server.wiring import build_actions, build_services
from apps.entrypoint import run
from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.config import load_settings
from bilingual_assistant.knowledge.status import announce
from bilingual_assistant.logs import configure_logging

logger = logging.getLogger("apps.action_server")


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Builds the services from the settings and serves until stopped."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description="Serve the assistant's actions.")
    parser.add_argument("--host", default=settings.action_server.host,
                        help="default: ACTION_SERVER_HOST")
    parser.add_argument("--port", type=int, default=settings.action_server.port,
                        help="default: ACTION_SERVER_PORT")
    args = parser.parse_args(argv)
    configure_logging("actions")
    recorder = PrometheusRecorder("actions")
    services = build_services(settings, recorder)
    app = create_app(build_actions(services), settings.action_server.token, recorder,
                     settings.metrics.token)
    logger.info("action_server.start", extra={"host": args.host, "port": args.port})
    notice = services.documents and announce(services.documents.indexed_documents)
    if notice:
        print(notice, flush=True)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    run(main)
