"""`GET /metrics` on Rasa's own port, and the timing of every request Rasa serves.

Rasa Open Source exposes no metrics (rasa#6319). Rasa mounts each input channel's
blueprint at `urljoin("/webhooks/", channel.url_prefix())`, so this channel, whose
prefix is the absolute path `/metrics`, is served at `/metrics` itself; when the
server starts it adds request and response middleware to the whole app (Sanic reads
an app's middleware at each request), which time every route: Rasa's HTTP API and
every channel's webhook, whose time is the user's reply latency.

`/metrics` needs `METRICS_TOKEN` as a bearer token; without one set it answers
loopback clients only, and never a request relayed by a proxy.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bilingual_assistant.adapters.prometheus import PrometheusRecorder, shared_recorder
from bilingual_assistant.config import load_settings
from bilingual_assistant.metrics import FORWARDING_HEADERS, may_read, route_label, status_class

logger = logging.getLogger(__name__)


def channel_of(route: Text) -> Text:
    """The input channel a route belongs to (`rest` for `/webhooks/rest/webhook`),
    `socketio` for socket.io, or empty for Rasa's HTTP API."""
    parts = route.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "webhooks":
        return parts[1]
    if parts[0] == "socket.io":
        return "socketio"
    return ""


class MetricsInput(InputChannel):
    """Serves this Rasa process's metrics; takes no messages."""

    @classmethod
    def name(cls) -> Text:
        return "metrics"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> MetricsInput:
        return cls()

    def __init__(self, token: Optional[Text] = None,
                 recorder: Optional[PrometheusRecorder] = None) -> None:
        """Args:
        token: what `/metrics` requires (`METRICS_TOKEN` by default).
        recorder: the metrics (this process's shared ones by default, which the lock
            store and the featurizer also record to).
        """
        self.token = load_settings().metrics.token if token is None else token
        self.recorder = recorder or shared_recorder("rasa")

    def url_prefix(self) -> Text:
        # Absolute: Rasa's urljoin("/webhooks/", "/metrics") is "/metrics".
        return "/metrics"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        metrics = Blueprint("metrics_channel", __name__)
        recorder, token = self.recorder, self.token

        @metrics.route("/", methods=["GET"], strict_slashes=False)
        async def scrape(request: Request) -> HTTPResponse:
            forwarded = any(h in request.headers for h in FORWARDING_HEADERS)
            if not may_read(request.headers.get("authorization"), request.ip, token,
                            forwarded):
                return response.json({"error": "Metrics need METRICS_TOKEN as a bearer "
                                               "token."}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            body, content_type = recorder.exposition()
            return response.raw(body, content_type=content_type)

        async def start_clock(request: Request) -> None:
            request.ctx.metrics_started = time.perf_counter()

        async def stop_clock(request: Request, answer: HTTPResponse) -> None:
            started = getattr(request.ctx, "metrics_started", None)
            if started is None or answer is None:
                return
            route = route_label(request.route.path if request.route is not None else None)
            recorder.observe("assistant_http_request_seconds", time.perf_counter() - started,
                             route=route, method=request.method,
                             status=status_class(answer.status), channel=channel_of(route))

        @metrics.listener("before_server_start")
        async def time_every_route(app: Any, loop: Any) -> None:
            app.register_middleware(start_clock, "request")
            app.register_middleware(stop_clock, "response")
            logger.info("Metrics: GET /metrics (%s); every request timed.",
                        "bearer token" if token else "loopback clients only")

        return metrics
