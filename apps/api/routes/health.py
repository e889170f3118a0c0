"""Whether the service is up and who is calling: `/v1/health` (liveness), `/v1/ready`
(readiness: the database, the knowledge store and Rasa), `/v1/me`, and the Prometheus
metrics at `/metrics` (outside `/v1` and the OpenAPI document)."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Dict, Text

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from apps.api import errors
from apps.api.deps import PREFIX, Services, caller
from apps.api.services import off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.metrics import FORWARDING_HEADERS, may_read

router = APIRouter(prefix=PREFIX)
metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: Services) -> Response:
    """Prometheus's text format, for METRICS_TOKEN as a bearer token (or, without
    one, for a loopback client that no proxy forwarded)."""
    client = request.client.host if request.client else None
    if not may_read(request.headers.get("authorization"), client,
                    services.metrics_token,
                    any(h in request.headers for h in FORWARDING_HEADERS)):
        return JSONResponse(errors.body("unauthenticated", "Metrics need METRICS_TOKEN "
                                        "as a bearer token."), status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    recorder: PrometheusRecorder = request.app.state.recorder
    content, content_type = recorder.exposition()
    return Response(content, media_type=content_type)


@router.get("/health", tags=["health"])
async def health() -> Dict[Text, Text]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", tags=["health"])
async def ready(services: Services) -> JSONResponse:
    """Readiness: the API's database, the knowledge store and Rasa answer."""
    checks = await asyncio.gather(
        _safe(off_loop(services.database_ready)),
        _safe(off_loop(services.documents.version)), _safe(services.chat.ready()))
    parts = {"database": bool(checks[0]), "knowledge": bool(checks[1]),
             "rasa": bool(checks[2])}
    ok = all(parts.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": parts},
                        status_code=200 if ok else 503)


@router.get("/me", tags=["access"])
async def me(principal: Principal = Depends(caller)) -> Dict[Text, Any]:
    """Who the caller is and what they may do; `mode` says when it is the local
    single-user mode."""
    return {"subject": principal.subject, "name": principal.name,
            "roles": sorted(principal.roles), "scopes": sorted(principal.granted),
            "groups": sorted(principal.groups), "via": principal.via,
            "mode": "local single-user" if principal.via == "local" else "signed in"}


async def _safe(call: Awaitable[Any]) -> Any:
    """The call's result, or None when it raised (a readiness check)."""
    try:
        return await call
    except Exception:  # noqa: BLE001 - any failure means not ready
        return None
