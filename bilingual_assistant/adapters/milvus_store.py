"""The knowledge store on Milvus: Milvus Lite (a local file) or a Milvus server.

Implements `bilingual_assistant.knowledge.store.KnowledgeStore`.

One collection holds the chunks with a dense vector and a BM25 sparse vector that
Milvus computes from the text with its jieba analyzer. A second, small collection
holds the knowledge base's version, which changes whenever the chunks do, so that
every replica's answer cache can tell that its answers are stale. A third
(`<name>_folders`) records which folder each document was indexed from, so that
pruning one folder leaves the others' documents alone; it is made when missing, so a
store indexed before it existed keeps working (its documents' folders unrecorded).

Each chunk carries `readers`, the groups that may read its document (empty:
everyone), and every search filters on it in Milvus, so a reader of few documents
still gets the best of theirs. A collection made before `readers` existed has no
such field (Milvus Lite cannot add one): it keeps working for documents that name
no groups, and a document that names some is refused until `make index REBUILD=1`
makes the collection again.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence, Text, Tuple, TypeVar, cast

from bilingual_assistant.config import KnowledgeSettings
from bilingual_assistant.errors import ConfigurationError, DocumentError, StoreError
from bilingual_assistant.knowledge.access import EVERYONE, MAX_GROUPS, Reader
from bilingual_assistant.knowledge.analysis import bm25_text
from bilingual_assistant.knowledge.chunking import Chunk
from bilingual_assistant.knowledge.store import Hit

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
TEXT_MAX_LENGTH = 8192
SOURCE_MAX_LENGTH = 1024
FOLDER_MAX_LENGTH = 4096
READERS_CAPACITY = MAX_GROUPS
GROUP_MAX_LENGTH = 128
_META_ID = "kb"


def _store_errors(method: F) -> F:
    """Turns Milvus errors into `StoreError`, naming the operation."""

    @functools.wraps(method)
    def wrapper(self: MilvusKnowledgeStore, *args: Any, **kwargs: Any) -> Any:
        from pymilvus.exceptions import MilvusException

        try:
            return method(self, *args, **kwargs)
        except MilvusException as error:
            raise StoreError(
                f"Milvus {method.__name__} failed on '{self.collection}': {error}"
            ) from error

    return cast(F, wrapper)


def _quote(value: Text) -> Text:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MilvusKnowledgeStore:
    """Chunks with dense and BM25 vectors in a Milvus collection."""

    def __init__(self, settings: KnowledgeSettings, dim: int) -> None:
        """Connects (lazily) to Milvus Lite or a Milvus server.

        Args:
            settings: `uri` (the Milvus Lite file, or a server's http(s)://),
                `milvus_token` and `collection`.
            dim: the embedder's vector dimension.
        """
        self.settings = settings
        self.dim = dim
        self.collection = settings.collection
        self.meta_collection = f"{settings.collection}_meta"
        self.folders_collection = f"{settings.collection}_folders"
        self._client: Any = None
        self._lock = threading.Lock()
        self._has_readers = True  # set on connecting: False for an older collection

    @property
    def client(self) -> Any:
        """The pymilvus client, created and collections checked on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        uri = self.settings.uri
        if "://" not in uri:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = MilvusClient(uri=uri, token=self.settings.milvus_token or "", timeout=10)
            self._ensure_collections(client)
            # A collection created by another process is "released" until loaded.
            for name in self._collections():
                client.load_collection(name)
        except MilvusException as error:
            raise StoreError(
                f"Milvus at {uri} cannot be used: {error}. Check MILVUS_URI and MILVUS_TOKEN; "
                "a Milvus Lite file can be open in one process only."
            ) from error
        return client

    def _ensure_collections(self, client: Any) -> None:
        from pymilvus import DataType, Function, FunctionType

        if not client.has_collection(self.collection):
            schema = client.create_schema(auto_id=False)
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX_LENGTH)
            schema.add_field(
                "search_text",
                DataType.VARCHAR,
                max_length=TEXT_MAX_LENGTH,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "jieba", "filter": ["lowercase"]},
            )
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_MAX_LENGTH)
            schema.add_field("title", DataType.VARCHAR, max_length=1024)
            schema.add_field("heading", DataType.VARCHAR, max_length=1024)
            schema.add_field("chunk_index", DataType.INT64)
            schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
            schema.add_field("readers", DataType.ARRAY, element_type=DataType.VARCHAR,
                             max_capacity=READERS_CAPACITY, max_length=GROUP_MAX_LENGTH)
            schema.add_function(
                Function(
                    name="bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["search_text"],
                    output_field_names=["sparse"],
                )
            )
            index = client.prepare_index_params()
            index.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            client.create_collection(self.collection, schema=schema, index_params=index)
            logger.info("store.collection_created", extra={"collection": self.collection})
        fields = client.describe_collection(self.collection)["fields"]
        self._has_readers = any(f["name"] == "readers" for f in fields)
        if not self._has_readers:
            logger.warning("store.no_readers_field", extra={"collection": self.collection})
        if not client.has_collection(self.meta_collection):
            schema = client.create_schema(auto_id=False)
            schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
            schema.add_field("version", DataType.VARCHAR, max_length=64)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("vector", index_type="AUTOINDEX", metric_type="L2")
            client.create_collection(self.meta_collection, schema=schema, index_params=index)
        else:
            fields = {f["name"]: f for f in client.describe_collection(self.collection)["fields"]}
            dense = fields.get("dense", {}).get("params", {}).get("dim")
            if dense is not None and int(dense) != self.dim:
                raise ConfigurationError(
                    f"Collection '{self.collection}' holds vectors of dimension {dense} "
                    f"but the embedder (EMBEDDING_MODEL) makes {self.dim}: re-index with "
                    "`make index REBUILD=1`."
                )
        if not client.has_collection(self.folders_collection):
            schema = client.create_schema(auto_id=False)
            schema.add_field("source", DataType.VARCHAR, is_primary=True,
                             max_length=SOURCE_MAX_LENGTH)
            schema.add_field("folder", DataType.VARCHAR, max_length=FOLDER_MAX_LENGTH)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("vector", index_type="AUTOINDEX", metric_type="L2")
            client.create_collection(self.folders_collection, schema=schema,
                                     index_params=index)

    def _collections(self) -> Sequence[Text]:
        return (self.collection, self.meta_collection, self.folders_collection)

    # --- writing -------------------------------------------------------------

    def _readers_filter(self, reader: Reader) -> Text:
        """The search filter for what `reader` may read ("" for everything)."""
        if reader.everything or not self._has_readers:
            return ""
        groups = ", ".join(_quote(g) for g in sorted(reader.groups))
        return ("array_length(readers) == 0" +
                (f" or array_contains_any(readers, [{groups}])" if groups else ""))

    @_store_errors
    def indexed_documents(self) -> Dict[Text, Text]:
        """Source path -> content hash of every indexed document."""
        rows = self.client.query(
            self.collection,
            filter="chunk_index == 0",
            output_fields=["source", "content_hash"],
            limit=16384,
        )
        return {row["source"]: row["content_hash"] for row in rows}

    @_store_errors
    def replace_document(
        self, source: Text, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Deletes a document's old chunks and inserts the new ones.

        Raises:
            DocumentError: for a document that names groups when the collection
                cannot record them (made before they existed).
        """
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk is needed.")
        client = self.client  # connected: `_has_readers` is known
        if any(c.readers for c in chunks) and not self._has_readers:
            raise DocumentError(
                f"{source} names the groups that may read it, but the collection "
                f"'{self.collection}' was made before documents could: re-index with "
                "`make index REBUILD=1` (or POST /v1/documents/reindex).")
        self.delete_document(source)
        rows = [
            {
                "id": chunk.id,
                "text": chunk.text[:TEXT_MAX_LENGTH],
                "search_text": bm25_text(chunk.text)[:TEXT_MAX_LENGTH],
                "dense": list(vector),
                "source": chunk.source,
                "title": chunk.title[:1024],
                "heading": chunk.heading[:1024],
                "chunk_index": chunk.index,
                "content_hash": chunk.content_hash,
                **({"readers": list(chunk.readers)} if self._has_readers else {}),
            }
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        if rows:
            client.insert(self.collection, rows)

    @_store_errors
    def delete_document(self, source: Text) -> None:
        """Deletes every chunk of a document, and its recorded folder."""
        self.client.delete(self.collection, filter=f"source == {_quote(source)}")
        self.client.delete(self.folders_collection, filter=f"source == {_quote(source)}")

    @_store_errors
    def document_readers(self) -> Dict[Text, Tuple[Text, ...]]:
        """Source path -> the groups that may read it (empty: everyone)."""
        client = self.client
        if not self._has_readers:
            return {source: () for source in self.indexed_documents()}
        rows = client.query(self.collection, filter="chunk_index == 0",
                            output_fields=["source", "readers"], limit=16384)
        return {row["source"]: tuple(row.get("readers") or ()) for row in rows}

    @_store_errors
    def document_folders(self) -> Dict[Text, Text]:
        """Source path -> the folder it was indexed from, where recorded."""
        rows = self.client.query(
            self.folders_collection,
            filter='source != ""',
            output_fields=["source", "folder"],
            limit=16384,
        )
        return {row["source"]: row["folder"] for row in rows}

    @_store_errors
    def record_folders(self, folders: Mapping[Text, Text]) -> None:
        """Records the folder each of these documents was indexed from.

        Raises:
            StoreError: for a folder path longer than the collection holds.
        """
        for source, folder in folders.items():
            if len(folder) > FOLDER_MAX_LENGTH:
                raise StoreError(f"The folder of {source} is a path longer than "
                                 f"{FOLDER_MAX_LENGTH} characters: index a shorter one.")
        rows = [{"source": source, "folder": folder, "vector": [0.0, 0.0]}
                for source, folder in folders.items()]
        if rows:
            self.client.upsert(self.folders_collection, rows)

    @_store_errors
    def drop(self) -> None:
        """Deletes the collections (a full rebuild follows)."""
        with self._lock:
            client = self._client
        if client is None:
            from pymilvus import MilvusClient

            client = MilvusClient(
                uri=self.settings.uri, token=self.settings.milvus_token or ""
            )
        for name in self._collections():
            if client.has_collection(name):
                client.drop_collection(name)
        with self._lock:
            self._client = None

    @_store_errors
    def bump_version(self) -> Text:
        """Records that the chunks changed; returns the new version."""
        version = uuid.uuid4().hex
        self.client.upsert(
            self.meta_collection, [{"id": _META_ID, "version": version, "vector": [0.0, 0.0]}]
        )
        return version

    # --- reading -------------------------------------------------------------

    @_store_errors
    def version(self) -> Text:
        """The knowledge base's version ("empty" before the first ingestion)."""
        rows = self.client.query(
            self.meta_collection, filter=f"id == {_quote(_META_ID)}", output_fields=["version"]
        )
        return rows[0]["version"] if rows else "empty"

    @_store_errors
    def count(self) -> int:
        """Number of chunks."""
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @_store_errors
    def dense_search(self, vector: Sequence[float], limit: int,
                     reader: Reader = EVERYONE) -> List[Hit]:
        """Nearest chunks by cosine similarity, among those `reader` may read."""
        client = self.client
        results = client.search(
            self.collection,
            data=[list(vector)],
            anns_field="dense",
            limit=limit,
            filter=self._readers_filter(reader),
            output_fields=self._output_fields(),
            search_params={"metric_type": "COSINE"},
        )
        return [Hit(_chunk(r["entity"], r["id"]), float(r["distance"])) for r in results[0]]

    @_store_errors
    def bm25_search(self, query: Text, limit: int, reader: Reader = EVERYONE) -> List[Hit]:
        """Best chunks by BM25 over jieba tokens (Chinese and English), among those
        `reader` may read."""
        client = self.client
        results = client.search(
            self.collection,
            data=[bm25_text(query) or query],
            anns_field="sparse",
            limit=limit,
            filter=self._readers_filter(reader),
            output_fields=self._output_fields(),
            search_params={"metric_type": "BM25"},
        )
        # Milvus Lite reports BM25 as a negative distance; higher is better either way.
        return [Hit(_chunk(r["entity"], r["id"]), abs(float(r["distance"]))) for r in results[0]]

    def _output_fields(self) -> List[Text]:
        return [*_OUTPUT_FIELDS, "readers"] if self._has_readers else list(_OUTPUT_FIELDS)

    def close(self) -> None:
        """Closes the connection."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


_OUTPUT_FIELDS = ["text", "source", "title", "heading", "chunk_index", "content_hash"]


def _chunk(entity: Dict[Text, Any], chunk_id: Text) -> Chunk:
    return Chunk(
        id=chunk_id,
        source=entity["source"],
        title=entity["title"],
        heading=entity["heading"],
        index=int(entity["chunk_index"]),
        text=entity["text"],
        content_hash=entity["content_hash"],
        readers=tuple(entity.get("readers") or ()),
    )
