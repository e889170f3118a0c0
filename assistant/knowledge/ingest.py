"""Indexes a folder of documents into the knowledge store.

    python -m assistant.knowledge.ingest [FOLDER] [--prune] [--rebuild]

Idempotent: unchanged documents are skipped, changed ones replaced, and documents
no longer in the folder deleted with `--prune`. A file that cannot be read is
reported and the others are still indexed (the exit status is then 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Text, Tuple

from assistant.knowledge.chunking import chunk_document
from assistant.knowledge.documents import DocumentError, find_documents, read_document
from assistant.knowledge.embedder import Embedder
from assistant.knowledge.store import MilvusKnowledgeStore

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingestion run did."""

    added: List[Text] = field(default_factory=list)
    updated: List[Text] = field(default_factory=list)
    unchanged: List[Text] = field(default_factory=list)
    deleted: List[Text] = field(default_factory=list)
    failed: List[Tuple[Text, Text]] = field(default_factory=list)
    chunks: int = 0
    version: Text = ""

    @property
    def changed(self) -> bool:
        """True if the indexed content changed."""
        return bool(self.added or self.updated or self.deleted)

    def summary(self) -> Text:
        """One line for people."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted, "
            f"{len(self.failed)} failed; {self.chunks} chunks written"
        )


def ingest(
    folder: Path,
    store: MilvusKnowledgeStore,
    embedder: Embedder,
    chunk_size: int = 200,
    chunk_overlap: int = 40,
    prune: bool = False,
    progress: Optional[Callable[[int, int, Text, Text], None]] = None,
) -> IngestReport:
    """Brings the store in line with the documents in `folder`.

    Args:
        folder: the knowledge folder.
        store: the knowledge store.
        embedder: embeds the chunks.
        chunk_size: passage length in units (see `chunking.text_units`).
        chunk_overlap: overlap between passages, in units.
        prune: delete documents that are indexed but no longer in the folder.
        progress: called as (done, total, source, status) after each file.

    Returns:
        What was added, updated, skipped, deleted and what failed.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"Knowledge folder '{folder}' does not exist.")
    report = IngestReport()
    indexed = store.indexed_documents()
    paths = find_documents(folder)
    seen = set()
    for number, path in enumerate(paths, start=1):
        source = path.relative_to(folder).as_posix()
        seen.add(source)
        try:
            document = read_document(path, folder)
            if indexed.get(source) == document.content_hash:
                report.unchanged.append(source)
                status = "unchanged"
            else:
                chunks = chunk_document(document, chunk_size, chunk_overlap)
                vectors = embedder.embed([c.text for c in chunks])
                store.replace_document(source, chunks, vectors)
                report.chunks += len(chunks)
                (report.updated if source in indexed else report.added).append(source)
                status = f"{'updated' if source in indexed else 'added'} ({len(chunks)} chunks)"
        except DocumentError as error:
            report.failed.append((source, str(error)))
            status = f"FAILED: {error}"
        if progress:
            progress(number, len(paths), source, status)
    if prune:
        for source in sorted(set(indexed) - seen):
            store.delete_document(source)
            report.deleted.append(source)
            if progress:
                progress(len(paths), len(paths), source, "deleted (no longer in the folder)")
    report.version = store.bump_version() if report.changed else store.version()
    return report


def _print_progress(done: int, total: int, source: Text, status: Text) -> None:
    print(f"[{done:>3}/{total}] {source}: {status}", flush=True)


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Command-line entry point."""
    from assistant.knowledge import build_embedder, build_store
    from assistant.logs import configure_logging
    from assistant.settings import load_settings

    settings = load_settings().knowledge
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=settings.documents_dir)
    parser.add_argument("--prune", action="store_true", help="delete removed documents")
    parser.add_argument("--rebuild", action="store_true", help="drop the index first")
    args = parser.parse_args(argv)
    configure_logging("ingest", level=logging.WARNING)
    embedder = build_embedder(settings)
    store = build_store(settings, embedder)
    if args.rebuild:
        store.drop()
    started = time.perf_counter()
    print(f"Indexing {args.folder} into {settings.milvus_uri} ({settings.collection})", flush=True)
    try:
        report = ingest(
            Path(args.folder),
            store,
            embedder,
            settings.chunk_size,
            settings.chunk_overlap,
            prune=args.prune,
            progress=_print_progress,
        )
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"{report.summary()} in {time.perf_counter() - started:.1f} s; version {report.version}")
    for _, message in report.failed:
        print(f"error: {message}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
