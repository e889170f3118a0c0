"""Serves the API: `python -m apps.api --help`."""

from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence, Text

from apps.api.wiring import build_app, check_binding
from apps.entrypoint import run
from bilingual_assistant.config import load_settings
from bilingual_assistant.knowledge.status import announce
from bilingual_assistant.logs import configure_logging

logger = logging.getLogger("apps.api")


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Checks the settings, then serves until stopped."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description="Serve the assistant's HTTP API.")
    parser.add_argument("--host", default=settings.api.host, help="default: API_HOST")
    parser.add_argument("--port", type=int, default=settings.api.port, help="default: API_PORT")
    args = parser.parse_args(argv)
    check_binding(settings, args.host)
    configure_logging("api")
    app = build_app(settings)
    import uvicorn

    local = settings.api.local_user and not settings.sign_in.issuer
    mode = ("sign-in with " + settings.sign_in.issuer if settings.sign_in.issuer
            else "local single-user" if local else "API keys only")
    logger.info("api.start", extra={"host": args.host, "port": args.port, "mode": mode})
    notice = announce(app.state.services.documents.indexed_documents)
    if notice:
        print(notice, flush=True)
    print(f"Open http://{args.host}:{args.port}/chat/ (chat), /admin/ (administration), "
          f"/v1/docs (the API).", flush=True)
    if local:
        print("Single-user local mode: requests without credentials act as the local "
              "administrator.", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    run(main)
