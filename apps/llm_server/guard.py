"""What the LLM server puts in front of its routes: a key on every request and a
body size limit (ASGI middleware, no framework)."""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Text, Tuple

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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
            await _too_large(send, self.limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLargeError:
            if not started:
                await _too_large(send, self.limit)


class BodyTooLargeError(Exception):
    """Raised by `BodyLimit`'s receive once a body passes the limit; a handler that
    reads the body answers 413 (`BodyLimit` does when nothing was sent yet)."""


async def _too_large(send: Send, limit: int) -> None:
    await _error(send, 413, f"The request body is over {limit} bytes.",
                 "invalid_request_error")


async def _error(send: Send, status: int, message: Text, kind: Text) -> None:
    """An error in OpenAI's shape: `{"error": {"code", "message", "type"}}`."""
    body = json.dumps({"error": {"code": status, "message": message, "type": kind}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class KeyCheck:
    """ASGI middleware: every HTTP request carries `Authorization: Bearer <key>`,
    checked before its body is read; anything else is answered 401."""

    def __init__(self, app: ASGIApp, api_key: Text) -> None:
        if not api_key.strip():
            raise ValueError("an empty key would let every request through")
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await _error(send, 401, "A valid API key is required "
                             "(Authorization: Bearer LOCAL_LLM_API_KEY).", "authentication_error")
                return
        await self.app(scope, receive, send)


def routes(app: Any) -> List[Tuple[Text, Text]]:
    """Every (path, method) a Starlette app serves."""
    return sorted((route.path, method) for route in app.routes
                  for method in (getattr(route, "methods", None) or {"GET"}))
