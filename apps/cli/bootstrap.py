"""A deployment's first start, once (compose's `init` step; safe to run again):

    python -m apps.cli.bootstrap [FOLDER]

1. Indexes FOLDER (default KNOWLEDGE_DIR) when the knowledge base holds no
   document yet, and says so when there is nothing to index.
2. When no active API key has the `admin` scope, makes one for the first
   administrator and prints it once (only its hash is stored); with one already
   there, prints nothing secret.
Exit status 0, or 1 when a document could not be read (the others are indexed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence, Text

from apps.cli.ingest import print_progress
from apps.cli.wiring import build_index
from apps.entrypoint import run
from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.access.principal import SCOPES
from bilingual_assistant.adapters.sql_service_store import SqlKeyStore, connect
from bilingual_assistant.config import load_settings
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.status import EMPTY
from bilingual_assistant.logs import configure_logging

ADMIN_KEY_NAME = "first administrator (bootstrap)"


def index_if_empty(folder: Path) -> int:
    """Indexes the folder into an empty knowledge base; 1 when a file failed."""
    settings = load_settings()
    embedder, store = build_index(settings)
    try:
        present = store.indexed_documents()
        if present:
            print(f"The knowledge base holds {len(present)} documents: not indexing again "
                  "(use `python -m apps.cli.ingest` to add or update).", flush=True)
            return 0
        if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
            print(f"{folder} holds no documents. {EMPTY}", flush=True)
            return 0
        print(f"Indexing {folder} into the empty knowledge base", flush=True)
        report = ingest(folder, store, embedder, settings.knowledge.chunk_size,
                        settings.knowledge.chunk_overlap,
                        progress=print_progress)
    finally:
        store.close()
    print(report.summary(), flush=True)
    for _, message in report.failed:
        print(f"error: {message}", file=sys.stderr)
    return 1 if report.failed else 0


def first_admin_key() -> None:
    """Makes the first administrator's key unless an active admin key exists."""
    keys = ApiKeys(SqlKeyStore(connect(load_settings().api.db_url)))
    now = keys.clock()
    if any("admin" in record.scopes and record.state(now) == "active"
           for record in keys.list()):
        print("An administrator's API key exists already: no new key made.", flush=True)
        return
    token, record = keys.issue(ADMIN_KEY_NAME, list(SCOPES))
    print("The first administrator's API key (shown once; only its hash is kept):",
          flush=True)
    print(token, flush=True)
    print(f"Key id {record.id}. Use it as `Authorization: Bearer <key>`; make others and "
          f"revoke this one with `python -m apps.cli.api_keys`.", flush=True)


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Indexes an empty knowledge base and makes the first admin key."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=settings.knowledge.documents_dir,
                        help="default: KNOWLEDGE_DIR")
    args = parser.parse_args(argv)
    configure_logging("bootstrap", level=logging.WARNING)
    status = index_if_empty(Path(args.folder))
    first_admin_key()
    return status


if __name__ == "__main__":
    run(main)
