"""Indexes a folder of documents into the knowledge store.

Idempotent: unchanged documents are skipped, changed ones replaced, and with
`prune` the documents indexed from this folder (or from a folder inside it) that are
no longer in it are deleted; documents of other folders are never pruned. A file
that cannot be read is reported and the others are still indexed. The command line
is `apps/cli/ingest.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Set, Text, Tuple

from bilingual_assistant.config import KnowledgeSettings
from bilingual_assistant.errors import DocumentError, InputError
from bilingual_assistant.knowledge.chunking import chunk_document
from bilingual_assistant.knowledge.documents import find_documents, read_document
from bilingual_assistant.knowledge.embedder import Embedder
from bilingual_assistant.knowledge.store import KnowledgeStore

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingestion run did."""

    added: List[Text] = field(default_factory=list)
    updated: List[Text] = field(default_factory=list)
    unchanged: List[Text] = field(default_factory=list)
    deleted: List[Text] = field(default_factory=list)
    failed: List[Tuple[Text, Text]] = field(default_factory=list)
    # Pruning: indexed documents not in the folder whose folder is not recorded
    # (indexed before folders were), kept because they may belong to another one.
    unknown_folder: List[Text] = field(default_factory=list)
    chunks: int = 0
    version: Text = ""

    @property
    def changed(self) -> bool:
        """True if the indexed content changed."""
        return bool(self.added or self.updated or self.deleted)

    def summary(self) -> Text:
        """One line for people."""
        kept = (f", {len(self.unknown_folder)} kept (folder not recorded)"
                if self.unknown_folder else "")
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted{kept}, "
            f"{len(self.failed)} failed; {self.chunks} chunks written"
        )


def ingest(
    folder: Path,
    store: KnowledgeStore,
    embedder: Embedder,
    chunk_size: int = KnowledgeSettings.chunk_size,
    chunk_overlap: int = KnowledgeSettings.chunk_overlap,
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
        prune: delete the documents indexed from this folder, or from a folder
            inside it, that are no longer in it. Documents indexed from other folders
            (`make index KNOWLEDGE_DIR=...`) stay, and so do documents whose folder
            is not recorded (`IngestReport.unknown_folder`).
        progress: called as (done, total, source, status) after each file.

    Returns:
        What was added, updated, skipped, deleted and what failed.

    Raises:
        InputError: if the folder does not exist.
        StoreError: if the store cannot be used.
    """
    if not folder.is_dir():
        raise InputError(
            f"Knowledge folder '{folder}' does not exist: give an existing folder "
            "(KNOWLEDGE_DIR, or `make index KNOWLEDGE_DIR=...`)."
        )
    report = IngestReport()
    root = folder.resolve()
    indexed = store.indexed_documents()
    folders = store.document_folders()
    paths = find_documents(folder)
    seen: Set[Text] = set()
    claimed: Dict[Text, Text] = {}  # documents now indexed from this folder
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
            if folders.get(source) != str(root):
                claimed[source] = str(root)
        except DocumentError as error:
            report.failed.append((source, str(error)))
            status = f"FAILED: {error}"
        if progress:
            progress(number, len(paths), source, status)
    if claimed:
        store.record_folders(claimed)
        folders.update(claimed)
    if prune:
        gone, report.unknown_folder = _gone(root, indexed, folders, seen)
        for source in gone:
            store.delete_document(source)
            report.deleted.append(source)
            if progress:
                progress(len(paths), len(paths), source, "deleted (no longer in the folder)")
    report.version = store.bump_version() if report.changed else store.version()
    return report


def _gone(root: Path, indexed: Iterable[Text], folders: Dict[Text, Text],
          seen: Set[Text]) -> Tuple[List[Text], List[Text]]:
    """The indexed documents whose file lies under `root` but is no longer there, and
    those not in `root` whose folder is not recorded (they may be another folder's).

    Args:
        root: the folder being indexed, resolved.
        indexed: the indexed sources.
        folders: source -> the folder it was indexed from.
        seen: the files found under `root`, relative to it.
    """
    gone: List[Text] = []
    unknown: List[Text] = []
    for source in sorted(indexed):
        origin = folders.get(source)
        if origin is None:
            if source not in seen:
                unknown.append(source)
            continue
        path = Path(origin) / source
        if path.is_relative_to(root) and path.relative_to(root).as_posix() not in seen:
            gone.append(source)
    return gone, unknown


def remove_folder(folder: Path, store: KnowledgeStore) -> Tuple[List[Text], Text]:
    """Deletes every document indexed from `folder` or a folder inside it (their
    files need not exist any more); documents of other folders stay.

    Returns:
        The deleted sources and the knowledge base's version afterwards.

    Raises:
        StoreError: if the store cannot be used.
    """
    root = folder.resolve()
    folders = store.document_folders()
    deleted = sorted(source for source, origin in folders.items()
                     if Path(origin).is_relative_to(root))
    indexed = store.indexed_documents()
    for source in deleted:
        if source in indexed:
            store.delete_document(source)
    return deleted, store.bump_version() if deleted else store.version()
