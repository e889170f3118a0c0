"""Serves the embedded LLM: `python -m apps.llm_server --help`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Optional, Sequence, Text

from apps.entrypoint import run
from apps.llm_server.wiring import build_app, model_file
from bilingual_assistant.config import LocalLLMSettings, PathSettings, load
from bilingual_assistant.logs import configure_logging

logger = logging.getLogger("apps.llm_server")


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Writes the model file if needed, then serves it until stopped."""
    local = load(LocalLLMSettings)
    parser = argparse.ArgumentParser(description="Serve the embedded LLM (OpenAI API).")
    parser.add_argument("--host", default=local.host, help="default: LOCAL_LLM_HOST")
    parser.add_argument("--port", type=int, default=local.port, help="default: LOCAL_LLM_PORT")
    parser.add_argument("--threads", type=int, default=local.threads,
                        help="default: LOCAL_LLM_THREADS")
    parser.add_argument("--prepare-only", action="store_true",
                        help="write the model file and exit")
    args = parser.parse_args(argv)
    local = dataclasses.replace(local, host=args.host, port=args.port, threads=args.threads)
    configure_logging("llm")
    model = model_file(local, load(PathSettings), lambda line: print(line, flush=True))
    if args.prepare_only:
        return 0
    import uvicorn

    logger.info("llm.start", extra={"model": str(model), "host": local.host, "port": local.port})
    uvicorn.run(build_app(local, model), host=local.host, port=local.port, log_level="warning")
    return 0


if __name__ == "__main__":
    run(main)
