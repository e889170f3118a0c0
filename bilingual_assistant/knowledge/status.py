"""What a service says at start about the knowledge base: how many documents it
holds, and what to do when it holds none or cannot be read."""

from __future__ import annotations

import logging
from typing import Callable, Dict, Optional, Text

from bilingual_assistant.errors import StoreError

logger = logging.getLogger(__name__)

EMPTY = ("The knowledge base is empty: every question about documents will get \"not "
         "in the documents\". Index a folder (`make index KNOWLEDGE_DIR=/path`, or "
         "`python -m apps.cli.ingest /path` in the services' environment) or upload "
         "documents on the administration page (/admin/).")


def announce(indexed_documents: Callable[[], Dict[Text, Text]]) -> Optional[Text]:
    """Logs the number of indexed documents; returns a sentence for the person who
    started the service when the knowledge base is empty or unreadable, else None."""
    try:
        documents = len(indexed_documents())
    except StoreError as error:
        logger.warning("knowledge.unreadable", extra={"error": str(error)[:300]})
        return (f"The knowledge base cannot be read yet ({error}); questions about "
                "documents will say it is unavailable until it can.")
    if documents == 0:
        logger.warning("knowledge.empty")
        return EMPTY
    logger.info("knowledge.ready", extra={"documents": documents})
    return None
