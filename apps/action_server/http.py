"""The action server's HTTP app: rasa-sdk's Sanic app with a shared secret, and
the one place where errors become HTTP responses.

Rasa sends the secret configured as `token` in `endpoints.yml` as `?token=...`;
`ACTION_SERVER_TOKEN` holds it here. One check guards every route but the health
check, whatever the path's spelling (`/webhook/`, `//webhook`); the server does
not start without a secret. Bodies are capped, compressed ones too. Error
responses never echo the request (rasa-sdk's default handler returns the tracker).
"""

from __future__ import annotations

import hmac
import logging
import time
import zlib
from typing import Any, Dict, Optional, Sequence, Text, Tuple

from sanic import Request, Sanic, response
from sanic.exceptions import SanicException

from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.errors import AssistantError, ConfigurationError, InputError, ServiceError
from bilingual_assistant.metrics import FORWARDING_HEADERS, may_read, route_label, status_class

logger = logging.getLogger(__name__)

# The only routes answered without the secret: liveness (no data), and the
# metrics, which have their own token (METRICS_TOKEN; else loopback only).
OPEN_PATHS = ("/health", "/metrics")
# A tracker of a long conversation is a few hundred kB; Rasa's own bodies never
# come near this, compressed or not.
MAX_BODY_BYTES = 4 * 1024 * 1024

# The library's errors as HTTP: (status, what the caller is told). The message
# itself is logged, not returned: Rasa shows nothing of it, and it may name hosts.
ERROR_RESPONSES: Tuple[Tuple[type, int, Text], ...] = (
    (InputError, 400, "The action was given input it cannot use."),
    (ServiceError, 503, "A service the action needs is unavailable."),
    (ConfigurationError, 500, "The action server is misconfigured; see its log."),
    (AssistantError, 500, "The action failed."),
)


def _token_of(request: Request) -> Text:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.args.get("token", "")


def error_response(exception: Exception) -> Tuple[int, Text]:
    """The status and message for an exception raised while serving a request."""
    if isinstance(exception, SanicException):
        return exception.status_code, str(exception.message or "error")
    for kind, status, text in ERROR_RESPONSES:
        if isinstance(exception, kind):
            return status, text
    return 500, "The action failed."


def is_open(path: Text) -> bool:
    """Whether a path is answered without the secret: `/health` only, however spelt."""
    canonical = "/" + "/".join(part for part in path.split("/") if part)
    return canonical in OPEN_PATHS


def _inflated_size_exceeds(body: bytes, limit: int) -> bool:
    inflater = zlib.decompressobj()
    try:
        inflater.decompress(body, limit + 1)
    except zlib.error:
        return False  # not deflate after all: rasa-sdk answers 400
    return len(inflater.unconsumed_tail) > 0


def _timed_executor(recorder: PrometheusRecorder) -> Any:
    """rasa-sdk's executor, timing each action by name and outcome."""
    from rasa_sdk.executor import ActionExecutor

    class TimedExecutor(ActionExecutor):
        async def run(self, action_call: Dict[Text, Any], *args: Any, **kwargs: Any) -> Any:
            name = str(action_call.get("next_action") or "")
            name = name if name in self.actions else "unknown"
            started, outcome = time.perf_counter(), "error"
            try:
                result = await super().run(action_call, *args, **kwargs)
                outcome = "ok"
                return result
            finally:
                recorder.observe("assistant_action_seconds", time.perf_counter() - started,
                                 action=name, outcome=outcome)

    return TimedExecutor()


def create_app(actions: Sequence[Any], token: Text,
               recorder: Optional[PrometheusRecorder] = None, metrics_token: Text = "") -> Sanic:
    """The Sanic app serving `actions`.

    Args:
        actions: action instances.
        token: the shared secret.
        recorder: the process's metrics (a new registry by default).
        metrics_token: the token `/metrics` requires; empty: loopback clients only.

    Returns:
        The app, with `/health`, `/metrics`, `/webhook` and `/actions`.

    Raises:
        ConfigurationError: if the secret is empty.
    """
    from rasa_sdk.endpoint import create_app as create_sdk_app

    if not token.strip():
        raise ConfigurationError(
            "ACTION_SERVER_TOKEN is empty: the action server does not run without a "
            "secret. Set it here and for Rasa (`make run` and `make shell` make one)."
        )
    recorder = recorder or PrometheusRecorder("actions")
    executor = _timed_executor(recorder)
    for action in actions:
        executor.register_action(action)
    app = create_sdk_app(executor, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES

    @app.get("/metrics")
    async def metrics(request: Request) -> response.HTTPResponse:
        if not may_read(request.headers.get("authorization"), request.ip, metrics_token,
                        any(h in request.headers for h in FORWARDING_HEADERS)):
            return response.json({"error": "Unauthorized"}, status=401)
        body, content_type = recorder.exposition()
        return response.raw(body, content_type=content_type)

    @app.on_request
    async def start_clock(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    @app.on_response
    async def stop_clock(request: Request, answer: response.HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        if started is not None:
            route = request.route.path if request.route is not None else None
            recorder.observe("assistant_http_request_seconds", time.perf_counter() - started,
                             route=route_label(route), method=request.method,
                             status=status_class(answer.status), channel="")

    @app.on_request
    async def check_token(request: Request) -> Optional[response.HTTPResponse]:
        if is_open(request.path):
            return None
        if not hmac.compare_digest(_token_of(request).encode(), token.encode()):
            logger.warning("action_server.unauthorized", extra={"path": request.path[:200]})
            return response.json({"error": "Unauthorized"}, status=401)
        if request.headers.get("content-encoding", "").lower() == "deflate" and (
            _inflated_size_exceeds(request.body, MAX_BODY_BYTES)
        ):
            return response.json({"error": "The request body is too large."}, status=413)
        return None

    async def safe_errors(request: Request, exception: Exception) -> response.HTTPResponse:
        status, text = error_response(exception)
        if status >= 500:
            recorder.count("assistant_errors_total", type=type(exception).__name__,
                           where="action_server")
            logger.error(
                "action_server.error",
                extra={"path": request.path, "error": type(exception).__name__,
                       "status": status},
                exc_info=exception,
            )
        return response.json({"error": text}, status=status)

    # Replaces rasa-sdk's handler, which returns the request body (the tracker);
    # tests/apps/action_server checks that it is gone.
    app.error_handler.cached_handlers.pop((Exception, None), None)
    app.error_handler.add(Exception, safe_errors)
    return app
