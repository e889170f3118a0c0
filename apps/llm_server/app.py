"""The LLM server's HTTP app: OpenAI's chat and text completion routes over an `Engine`.

Served by uvicorn; no CORS headers and no documentation routes. Every route needs
the key (`KeyCheck`) and bodies are capped (`BodyLimit`). Logs carry the route,
status, time and token counts, never a prompt or a reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator, Callable, Dict, Optional, Text

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from apps.llm_server.engine import MODEL_ALIAS, Engine, OnChunk, Result
from apps.llm_server.guard import MAX_BODY_BYTES, BodyLimit, BodyTooLargeError, KeyCheck

logger = logging.getLogger("apps.llm_server")

Method = Callable[[Result, Optional[OnChunk]], Optional[Result]]
_DONE = object()


def error(status: int, message: Text, kind: Text = "invalid_request_error") -> JSONResponse:
    """An error response in OpenAI's shape."""
    return JSONResponse({"error": {"code": status, "message": message, "type": kind}},
                        status_code=status)


def create_app(engine: Engine, api_key: Text, body_limit: int = MAX_BODY_BYTES) -> Any:
    """The app: `/v1/chat/completions`, `/v1/completions`, `/v1/models`, `/health`.

    Raises:
        ValueError: if `api_key` is empty.
    """

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": MODEL_ALIAS, "object": "model", "owned_by": "bilingual-assistant"}]})

    async def chat(request: Request) -> Response:
        return await _run(request, engine.chat)

    async def complete(request: Request) -> Response:
        return await _run(request, engine.complete)

    app = Starlette(routes=[
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", complete, methods=["POST"]),
    ])
    limited = BodyLimit(app, body_limit)
    return _Keyed(KeyCheck(limited, api_key), app)


class _Keyed:
    """The guarded ASGI app, with the inner app's routes visible for checks."""

    def __init__(self, guarded: Any, inner: Any) -> None:
        self.guarded = guarded
        self.routes = inner.routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.guarded(scope, receive, send)


async def _run(request: Request, method: Method) -> Response:
    started = time.monotonic()
    try:
        body = json.loads(await request.body() or b"null")
    except BodyTooLargeError:
        return error(413, "The request body is too large.")
    except (ValueError, UnicodeDecodeError):
        return error(400, "The body is not JSON.")
    if not isinstance(body, dict):
        return error(400, "The body must be a JSON object.")
    if body.get("stream"):
        return StreamingResponse(_stream(method, body), media_type="text/event-stream")
    try:
        result = await asyncio.to_thread(method, body, None)
    except ValueError as problem:
        return error(400, str(problem))
    except Exception:  # noqa: BLE001 - the model failed; the client gets a 500
        logger.exception("llm.failed", extra={"path": request.url.path})
        return error(500, "The model failed; see the LLM server's log.", "server_error")
    result = result or {}
    status = int(result.get("error", {}).get("code", 200)) if "error" in result else 200
    usage: Dict[Text, Any] = result.get("usage") or {}
    logger.info("llm.request", extra={
        "path": request.url.path, "status": status,
        "ms": round((time.monotonic() - started) * 1000),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens")})
    return JSONResponse(result, status_code=status)


async def _stream(method: Method, body: Result) -> AsyncIterator[bytes]:
    """Server-sent events, one per chunk, then `[DONE]`."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def generate() -> None:
        try:
            method(body, put)
        except ValueError as problem:
            put({"error": {"code": 400, "message": str(problem),
                           "type": "invalid_request_error"}})
        except Exception:  # noqa: BLE001 - reported to the client as an error event
            logger.exception("llm.failed", extra={"path": "stream"})
            put({"error": {"code": 500, "message": "The model failed.",
                           "type": "server_error"}})
        finally:
            put(_DONE)

    worker = asyncio.ensure_future(asyncio.to_thread(generate))
    while True:
        item = await queue.get()
        if item is _DONE:
            break
        yield f"data: {json.dumps(item, ensure_ascii=False)}\n\n".encode()
    await worker
    yield b"data: [DONE]\n\n"
