"""Structured (JSON lines) logging for the project's own processes."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Dict, Text

# Attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, event and extras."""

    def __init__(self, service: Text) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> Text:
        entry: Dict[Text, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                plain = isinstance(value, (int, float, bool, type(None)))
                entry[key] = value if plain else str(value)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: Text, level: int = logging.INFO) -> None:
    """Sends every log record to stderr as JSON lines.

    Args:
        service: the process's name, added to every line.
        level: the minimum level.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # jieba resets its logger's level and adds its own console handler on import;
    # its messages are about building its dictionary cache.
    logging.getLogger("jieba").disabled = True
    # Milvus Lite does not implement some gRPC calls pymilvus makes; the errors
    # grpc logs for them are harmless.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
