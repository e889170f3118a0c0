"""`/v1/documents`: the indexed documents, one document as indexed, uploads (saved
under the knowledge folder's `uploads/` and indexed by a job; the web UI's admin page
uploads the same way through `Operations`), deletion and reindexing."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable, Dict, List, Text, Tuple

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import ApiServices, off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.errors import InputError, NotFoundError, PermissionDeniedError
from bilingual_assistant.jobs.models import Job
from bilingual_assistant.knowledge.documents import SUPPORTED_SUFFIXES

logger = logging.getLogger("apps.api")

MAX_FILES = 50  # per upload
UPLOADS = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)

Reader = Callable[[int], Awaitable[bytes]]  # reads up to n bytes; b"" at the end

router = APIRouter(prefix=PREFIX)


def safe_name(filename: Text) -> Text:
    """An uploaded file's name made safe to store: its last path part, letters of any
    script, digits, `. - _` and spaces kept, the rest `_`.

    Raises:
        InputError: for an empty name, or a type ingestion cannot read.
    """
    name = unicodedata.normalize("NFC", PurePosixPath(filename.replace("\\", "/")).name)
    name = _UNSAFE.sub("_", name).strip(" .")[:120]
    suffix = PurePosixPath(name).suffix.lower()
    if not name or name.startswith(".") or not PurePosixPath(name).stem:
        raise InputError(f"The file name {filename!r} cannot be used; rename the file.")
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{name}: this type cannot be indexed; upload "
                         f"{', '.join(SUPPORTED_SUFFIXES)} files.")
    return name


async def save_uploads(services: ApiServices, principal: Principal,
                       files: List[Tuple[Text, Reader]]) -> Tuple[List[Text], Job]:
    """Saves documents under `uploads/` and queues their indexing. Every name is
    checked before anything is written; a file over the limit leaves nothing.

    Raises:
        InputError: for too many files, a bad or repeated name, an empty file, or
            one over UPLOAD_MAX_MB.
    """
    principal.require("knowledge:write")
    if not files:
        raise InputError("Choose at least one document to upload.")
    if len(files) > MAX_FILES:
        raise InputError(f"At most {MAX_FILES} files per upload.")
    names = [safe_name(name) for name, _ in files]
    if len(set(names)) != len(names):
        raise InputError("Two files have the same name.")
    folder = services.knowledge_dir / UPLOADS
    saved = [await _save(name, read, folder, services.max_upload_bytes)
             for name, (_, read) in zip(names, files, strict=True)]
    job = await off_loop(services.jobs.submit, "ingest", {"uploaded": saved},
                         principal.subject)
    logger.info("api.uploaded", extra={"files": len(saved), "job": job.id})
    return saved, job


async def _save(name: Text, read: Reader, folder: Path, limit: int) -> Text:
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := await read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise InputError(f"{name} is larger than {limit // (1024 * 1024)} MB "
                                     f"(UPLOAD_MAX_MB); split it or raise the limit.")
                out.write(chunk)
        if size == 0:
            raise InputError(f"{name} is empty.")
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{UPLOADS}/{name}"


@router.get("/documents", tags=["knowledge"])
async def documents(services: Services,
                    principal: Principal = Depends(needs("knowledge:read"))
                    ) -> Dict[Text, Any]:
    """The indexed documents and the knowledge base's version."""
    indexed = await off_loop(services.documents.indexed_documents)
    version = await off_loop(services.documents.version)
    return {"version": version, "documents": [
        {"source": source, "content_hash": digest}
        for source, digest in sorted(indexed.items())]}


@router.get("/documents/{source:path}", tags=["knowledge"])
async def read_document(source: str, services: Services,
                        principal: Principal = Depends(needs("knowledge:read", "chat"))
                        ) -> FileResponse:
    """One document as it was indexed (a source link's target, so anyone who may
    chat may open it): text as plain text (HTML too, never rendered), a PDF as a
    download."""
    root = services.knowledge_dir.resolve()
    path = (root / source).resolve()
    if root not in path.parents or not path.is_file() or \
            path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise NotFoundError(f"No document {source!r}; see GET /v1/documents.")
    pdf = path.suffix.lower() == ".pdf"
    return FileResponse(
        path, media_type="application/pdf" if pdf else "text/plain; charset=utf-8",
        filename=path.name, content_disposition_type="attachment" if pdf else "inline",
        headers={"X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "sandbox; default-src 'none'"})


@router.post("/documents", tags=["knowledge"], status_code=202)
async def upload(services: Services,
                 files: List[UploadFile] = File(..., description="documents to index"),
                 principal: Principal = Depends(needs("knowledge:write"))
                 ) -> Dict[Text, Any]:
    """Saves the documents and queues their indexing; follow the job for progress.
    A file with the name of an earlier upload replaces it."""
    saved, job = await save_uploads(services, principal,
                                    [(f.filename or "", f.read) for f in files])
    return {"saved": saved, "job": job.to_payload()}


@router.delete("/documents/{source:path}", tags=["knowledge"], status_code=202)
async def delete_document(source: str, services: Services,
                          principal: Principal = Depends(needs("knowledge:write")),
                          folder: bool = Query(False, description=(
                              "also a document of the folder itself, not an upload "
                              "(administrators only)"))
                          ) -> Dict[Text, Any]:
    """Removes an uploaded document (`uploads/…`) from the folder and the index (a
    job); a document of the folder itself only with `folder=true`, by an
    administrator."""
    indexed = await off_loop(services.documents.indexed_documents)
    root = services.knowledge_dir.resolve()
    path = (root / source).resolve()
    if root not in path.parents:
        raise InputError("Give a document's source path as listed by GET /v1/documents.")
    if (root / UPLOADS).resolve() not in path.parents:
        if not folder:
            raise PermissionDeniedError(
                f"{source!r} is not an upload: only documents under {UPLOADS}/ are deleted "
                f"here. An administrator can add folder=true, or run `make unindex`.")
        principal.require("admin")
    if source not in indexed and not path.is_file():
        raise NotFoundError(f"No document {source!r}; see GET /v1/documents.")
    if path.is_file():
        path.unlink()
    job = await off_loop(services.jobs.submit, "ingest", {"delete": [source]},
                         principal.subject)
    return {"deleted": source, "job": job.to_payload()}


@router.post("/documents/reindex", tags=["knowledge"], status_code=202)
async def reindex(services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Drops the index and indexes the folder again (a job)."""
    job = await off_loop(services.jobs.submit, "reindex", {}, principal.subject)
    return {"job": job.to_payload()}
