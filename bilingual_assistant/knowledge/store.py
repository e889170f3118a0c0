"""What the knowledge base needs from a store of chunks (Milvus in production:
`bilingual_assistant/adapters/milvus_store.py`; an in-memory one in the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Protocol, Sequence, Text, Tuple

from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.chunking import Chunk


@dataclass(frozen=True)
class Hit:
    """One search result: a chunk and its score (higher is better)."""

    chunk: Chunk
    score: float


class SearchableStore(Protocol):
    """What retrieval needs: dense and BM25 search.

    Both raise `StoreError` when the store cannot be used. They filter in the
    search itself, so that a reader with few documents still gets `limit` of theirs.
    """

    def dense_search(self, vector: Sequence[float], limit: int,
                     reader: Reader = EVERYONE) -> List[Hit]:
        """Nearest chunks by cosine similarity, among those `reader` may read."""
        ...

    def bm25_search(self, query: Text, limit: int, reader: Reader = EVERYONE) -> List[Hit]:
        """Best chunks by BM25, among those `reader` may read."""
        ...


class KnowledgeStore(SearchableStore, Protocol):
    """What ingestion needs as well: documents in, versions out."""

    def indexed_documents(self) -> Dict[Text, Text]:
        """Source path -> content hash of every indexed document."""
        ...

    def replace_document(
        self, source: Text, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Deletes a document's old chunks and stores the new ones, with the groups
        that may read it (`Chunk.readers`).

        Raises:
            DocumentError: for a document this store cannot keep as it is (one that
                names groups, in a collection made before groups existed).
        """
        ...

    def delete_document(self, source: Text) -> None:
        """Deletes every chunk of a document, and its recorded folder."""
        ...

    def document_readers(self) -> Dict[Text, Tuple[Text, ...]]:
        """Source path -> the groups that may read it (empty: everyone)."""
        ...

    def document_folders(self) -> Dict[Text, Text]:
        """Source path -> the folder it was indexed from (absolute), for the indexed
        documents whose folder is recorded: a source is relative to its folder, so two
        folders' documents cannot be told apart without it."""
        ...

    def record_folders(self, folders: Mapping[Text, Text]) -> None:
        """Records the folder each of these documents was indexed from."""
        ...

    def bump_version(self) -> Text:
        """Records that the chunks changed; returns the new version."""
        ...

    def version(self) -> Text:
        """The knowledge base's version ("empty" before the first ingestion)."""
        ...

    def drop(self) -> None:
        """Deletes every chunk and recorded folder (a full rebuild follows)."""
        ...
