"""The API service's routes (`/v1/…`, OpenAPI at `/v1/openapi.json`, docs at
`/v1/docs`): chat and conversation history, hit testing, knowledge documents, jobs,
feedback, API keys, sign-in, health."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path as FilePath
from pathlib import PurePosixPath
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Literal,
    Optional,
    Protocol,
    Text,
    Tuple,
)

from fastapi import APIRouter, Depends, FastAPI, File, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator
from starlette.routing import Match

from apps.api import errors
from assistant.access.keys import ApiKeys, KeyRecord
from assistant.access.oidc import OidcClient
from assistant.access.principal import LOCAL_USER, SCOPES, Principal
from assistant.access.sessions import Sessions, SessionStore
from assistant.adapters.prometheus import PrometheusRecorder
from assistant.adapters.rasa_rest import Reply
from assistant.conversations.history import ChatHistory
from assistant.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
)
from assistant.feedback.models import Feedback
from assistant.feedback.service import FeedbackService
from assistant.jobs.models import Job
from assistant.jobs.service import Jobs
from assistant.knowledge.documents import SUPPORTED_SUFFIXES
from assistant.knowledge.hit_testing import MAX_QUESTION_CHARS, MAX_QUESTIONS, HitTester
from assistant.metrics import FORWARDING_HEADERS, may_read, route_label, status_class

logger = logging.getLogger("apps.api")

VERSION = "1"
MAX_MESSAGE_CHARS = 4000
MAX_FILES = 50  # per upload
MAX_JSON_BYTES = 1024 * 1024
_CONVERSATION = r"^[A-Za-z0-9_-]{1,64}$"


class Chat(Protocol):
    """Rasa's REST channel (`RasaChat`)."""

    async def send(self, sender: Text, message: Text,
                   metadata: Optional[Dict[Text, Any]] = None) -> List[Reply]:
        """One turn; the assistant's replies."""

    async def ready(self) -> bool:
        """Whether Rasa answers."""

    async def understand(self, text: Text) -> Optional[Dict[Text, Any]]:
        """Rasa's intent for a message (`name`, `confidence`), or None."""


class Documents(Protocol):
    """The knowledge store's documents (`MilvusKnowledgeStore`)."""

    def indexed_documents(self) -> Dict[Text, Text]:
        """Source path -> content hash."""

    def version(self) -> Text:
        """The knowledge base's version."""


@dataclass
class SignIn:
    """Sign-in with an identity provider, and the sessions it opens."""

    oidc: OidcClient
    sessions: Sessions
    logins: SessionStore  # pending sign-ins (state, nonce, PKCE verifier)
    public_url: Text  # the API as browsers reach it

    @property
    def secure(self) -> bool:
        """Whether cookies are `Secure` (an https address)."""
        return self.public_url.startswith("https://")

    @property
    def origin(self) -> Text:
        """The one web origin whose pages may send the session cookie with changes."""
        scheme, _, rest = self.public_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


COOKIE = "assistant_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class ApiServices:
    """What the routes use, built once by `apps/api/wiring.py`."""

    keys: ApiKeys
    hit_tests: HitTester
    chat: Chat
    documents: Documents
    local_user: bool  # single-user local mode
    database_ready: Callable[[], bool]
    jobs: Jobs
    knowledge_dir: FilePath  # uploads are saved under its `uploads/` folder
    max_upload_bytes: int = 20 * 1024 * 1024
    feedback: Optional[FeedbackService] = None
    history: Optional[ChatHistory] = None  # None: turns are not kept
    sign_in: Optional[SignIn] = None  # None: API keys (and local mode) only
    metrics: Optional[PrometheusRecorder] = None  # None: a registry of the app's own
    metrics_token: Text = ""  # what `/metrics` requires; empty: loopback clients only


# --- request and response shapes ----------------------------------------------------


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                         description="what the user says")
    conversation: str = Field("default", pattern=_CONVERSATION,
                              description="one of the caller's conversations")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is blank")
        return value


class Source(BaseModel):
    number: int
    title: str
    source: str


class ChatMessage(BaseModel):
    text: str = ""
    sources: List[Source] = Field(default_factory=list,
                                  description="a knowledge answer's numbered sources")
    buttons: List[Dict[str, Any]] = Field(default_factory=list)
    image: Optional[str] = None


