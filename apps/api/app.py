"""The API service's app (`/v1/…`, OpenAPI at `/v1/openapi.json`, docs at
`/v1/docs`): its errors and middleware (the local mode's host and origin guard among
them), and the routers of `apps/api/routes/` (chat
and conversation history, hit testing, knowledge documents, jobs, the model,
feedback, API keys, sign-in, health); their dependencies are in `apps/api/deps.py`."""

from __future__ import annotations

from typing import Callable, Text

from fastapi import FastAPI

from apps.api import errors
from apps.api.middleware import BodyLimit, LocalModeGuard, RequestTimer, SecurityHeaders
from apps.api.operations import Operations
from apps.api.routes import (
    auth,
    chat,
    conversations,
    documents,
    feedback,
    health,
    hit_testing,
    jobs,
    keys,
    model,
)
from apps.api.services import ApiServices
from bilingual_assistant.adapters.prometheus import PrometheusRecorder

VERSION = "1"
MAX_JSON_BYTES = 1024 * 1024
# Included as they are: each router carries the `/v1` prefix itself (see deps.PREFIX).
ROUTERS = (health.metrics_router, health.router, auth.router, chat.router,
           conversations.router, hit_testing.router, documents.router, keys.router,
           model.router, jobs.router, feedback.router)


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
    app.state.services, app.state.recorder = services, recorder
    app.state.operations = Operations(services)  # the web UI does the same things the same way
    app.add_middleware(BodyLimit, limit_for=body_limits(services.max_upload_bytes))
    if services.local_user and services.sign_in is None:
        app.add_middleware(LocalModeGuard)
    app.add_middleware(SecurityHeaders)
    # Added last, so outermost: refusals by the guards and the body limit are timed too.
    app.add_middleware(RequestTimer, recorder=recorder)
    for router in ROUTERS:
        app.include_router(router)
    return app


def body_limits(max_upload_bytes: int) -> Callable[[Text], int]:
    """The largest body each path takes: a whole upload's for the API's and the
    admin page's uploads, 1 MB else (the chat page takes no files, and Gradio's
    upload route, on every page, would otherwise spool any size to disk)."""
    largest_upload = max_upload_bytes * documents.MAX_FILES + 1024 * 1024

    def body_limit(path: Text) -> int:
        uploads = path in ("/v1/documents", "/admin/gradio_api/upload")
        return largest_upload if uploads else MAX_JSON_BYTES

    return body_limit
