"""The one place where the API maps the library's errors to HTTP: JSON bodies
`{"error": {"type", "message"}}` with a message that says what to do."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text, Tuple

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from bilingual_assistant.errors import (
    AssistantError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
)
from bilingual_assistant.metrics import NoRecorder, Recorder

logger = logging.getLogger("apps.api")

# Most specific first: (error class, HTTP status, type shown to the caller).
STATUSES: Tuple[Tuple[type, int, Text], ...] = (
    (AuthenticationError, 401, "unauthenticated"),
    (PermissionDeniedError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (InputError, 400, "bad_request"),
    (ServiceError, 503, "unavailable"),
    (ConfigurationError, 500, "misconfigured"),
    (AssistantError, 500, "internal"),
)


def body(kind: Text, message: Text, **extra: Any) -> Dict[Text, Any]:
    """The error body every route returns."""
    return {"error": {"type": kind, "message": message, **extra}}


def status_of(error: AssistantError) -> Tuple[int, Text]:
    """The HTTP status and error type for a library error."""
    for cls, status, kind in STATUSES:
        if isinstance(error, cls):
            return status, kind
    return 500, "internal"


def install(app: FastAPI, recorder: Optional[Recorder] = None) -> None:
    """Registers the handlers: library errors, validation (422), HTTP errors, and
    anything else (500, logged, never the exception's text); errors answered with a
    5xx are counted in `recorder`."""
    counted = recorder or NoRecorder()

    @app.exception_handler(AssistantError)
    async def _library(request: Request, error: AssistantError) -> JSONResponse:
        status, kind = status_of(error)
        log = logger.warning if status >= 500 else logger.info
        log("api.error", extra={"path": request.url.path, "status": status,
                                "error": error.__class__.__name__})
        if status >= 500:
            counted.count("assistant_errors_total", type=type(error).__name__, where="api")
        # A configuration error's text may name files and hosts: logged, not shown.
        message = ("The service is misconfigured; see its log." if status == 500
                   else str(error))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body(kind, message), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
             "problem": e.get("msg", "invalid")}
            for e in error.errors()
        ]
        summary = "; ".join(f"{p['field'] or 'body'}: {p['problem']}" for p in problems[:5])
        return JSONResponse(body("invalid_request", f"The request is not valid: {summary}.",
                                 problems=problems), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http")
        return JSONResponse(body(kind, str(error.detail)), status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("api.unexpected", extra={"path": request.url.path})
        counted.count("assistant_errors_total", type=type(error).__name__, where="api")
        return JSONResponse(body("internal", "The service failed; see its log."),
                            status_code=500)
