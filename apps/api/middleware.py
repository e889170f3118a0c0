"""The API's ASGI middleware: the request timer (Prometheus) and the body limit."""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from fastapi.responses import JSONResponse
from starlette.routing import Match

from apps.api import errors
from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.metrics import route_label, status_class


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


# Names a browser on this machine uses for the API in local mode. A page of another
# site that has its own name resolve to 127.0.0.1 (DNS rebinding) sends that name.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def host_name(host: Text) -> Text:
    """`Host` without its port, lower-cased (`[::1]:8000` → `[::1]`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class LocalModeGuard:
    """Single-user local mode answers without credentials, so only this machine's
    own names may reach it and only its own pages may change anything: `Host` must
    be 127.0.0.1, localhost or [::1] (closing DNS rebinding), and a change (any
    method but GET, HEAD, OPTIONS, and every WebSocket) sent by a browser must come
    from the same origin (`Origin`, `Sec-Fetch-Site`). Programs on this machine send
    neither header and pass."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[Text, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        problem = None
        if host_name(host) not in LOCAL_HOSTS:
            problem = (f"Local mode answers only requests for 127.0.0.1 or localhost, not "
                       f"{host or 'a request without a Host header'}.")
        elif scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin.lower() not in (f"http://{host}".lower(),
                                                             f"https://{host}".lower()):
                problem = (f"A page of {origin} cannot change anything here; only the "
                           f"assistant's own pages can.")
            elif headers.get("sec-fetch-site") in ("cross-site", "same-site"):
                problem = "A page of another site cannot change anything here."
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await JSONResponse(errors.body("forbidden", problem),
                               status_code=403)(scope, receive, send)


# Sent with every response: no page of this service may be framed by another site
# (clickjacking), and no response is sniffed as another content type.
SECURITY_HEADERS = (
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP response (a second
    Content-Security-Policy header narrows a route's own, it never widens it)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[Text, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS
                         if k == b"content-security-policy" or k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