class ChatResponse(BaseModel):
    conversation: str
    messages: List[ChatMessage]


class HitTestRequest(BaseModel):
    questions: List[str] = Field(min_length=1, max_length=MAX_QUESTIONS,
                                 description="one question, or a batch")
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    top_k: int = Field(5, ge=1, le=20)

    @field_validator("questions")
    @classmethod
    def _sizes(cls, questions: List[str]) -> List[str]:
        for number, question in enumerate(questions, start=1):
            if not question.strip():
                raise ValueError(f"question {number} is blank")
            if len(question) > MAX_QUESTION_CHARS:
                raise ValueError(f"question {number} is over {MAX_QUESTION_CHARS} characters")
        return questions


class NewKeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    scopes: List[Literal[SCOPES]] = Field(min_length=1)  # type: ignore[valid-type]
    days: Optional[float] = Field(None, gt=0, le=3650, description="lifetime; none: no expiry")


class FeedbackRequest(BaseModel):
    conversation: str = Field("default", pattern=_CONVERSATION)
    rating: Literal[1, -1] = Field(description="1: thumbs up; -1: thumbs down")
    reason: str = Field("", max_length=1000)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                         description="the user's message the reply answered")
    reply: str = Field(min_length=1, max_length=20000, description="the assistant's reply")
    sources: List[Source] = Field(default_factory=list, max_length=20)


class IntentFix(BaseModel):
    intent: str = Field(min_length=1, max_length=100)


class AnswerFix(BaseModel):
    answer: str = Field(min_length=1, max_length=4000)


class Note(BaseModel):
    note: str = Field("", max_length=1000)


class NewCuratedAnswer(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=4000)


def _key_payload(record: KeyRecord, now: float) -> Dict[Text, Any]:
    def when(seconds: Optional[float]) -> Optional[Text]:
        return None if seconds is None else dt.datetime.fromtimestamp(
            seconds, dt.UTC).isoformat(timespec="seconds")

    return {"id": record.id, "name": record.name, "scopes": list(record.scopes),
            "state": record.state(now), "created_at": when(record.created_at),
            "expires_at": when(record.expires_at), "revoked_at": when(record.revoked_at),
            "last_used_at": when(record.last_used_at)}


UPLOADS = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


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


