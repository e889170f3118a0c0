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
