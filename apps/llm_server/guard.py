"""What the LLM server puts in front of llama.cpp's app: a key on every route, no
CORS headers, no unauthenticated documentation routes, and a body size limit."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Text, Tuple

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# FastAPI's own documentation routes, which llama.cpp's key does not cover.
DOCUMENTATION_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
# A grounded prompt is a few kB; this leaves room for long conversations.
MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """ASGI middleware: answers 413 to bodies over `limit` bytes, whether or not
    they declare their length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: Dict[bytes, bytes] = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLargeError()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLargeError:
            if not started:
                await _too_large(send)


class _BodyTooLargeError(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = b'{"error": "The request body is too large."}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def lock_down(app: Any) -> Any:
    """Removes the permissive CORS middleware and the documentation routes of a
    FastAPI app, and caps request bodies. llama.cpp checks the key itself."""
    from fastapi.middleware.cors import CORSMiddleware

    app.user_middleware = [m for m in app.user_middleware if m.cls is not CORSMiddleware]
    app.router.routes = [r for r in app.router.routes
                         if getattr(r, "path", None) not in DOCUMENTATION_PATHS]
    app.add_middleware(BodyLimit)
    app.middleware_stack = None  # rebuilt on the first request, without CORS
    return app


def routes(app: Any) -> List[Tuple[Text, Text]]:
    """Every (path, method) the app serves, included routers flattened."""
    found: List[Tuple[Text, Text]] = []

    def walk(items: Any, prefix: Text) -> None:
        for route in items:
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI's included router
                context = getattr(route, "include_context", None)
                walk(original.routes, prefix + (getattr(context, "prefix", "") or ""))
            elif isinstance(getattr(route, "path", None), str):
                for method in sorted(getattr(route, "methods", None) or {"GET"}):
                    found.append((prefix + route.path, method))

    walk(app.router.routes, "")
    return sorted(found)
