"""The knowledge base's jobs: ingest a folder, rebuild the index, delete documents;
each holds the writers' lock, so one job writes the knowledge base at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Text

from bilingual_assistant.errors import InputError
from bilingual_assistant.jobs.service import Handler, Progress
from bilingual_assistant.knowledge.embedder import Embedder
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.store import KnowledgeStore

LOCK = "knowledge"


class KnowledgeJobs:
    """Handlers for `ingest` and `reindex` jobs over one folder and one store."""

    def __init__(self, folder: Path, store: KnowledgeStore, embedder: Embedder,
                 chunk_size: int, chunk_overlap: int) -> None:
        """Args:
        folder: the knowledge folder (`KNOWLEDGE_DIR`): uploads land there.
        store: the knowledge store; embedder: the one it was indexed with.
        chunk_size, chunk_overlap: as for `ingest`.
        """
        self.folder = folder
        self.store = store
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    def handlers(self) -> Dict[Text, Handler]:
        """`ingest` and `reindex`."""
        return {"ingest": self.ingest, "reindex": self.reindex}

    def ingest(self, params: Dict[Text, Any], progress: Progress) -> Text:
        """Brings the index in line with the folder (unchanged files skipped, so a
        retry is cheap); `delete`: sources removed from the index first; `prune`:
        documents no longer in the folder deleted.

        Raises:
            InputError: when a file could not be read (the others are indexed).
        """
        with progress.exclusive(LOCK):
            for source in params.get("delete", []):
                self.store.delete_document(str(source))
            if params.get("delete"):
                self.store.bump_version()
            return self._ingest(bool(params.get("prune")), progress)

    def reindex(self, params: Dict[Text, Any], progress: Progress) -> Text:
        """Drops the index and indexes the folder again (after changing the
        embedding model or the chunk size)."""
        with progress.exclusive(LOCK):
            progress(0.0, "dropping the old index")
            self.store.drop()
            return self._ingest(True, progress)

    def _ingest(self, prune: bool, progress: Progress) -> Text:
        def report(done: int, total: int, source: Text, status: Text) -> None:
            progress(done / max(total, 1), f"{done} of {total}: {source}: {status}")

        progress(0.0, f"reading {self.folder.name or self.folder}")
        result = ingest(self.folder, self.store, self.embedder, self.chunk_size,
                        self.chunk_overlap, prune=prune, progress=report)
        if result.failed:
            raise InputError(f"{result.summary()}. Could not read: " + "; ".join(
                message for _, message in result.failed[:5]))
        return f"{result.summary()}; version {result.version}"