async def off_loop(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A blocking call (the database, the knowledge store) on a worker thread."""
    return await asyncio.to_thread(function, *args, **kwargs)


Reader = Callable[[int], Awaitable[bytes]]  # reads up to n bytes; b"" at the end


class Operations:
    """What the routes and the web UI both do, over the services: who is calling,
    a chat turn (kept in the history), a rating, an upload."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def identify(self, request: Request) -> Principal:
        """The caller: an API key, a signed-in browser's session, or the local user.

        Raises:
            AuthenticationError: for no or bad credentials.
            PermissionDeniedError: for a signed-in browser's change sent from another
                site's page.
        """
        services, sign_in = self.services, self.services.sign_in
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError(
                    "Send the API key as `Authorization: Bearer ba_…`.")
            return services.keys.authenticate(token)
        cookie = request.cookies.get(COOKIE)
        if sign_in is not None and cookie:
            principal = sign_in.sessions.principal(cookie)
            # A page of another site cannot make a signed-in browser change anything.
            if request.method not in SAFE_METHODS and \
                    request.headers.get("origin", "") != sign_in.origin:
                raise PermissionDeniedError(
                    "This request did not come from the assistant's own pages (Origin "
                    "header); it was refused.")
            return principal
        if services.local_user and sign_in is None:
            return LOCAL_USER
        raise AuthenticationError(
            "Sign in (GET /v1/auth/login) or send an API key as `Authorization: Bearer "
            "ba_…`." if sign_in else
            "This service needs an API key: send `Authorization: Bearer ba_…` "
            "(an administrator makes one with `python -m apps.cli.api_keys create`).")

    async def converse(self, principal: Principal, conversation: Text, message: Text
                       ) -> ChatResponse:
        """One turn with Rasa as `principal`, kept in their history."""
        principal.require("chat")
        sender = f"{principal.subject}:{conversation}"
        replies = await self.services.chat.send(sender, message)
        response = ChatResponse(conversation=conversation,
                                messages=[_message(r) for r in replies])
        if self.services.history is not None:
            try:
                await off_loop(self.services.history.record, principal.subject,
                               conversation, message,
                               [m.model_dump() for m in response.messages])
            except ServiceError as error:  # the reply still reaches the person
                logger.warning("api.history_not_kept", extra={"error": str(error)})
        return response

    async def rate(self, principal: Principal, conversation: Text, rating: int,
                   reason: Text, message: Text, reply: Text,
                   sources: List[Dict[Text, Any]]) -> Feedback:
        """A thumbs up or down, with what Rasa understands the message as."""
        principal.require("feedback")
        understood = await self.services.chat.understand(message)
        return await off_loop(
            self.reviews().submit, principal.subject, conversation, rating, reason,
            message, reply, sources, (understood or {}).get("name"),
            (understood or {}).get("confidence"))

    async def upload(self, principal: Principal, files: List[Tuple[Text, Reader]]
                     ) -> Tuple[List[Text], Job]:
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
        folder = self.services.knowledge_dir / UPLOADS
        saved = [await self._save(name, read, folder)
                 for name, (_, read) in zip(names, files, strict=True)]
        job = await off_loop(self.services.jobs.submit, "ingest", {"uploaded": saved},
                             principal.subject)
        logger.info("api.uploaded", extra={"files": len(saved), "job": job.id})
        return saved, job

    async def _save(self, name: Text, read: Reader, folder: FilePath) -> Text:
        limit = self.services.max_upload_bytes
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
            FilePath(temporary).unlink(missing_ok=True)
            raise
        return f"{UPLOADS}/{name}"

    def reviews(self) -> FeedbackService:
        """The feedback service, if set up."""
        if self.services.feedback is None:
            raise NotFoundError("Feedback is not set up in this service.")
        return self.services.feedback

    def chat_history(self) -> ChatHistory:
        """The chat log, if kept."""
        if self.services.history is None:
            raise NotFoundError("Conversation history is not kept by this service.")
        return self.services.history


class RequestTimer:
    """Times every HTTP request by its route's pattern (never the requested path),
    method and status class, until the last byte of the response is sent."""

    def __init__(self, app: Any, recorder: PrometheusRecorder) -> None:
        self.app, self.recorder = app, recorder

    def _route(self, scope: Dict[Text, Any]) -> Optional[Text]:
        found = scope.get("route")
        if found is not None:
            return getattr(found, "path", None)
        application = scope.get("app")
        for route in getattr(application, "routes", ()):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", None)
        return None

    async def __call__(self, scope: Dict[Text, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            self.recorder.observe(
                "assistant_http_request_seconds", time.perf_counter() - started,
                route=route_label(self._route(scope)), method=scope.get("method", ""),
                status=status_class(status), channel="api")


class BodyLimit:
    """Refuses a request body larger than its route allows: by its declared size
    before anything reads it, or, sent in chunks without one, as soon as it grows
    past the limit (whatever the route made of the cut-off body, the answer is 413;
    an upload's parts would otherwise be spooled to disk in full first)."""

    def __init__(self, app: Any, limit_for: Callable[[Text], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Dict[Text, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        refusal = JSONResponse(errors.body(
            "too_large", f"The request body is larger than the {limit // (1024 * 1024)} MB "
                         f"allowed here (UPLOAD_MAX_MB per file)."), status_code=413)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await refusal(scope, receive, send)
            return
        seen, over = 0, False

        async def counted() -> Any:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}  # stops the reader at once
            return message

        async def answer(message: Any) -> None:
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await refusal(scope, receive, send)

        await self.app(scope, counted, answer)


# --- the app ------------------------------------------------------------------------


def create_app(services: ApiServices) -> FastAPI:
    """The FastAPI app over `services`."""
    app = FastAPI(
        title="Bilingual assistant API",
        version=VERSION,
        description="Chat with the assistant, test what the knowledge base finds, manage "
                    "documents, jobs and API keys. Authenticate with `Authorization: Bearer "
                    "<API key>`" + (", or sign in at /v1/auth/login" if services.sign_in
                                    else "")
                    + (" (single-user local mode: requests without one act as the local "
                       "administrator)." if services.local_user and not services.sign_in
                       else "."),
        openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None,
    )
    recorder = services.metrics or PrometheusRecorder("api")
    errors.install(app, recorder)
    app.state.services = services
    largest_upload = services.max_upload_bytes * MAX_FILES + 1024 * 1024

    def body_limit(path: Text) -> int:
        uploads = path == "/v1/documents" or path.endswith("/gradio_api/upload")
        return largest_upload if uploads else MAX_JSON_BYTES

    app.add_middleware(BodyLimit, limit_for=body_limit)
    # Added last, so outermost: refusals by the body limit are timed too.
    app.add_middleware(RequestTimer, recorder=recorder)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not may_read(request.headers.get("authorization"), client,
                        services.metrics_token,
                        any(h in request.headers for h in FORWARDING_HEADERS)):
            return JSONResponse(errors.body("unauthenticated", "Metrics need METRICS_TOKEN "
                                            "as a bearer token."), status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        content, content_type = recorder.exposition()
        return Response(content, media_type=content_type)

    ops = Operations(services)
    app.state.operations = ops  # the web UI does the same things the same way
    sign_in = services.sign_in

    def caller(request: Request) -> Principal:
        return ops.identify(request)

    def needs(scope: Text) -> Callable[[Principal], Principal]:
        def check(principal: Principal = Depends(caller)) -> Principal:
            principal.require(scope)
            return principal
        return check

    v1 = APIRouter(prefix="/v1")

    @v1.get("/health", tags=["health"])
    async def health() -> Dict[Text, Text]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @v1.get("/ready", tags=["health"])
    async def ready() -> JSONResponse:
        """Readiness: the API's database, the knowledge store and Rasa answer."""
        checks = await asyncio.gather(
            _safe(off_loop(services.database_ready)),
            _safe(off_loop(services.documents.version)), _safe(services.chat.ready()))
        parts = {"database": bool(checks[0]), "knowledge": bool(checks[1]),
                 "rasa": bool(checks[2])}
        ok = all(parts.values())
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": parts},
                            status_code=200 if ok else 503)

    @v1.get("/auth/login", tags=["access"])
    async def login(next_path: str = Query("/", alias="next", max_length=500)
                    ) -> RedirectResponse:
        """Sends the browser to the identity provider (authorization code + PKCE);
        `next`: the page to return to."""
        if sign_in is None:
            raise NotFoundError("Sign-in is not configured (OIDC_ISSUER).")
        url, pending = await off_loop(sign_in.oidc.start, next_path)
        await off_loop(sign_in.logins.add_login, pending)
        return RedirectResponse(url, status_code=302)

    @v1.get("/auth/callback", tags=["access"])
    async def callback(state: str = Query("", max_length=200),
                       code: str = Query("", max_length=2000),
                       error: str = Query("", max_length=200)) -> RedirectResponse:
        """The provider's redirect back: checks it, opens a session (an HTTP-only
        cookie) and returns to the page the sign-in started from."""
        if sign_in is None:
            raise NotFoundError("Sign-in is not configured (OIDC_ISSUER).")
        if error:
            raise AuthenticationError(f"The identity provider refused the sign-in ({error}).")
        pending = await off_loop(sign_in.logins.take_login, state) if state else None
        principal = await off_loop(sign_in.oidc.finish, pending, state, code)
        token = await off_loop(sign_in.sessions.create, principal)
        logger.info("api.signed_in", extra={"subject": principal.subject,
                                            "roles": ",".join(sorted(principal.roles))})
        response = RedirectResponse(pending.next_path if pending else "/", status_code=302)
        response.set_cookie(COOKIE, token, max_age=int(sign_in.sessions.hours * 3600),
                            httponly=True, secure=sign_in.secure, samesite="lax", path="/")
        return response

    @v1.post("/auth/logout", tags=["access"])
    async def logout(request: Request) -> JSONResponse:
        """Ends the browser's session."""
        cookie = request.cookies.get(COOKIE)
        if sign_in is not None and cookie:
            await off_loop(sign_in.sessions.end, cookie)
        response = JSONResponse({"status": "signed out"})
        response.delete_cookie(COOKIE, path="/")
        return response

    @v1.get("/me", tags=["access"])
    async def me(principal: Principal = Depends(caller)) -> Dict[Text, Any]:
        """Who the caller is and what they may do; `mode` says when it is the local
        single-user mode."""
        return {"subject": principal.subject, "name": principal.name,
                "roles": sorted(principal.roles), "scopes": sorted(principal.granted),
                "via": principal.via,
                "mode": "local single-user" if principal.via == "local" else "signed in"}

    @v1.post("/chat", response_model=ChatResponse, tags=["chat"])
    async def chat(request: ChatRequest,
                   principal: Principal = Depends(needs("chat"))) -> ChatResponse:
        """One message to the assistant; its replies, a knowledge answer's sources as
        data. The conversation is the caller's own (`conversation` names one of
        several)."""
        return await ops.converse(principal, request.conversation, request.message.strip())

    @v1.get("/conversations", tags=["chat"])
    async def conversations(limit: int = Query(50, ge=1, le=200),
                            principal: Principal = Depends(needs("chat"))
                            ) -> Dict[Text, Any]:
        """The caller's own conversations, the most recent first."""
        found = await off_loop(ops.chat_history().conversations, principal.subject, limit)
        return {"conversations": [c.to_payload() for c in found]}

    @v1.get("/conversations/{conversation}", tags=["chat"])
    async def conversation_turns(conversation: str = Path(..., pattern=_CONVERSATION),
                                 limit: int = Query(50, ge=1, le=200),
                                 principal: Principal = Depends(needs("chat"))
                                 ) -> Dict[Text, Any]:
        """One of the caller's conversations: each message and the replies it got,
        oldest first."""
        turns = await off_loop(ops.chat_history().turns, principal.subject, conversation, limit)
        return {"conversation": conversation, "turns": [
            {k: v for k, v in t.to_payload().items() if k != "subject"} for t in turns]}

    @v1.post("/hit-tests", tags=["knowledge"], status_code=201)
    async def hit_test(request: HitTestRequest,
                       principal: Principal = Depends(needs("knowledge:read"))
                       ) -> Dict[Text, Any]:
        """Which passages the assistant would read for each question, with scores;
        the run is kept in the history."""
        run = await off_loop(services.hit_tests.run, request.questions, principal.subject,
                             request.mode, request.top_k)
        return run.to_payload()

    @v1.get("/hit-tests", tags=["knowledge"])
    async def hit_test_history(
            limit: int = Query(20, ge=1, le=100),
            principal: Principal = Depends(needs("knowledge:read"))) -> Dict[Text, Any]:
        """The newest runs, newest first (questions and how many found a passage)."""
        runs = await off_loop(services.hit_tests.history, limit)
        return {"runs": [
            {"id": r.id, "created_at": r.created_at, "subject": r.subject, "mode": r.mode,
             "questions": len(r.results), "answered": sum(q.answered for q in r.results)}
            for r in runs]}

    @v1.get("/hit-tests/{run_id}", tags=["knowledge"])
    async def hit_test_run(run_id: str,
                           principal: Principal = Depends(needs("knowledge:read"))
                           ) -> Dict[Text, Any]:
        """One run with every question's passages."""
        return (await off_loop(services.hit_tests.get, run_id)).to_payload()

    @v1.get("/documents", tags=["knowledge"])
    async def documents(principal: Principal = Depends(needs("knowledge:read"))
                        ) -> Dict[Text, Any]:
        """The indexed documents and the knowledge base's version."""
        indexed = await off_loop(services.documents.indexed_documents)
        version = await off_loop(services.documents.version)
        return {"version": version, "documents": [
            {"source": source, "content_hash": digest}
            for source, digest in sorted(indexed.items())]}

    @v1.get("/documents/{source:path}", tags=["knowledge"])
    async def read_document(source: str,
                            principal: Principal = Depends(needs("knowledge:read"))
                            ) -> FileResponse:
        """One document as it was indexed (a source link's target): text as plain text
        (HTML too, never rendered), a PDF as a download."""
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

    @v1.get("/api-keys", tags=["access"])
    async def list_keys(principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Every API key (never the key itself)."""
        records = await off_loop(services.keys.list)
        now = services.keys.clock()
        return {"keys": [_key_payload(r, now) for r in records]}

    @v1.post("/api-keys", tags=["access"], status_code=201)
    async def new_key(request: NewKeyRequest,
                      principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """A new API key; `key` is shown this once (only its hash is kept)."""
        token, record = await off_loop(services.keys.issue, request.name,
                                       list(request.scopes), request.days)
        logger.info("api.key_issued", extra={"key": record.id, "by": principal.subject})
        return {"key": token, **_key_payload(record, services.keys.clock())}

    @v1.delete("/api-keys/{key_id}", tags=["access"])
    async def revoke_key(key_id: str,
                         principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Revokes a key at once."""
        record = await off_loop(services.keys.revoke, key_id)
        logger.info("api.key_revoked", extra={"key": record.id, "by": principal.subject})
        return _key_payload(record, services.keys.clock())

    @v1.post("/documents", tags=["knowledge"], status_code=202)
    async def upload(files: List[UploadFile] = File(..., description="documents to index"),
                     principal: Principal = Depends(needs("knowledge:write"))
                     ) -> Dict[Text, Any]:
        """Saves the documents and queues their indexing; follow the job for progress.
        A file with the name of an earlier upload replaces it."""
        saved, job = await ops.upload(principal, [(f.filename or "", f.read) for f in files])
        return {"saved": saved, "job": job.to_payload()}

    @v1.delete("/documents/{source:path}", tags=["knowledge"], status_code=202)
    async def delete_document(source: str,
                              principal: Principal = Depends(needs("knowledge:write"))
                              ) -> Dict[Text, Any]:
        """Removes an uploaded document from the folder and the index (a job)."""
        indexed = await off_loop(services.documents.indexed_documents)
        root = services.knowledge_dir.resolve()
        path = (root / source).resolve()
        if root not in path.parents:
            raise InputError("Give a document's source path as listed by GET /v1/documents.")
        if source not in indexed and not path.is_file():
            raise NotFoundError(f"No document {source!r}; see GET /v1/documents.")
        if path.is_file():
            path.unlink()
        job = await off_loop(services.jobs.submit, "ingest", {"delete": [source]},
                             principal.subject)
        return {"deleted": source, "job": job.to_payload()}

    @v1.post("/documents/reindex", tags=["knowledge"], status_code=202)
    async def reindex(principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Drops the index and indexes the folder again (a job)."""
        job = await off_loop(services.jobs.submit, "reindex", {}, principal.subject)
        return {"job": job.to_payload()}

    @v1.post("/model/retrain", tags=["jobs"], status_code=202)
    async def retrain(principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Trains a new model on the current data (with the reviewed examples), checks
        it beside the served one on the held-out messages and test stories, and loads
        it into Rasa only if it is not worse (a job)."""
        job = await off_loop(services.jobs.submit, "retrain", {}, principal.subject)
        return {"job": job.to_payload()}

    @v1.get("/jobs", tags=["jobs"])
    async def list_jobs(limit: int = Query(50, ge=1, le=200),
                        principal: Principal = Depends(needs("knowledge:read"))
                        ) -> Dict[Text, Any]:
        """The newest jobs with their state, progress and error."""
        return {"jobs": [j.to_payload() for j in await off_loop(services.jobs.recent, limit)]}

    @v1.get("/jobs/{job_id}", tags=["jobs"])
    async def get_job(job_id: str, principal: Principal = Depends(needs("knowledge:read"))
                      ) -> Dict[Text, Any]:
        """One job: `state` (queued, running, succeeded, failed), `progress` (0 to 1),
        `message`, `error`."""
        return (await off_loop(services.jobs.get, job_id)).to_payload()

    @v1.post("/jobs/{job_id}/retry", tags=["jobs"], status_code=202)
    async def retry_job(job_id: str, principal: Principal = Depends(needs("knowledge:write"))
                        ) -> Dict[Text, Any]:
        """A new attempt at a failed job."""
        return (await off_loop(services.jobs.retry, job_id, principal.subject)).to_payload()

    @v1.post("/feedback", tags=["feedback"], status_code=201)
    async def give_feedback(request: FeedbackRequest,
                            principal: Principal = Depends(needs("feedback"))
                            ) -> Dict[Text, Any]:
        """A thumbs up or down on one reply, with a reason; a thumbs down goes to the
        review queue with what the assistant understood (Rasa's intent) and the
        sources it gave."""
        item = await ops.rate(principal, request.conversation, request.rating,
                              request.reason, request.message, request.reply,
                              [s.model_dump() for s in request.sources])
        return item.to_payload()

    @v1.get("/feedback", tags=["feedback"])
    async def feedback_queue(status: Literal["open", "resolved", "all"] = "open",
                             limit: int = Query(50, ge=1, le=500),
                             principal: Principal = Depends(needs("admin"))
                             ) -> Dict[Text, Any]:
        """The review queue (open thumbs-downs), or resolved feedback."""
        items = await off_loop(ops.reviews().queue, None if status == "all" else status, limit)
        return {"feedback": [i.to_payload() for i in items]}

    @v1.post("/feedback/{feedback_id}/intent", tags=["feedback"])
    async def fix_intent(feedback_id: str, fix: IntentFix,
                         principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """The message was misunderstood: it becomes a training example of the given
        intent in `data/nlu/reviewed.yml` (learnt at the next retrain)."""
        return (await off_loop(ops.reviews().correct_intent, feedback_id, fix.intent,
                               principal.subject)).to_payload()

    @v1.post("/feedback/{feedback_id}/answer", tags=["feedback"])
    async def fix_answer(feedback_id: str, fix: AnswerFix,
                         principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """The right answer: served from now on for the same or a very similar
        question, before the LLM."""
        return (await off_loop(ops.reviews().write_answer, feedback_id, fix.answer,
                               principal.subject)).to_payload()

    @v1.post("/feedback/{feedback_id}/gap", tags=["feedback"])
    async def mark_gap(feedback_id: str, note: Note,
                       principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """The documents do not cover the question: listed under GET /v1/gaps."""
        return (await off_loop(ops.reviews().mark_gap, feedback_id, note.note,
                               principal.subject)).to_payload()

    @v1.post("/feedback/{feedback_id}/dismiss", tags=["feedback"])
    async def dismiss(feedback_id: str, note: Note,
                      principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Nothing to change."""
        return (await off_loop(ops.reviews().dismiss, feedback_id, note.note,
                               principal.subject)).to_payload()

    @v1.get("/gaps", tags=["feedback"])
    async def gaps(principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Questions marked as not covered by the documents."""
        return {"gaps": [g.to_payload() for g in await off_loop(ops.reviews().gaps)]}

    @v1.get("/intents", tags=["feedback"])
    async def intents(principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """The intents a corrected message may be given."""
        return {"intents": await off_loop(ops.reviews().examples.intents)}

    @v1.get("/curated-answers", tags=["feedback"])
    async def curated(principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """Every curated answer."""
        answers = await off_loop(ops.reviews().store.answers)
        return {"answers": [a.to_payload() for a in answers]}

    @v1.post("/curated-answers", tags=["feedback"], status_code=201)
    async def add_curated(request: NewCuratedAnswer,
                          principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
        """A curated answer for a question, without feedback."""
        return (await off_loop(ops.reviews().add_answer, request.question, request.answer,
                               principal.subject)).to_payload()

    @v1.delete("/curated-answers/{answer_id}", tags=["feedback"])
    async def remove_curated(answer_id: str,
                             principal: Principal = Depends(needs("admin"))
                             ) -> Dict[Text, Any]:
        """Deletes a curated answer."""
        if not await off_loop(ops.reviews().store.remove_answer, answer_id):
            raise NotFoundError(f"No curated answer has the id {answer_id!r}.")
        return {"deleted": answer_id}

    app.include_router(v1)
    return app


async def _safe(call: Awaitable[Any]) -> Any:
    """The call's result, or None when it raised (a readiness check)."""
    try:
        return await call
    except Exception:  # noqa: BLE001 - any failure means not ready
        return None


def _message(reply: Reply) -> ChatMessage:
    answer = reply.get("answer")
    if isinstance(answer, dict) and isinstance(answer.get("text"), str):
        return ChatMessage(text=answer["text"], sources=[
            Source(number=s["number"], title=s["title"], source=s["source"])
            for s in answer.get("sources", [])])
    return ChatMessage(text=reply.get("text", ""), buttons=reply.get("buttons", []),
                       image=reply.get("image"))
