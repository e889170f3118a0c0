"""Indexes a folder of documents into the knowledge store.

    python -m apps.cli.ingest [FOLDER] [--prune] [--rebuild]
    python -m apps.cli.ingest FOLDER --remove     delete what was indexed from FOLDER

Idempotent: unchanged documents are skipped, changed ones replaced, and with
`--prune` the documents indexed from this folder that are no longer in it deleted
(never those of another folder, nor uploads when another folder is indexed). A file
that cannot be read is reported and the others are still indexed (the exit status
is then 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Optional, Sequence, Text

from apps.cli.wiring import build_index
from apps.entrypoint import run
from bilingual_assistant.config import load_settings
from bilingual_assistant.knowledge.ingest import ingest, remove_folder
from bilingual_assistant.logs import configure_logging


def print_progress(done: int, total: int, source: Text, status: Text) -> None:
    """One line per file indexed (also the bootstrap's)."""
    print(f"[{done:>3}/{total}] {source}: {status}", flush=True)


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Indexes the folder; 0 when every file was read, 1 when some were not."""
    settings = load_settings()
    knowledge = settings.knowledge
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=knowledge.documents_dir,
                        help="default: KNOWLEDGE_DIR")
    parser.add_argument("--prune", action="store_true",
                        help="delete the documents removed from this folder")
    parser.add_argument("--rebuild", action="store_true", help="drop the index first")
    parser.add_argument("--remove", action="store_true",
                        help="delete every document indexed from the folder (the sample "
                             "documents: `knowledge`) instead of indexing it")
    args = parser.parse_args(argv)
    configure_logging("ingest", level=logging.WARNING)
    embedder, store = build_index(settings)
    if args.remove:
        try:
            deleted, version = remove_folder(Path(args.folder), store)
        finally:
            store.close()
        print(f"Removed {len(deleted)} documents indexed from {args.folder}; version {version}")
        return 0
    try:
        if args.rebuild:
            store.drop()
        started = time.perf_counter()
        print(f"Indexing {args.folder} into {knowledge.uri} ({knowledge.collection})", flush=True)
        report = ingest(
            Path(args.folder),
            store,
            embedder,
            knowledge.chunk_size,
            knowledge.chunk_overlap,
            prune=args.prune,
            progress=print_progress,
        )
    finally:
        store.close()
    print(f"{report.summary()} in {time.perf_counter() - started:.1f} s; version {report.version}")
    if report.unknown_folder:
        print(f"note: {len(report.unknown_folder)} indexed documents are not in this folder "
              "and were indexed before folders were recorded, so they were not pruned "
              f"({', '.join(report.unknown_folder[:5])}"
              f"{', ...' if len(report.unknown_folder) > 5 else ''}); "
              "`make index REBUILD=1` re-indexes from scratch.")
    for _, message in report.failed:
        print(f"error: {message}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    run(main)
