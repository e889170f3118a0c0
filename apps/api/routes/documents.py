"""`/v1/documents`: the indexed documents, one document as indexed, uploads (saved
under the knowledge folder's `uploads/` and indexed by a job; the web UI's admin page
uploads the same way through `Operations`), deletion and reindexing.

A caller sees, reads and deletes only the documents their groups may read
(`knowledge/access.py`; an administrator, every document); any other answers 404, as
a document that does not exist would."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import ApiServices, off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.errors import (
    DocumentError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from bilingual_assistant.jobs.models import Job
from bilingual_assistant.knowledge.access import check_groups, readers_of, write_readers
from bilingual_assistant.knowledge.documents import SUPPORTED_SUFFIXES

logger = logging.getLogger("apps.api")

MAX_FILES = 50  # per upload
UPLOADS = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)

Reader = Callable[[int], Awaitable[bytes]]  # reads up to n bytes; b"" at the end

router = APIRouter(prefix=PREFIX)


def no_document(source: Text) -> NotFoundError:
    """The answer for a document that does not exist or that the caller may not
    read: the same, so that a name reveals nothing."""
    return NotFoundError(f"No document {source!r}; see GET /v1/documents.")


def may_read(principal: Principal, path: Path, root: Path) -> bool:
    """Whether `principal` may read the document at `path`, as its access files
    stand now. An access file that cannot be read hides the document from all but
    administrators (ingestion leaves such a document out of the index too)."""
    reader = principal.reader
    if reader.everything:
        return True
    try:
        return reader.may_read(readers_of(path, root))
    except DocumentError:
        return False


def check_named_groups(principal: Principal, groups: Optional[Sequence[Text]]) -> None:
    """Only an administrator names a group they are not in (else an upload could
    hand a document to a group, or hide it from everyone but that group).

    Raises:
        PermissionDeniedError: naming the first group the caller is not in.
    """
    if groups is None or principal.reader.everything:
        return
    for group in groups:
        if group not in principal.groups:
            yours = ", ".join(sorted(principal.groups)) or "none"
            raise PermissionDeniedError(
                f"You are not in the group {group!r}, so you cannot give it a document. "
                f"Name only your own groups ({yours}), or ask an administrator.")


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
                       files: List[Tuple[Text, Reader]],
                       groups: Optional[Sequence[Text]] = None) -> Tuple[List[Text], Job]:
    """Saves documents under `uploads/` and queues their indexing. Every name is
    checked before anything is written; a file over the limit leaves nothing.

    Args:
        groups: who may read the documents, named in each one's own access file
            before the document is in place (never readable by everyone meanwhile);
            None keeps a replaced upload's access file (a new upload's folder
            decides), empty removes it so that the folder decides.

    Raises:
        InputError: for too many files, a bad or repeated name, an empty file, one
            over UPLOAD_MAX_MB, or a name that is not a group name.
        PermissionDeniedError: for a group the uploader is not in, or a name taken
            by a document they may not read (administrators may both).
    """
    principal.require("knowledge:write")
    if not files:
        raise InputError("Choose at least one document to upload.")
    if len(files) > MAX_FILES:
        raise InputError(f"At most {MAX_FILES} files per upload.")
    names = [safe_name(name) for name, _ in files]
    if len(set(names)) != len(names):
        raise InputError("Two files have the same name.")
    chosen = None if groups is None else check_groups(
        groups if isinstance(groups, str) else list(groups), "groups")
    check_named_groups(principal, chosen)
    folder = services.knowledge_dir / UPLOADS
    for name in names:
        if (folder / name).is_file() and not may_read(principal, folder / name,
                                                      services.knowledge_dir):
            raise PermissionDeniedError(f"{UPLOADS}/{name} is taken; rename your file and "
                                        f"upload it again.")
    saved = [await _save(name, read, folder, services.max_upload_bytes, chosen)
             for name, (_, read) in zip(names, files, strict=True)]
    job = await off_loop(services.jobs.submit, "ingest", {"uploaded": saved},
                         principal.subject)
    logger.info("api.uploaded", extra={"files": len(saved), "job": job.id})
    return saved, job


async def _save(name: Text, read: Reader, folder: Path, limit: int,
                groups: Optional[Sequence[Text]] = None) -> Text:
    """Writes one upload to a hidden file, names its groups (unless None), then moves
    it into place."""
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
        if groups is not None:
            name_readers(folder / name, groups)
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{UPLOADS}/{name}"


def name_readers(target: Path, groups: Sequence[Text]) -> None:
    """Names the groups of an upload about to be moved to `target`. A file it
    replaces goes first: else, for a moment, its old text would be readable by the
    new groups or the new text by the old ones (reads find nothing meanwhile)."""
    if target.is_file():
        target.unlink()
    write_readers(target, groups)


@router.get("/documents", tags=["knowledge"])
async def documents(services: Services,
                    principal: Principal = Depends(needs("knowledge:read"))
                    ) -> Dict[Text, Any]:
    """The indexed documents and the knowledge base's version.

    Only the documents the caller may read, each with the groups that may read it
    (empty: everyone)."""
    indexed = await off_loop(services.documents.indexed_documents)
    readers = await off_loop(services.documents.document_readers)
    version = await off_loop(services.documents.version)
    reader = principal.reader
    return {"version": version, "documents": [
        {"source": source, "content_hash": digest, "groups": list(readers.get(source, ()))}
        for source, digest in sorted(indexed.items())
        if reader.may_read(readers.get(source, ()))]}


@router.get("/documents/{source:path}", tags=["knowledge"])
async def read_document(source: str, services: Services,
                        principal: Principal = Depends(needs("knowledge:read", "chat"))
                        ) -> FileResponse:
    """One document as it was indexed (a source link's target, so anyone who may
    chat may open it): text as plain text (HTML too, never rendered), a PDF as a
    download.

    Only a document the caller may read: any other is 404, as if it did not exist."""
    root = services.knowledge_dir.resolve()
    path = (root / source).resolve()
    if root not in path.parents or not path.is_file() or \
            path.suffix.lower() not in SUPPORTED_SUFFIXES or \
            not await off_loop(may_read, principal, path, root):
        raise no_document(source)
    pdf = path.suffix.lower() == ".pdf"
    return FileResponse(
        path, media_type="application/pdf" if pdf else "text/plain; charset=utf-8",
        filename=path.name, content_disposition_type="attachment" if pdf else "inline",
        headers={"X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "sandbox; default-src 'none'"})


@router.post("/documents", tags=["knowledge"], status_code=202)
async def upload(request: Request, services: Services,
                 files: List[UploadFile] = File(..., description="documents to index"),
                 groups: Optional[str] = Form(None, max_length=8000, description=(
                     "who may read them: `hr,finance`; empty: the folder decides; "
                     "absent: a replaced upload keeps its groups")),
                 principal: Principal = Depends(needs("knowledge:write"))
                 ) -> Dict[Text, Any]:
    """Saves the documents and queues their indexing; follow the job for progress.
    A file with the name of an earlier upload replaces it.

    `groups` names who may read them; only an administrator names a group they are
    not in or replaces an upload they may not read."""
    if groups is None and "groups" in await request.form():
        groups = ""  # sent empty (FastAPI reads that as absent): the folder decides
    named = None if groups is None else check_groups(groups, "groups")
    saved, job = await save_uploads(services, principal,
                                    [(f.filename or "", f.read) for f in files], named)
    return {"saved": saved, "groups": None if named is None else list(named),
            "job": job.to_payload()}


@router.delete("/documents/{source:path}", tags=["knowledge"], status_code=202)
async def delete_document(source: str, services: Services,
                          principal: Principal = Depends(needs("knowledge:write")),
                          folder: bool = Query(False, description=(
                              "also a document of the folder itself, not an upload "
                              "(administrators only)"))
                          ) -> Dict[Text, Any]:
    """Removes an uploaded document (`uploads/…`) from the folder and the index (a
    job); a document of the folder itself only with `folder=true`, by an
    administrator.

    Its own access file goes with it; a document the caller may not read is 404."""
    indexed = await off_loop(services.documents.indexed_documents)
    readers = await off_loop(services.documents.document_readers)
    root = services.knowledge_dir.resolve()
    path = (root / source).resolve()
    if root not in path.parents:
        raise InputError("Give a document's source path as listed by GET /v1/documents.")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES or \
            not principal.reader.may_read(readers.get(source, ())) or \
            not await off_loop(may_read, principal, path, root):
        raise no_document(source)
    if (root / UPLOADS).resolve() not in path.parents:
        if not folder:
            raise PermissionDeniedError(
                f"{source!r} is not an upload: only documents under {UPLOADS}/ are deleted "
                f"here. An administrator can add folder=true, or run `make unindex`.")
        principal.require("admin")
    if source not in indexed and not path.is_file():
        raise no_document(source)
    if path.is_file():
        path.unlink()
    write_readers(path, ())  # its own access file, after it (never everyone's meanwhile)
    job = await off_loop(services.jobs.submit, "ingest", {"delete": [source]},
                         principal.subject)
    return {"deleted": source, "job": job.to_payload()}


@router.post("/documents/reindex", tags=["knowledge"], status_code=202)
async def reindex(services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Drops the index and indexes the folder again (a job)."""
    job = await off_loop(services.jobs.submit, "reindex", {}, principal.subject)
    return {"job": job.to_payload()}
