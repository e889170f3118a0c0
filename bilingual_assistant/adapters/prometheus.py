"""`Recorder` on prometheus_client: a process's metrics on one registry, and their exposition."""

from __future__ import annotations

import functools
import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, Iterable, List, Optional, Text, Tuple
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.metrics import FORWARDING_HEADERS, check, finite, may_read, metrics_of

logger = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class PrometheusRecorder:
    """Records the measurements of one process (`rasa`, `actions`, `api`, `worker`)."""

    def __init__(self, process: Text, registry: Optional[CollectorRegistry] = None) -> None:
        """Declares the process's metrics on `registry` (a new one by default).

        Raises:
            ConfigurationError: for an unknown process name.
        """
        declared = metrics_of(process)
        if not declared:
            raise ConfigurationError(f"No metrics are declared for process {process!r}.")
        self.process = process
        self.registry = registry if registry is not None else CollectorRegistry()
        self._metrics: Dict[Text, Any] = {}
        self._watches: Dict[Text, Callable[[], float]] = {}
        for metric in declared:
            if metric.kind == "counter":
                # prometheus_client adds `_total` to a counter's name itself.
                self._metrics[metric.name] = Counter(
                    metric.name.removesuffix("_total"), metric.doc, metric.labels,
                    registry=self.registry)
            elif metric.kind == "gauge":
                self._metrics[metric.name] = Gauge(metric.name, metric.doc, metric.labels,
                                                   registry=self.registry)
            else:
                self._metrics[metric.name] = Histogram(
                    metric.name, metric.doc, metric.labels, buckets=metric.buckets,
                    registry=self.registry)

    def _child(self, name: Text, kind: Text, labels: Dict[Text, Text]) -> Any:
        metric = check(name, kind, labels)
        if self.process not in metric.processes:
            raise ConfigurationError(f"Metric {name} is not declared for {self.process}.")
        found = self._metrics[name]
        return found.labels(**{k: str(v) for k, v in labels.items()}) if labels else found

    def count(self, name: Text, amount: float = 1.0, **labels: Text) -> None:
        self._child(name, "counter", labels).inc(finite(amount))

    def observe(self, name: Text, value: float, **labels: Text) -> None:
        self._child(name, "histogram", labels).observe(finite(value))

    def set(self, name: Text, value: float, **labels: Text) -> None:
        self._child(name, "gauge", labels).set(finite(value))

    def add(self, name: Text, amount: float, **labels: Text) -> None:
        self._child(name, "gauge", labels).inc(finite(amount))

    def watch(self, name: Text, read: Callable[[], float]) -> None:
        """Reads the gauge at each scrape; a failing read shows the last value and is
        logged (the scrape itself never fails)."""
        gauge = self._child(name, "gauge", {})
        last = [0.0]

        def value() -> float:
            try:
                last[0] = finite(float(read()))
            except Exception as error:  # noqa: BLE001 - a scrape must not fail
                logger.warning("metrics.read_failed", extra={"metric": name,
                                                              "error": str(error)[:200]})
            return last[0]

        gauge.set_function(value)

    def exposition(self) -> Tuple[bytes, Text]:
        """The registry's metrics in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE


_shared_lock = threading.Lock()


@functools.cache
def _shared(process: Text) -> PrometheusRecorder:
    return PrometheusRecorder(process, REGISTRY)


def shared_recorder(process: Text) -> PrometheusRecorder:
    """The process-wide recorder on prometheus_client's default registry (which also
    carries the Python process and garbage-collector metrics): for code that Rasa
    builds itself (channels, stores, components), where nothing can be injected."""
    with _shared_lock:
        return _shared(process)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - wsgiref's name
        """Scrapes are not logged (one every few seconds)."""


class MetricsServer:
    """`GET /metrics` on its own port, for a process without an HTTP server of its
    own (the job worker): the same token rule as every other `/metrics`."""

    def __init__(self, recorder: PrometheusRecorder, host: Text, port: int, token: Text) -> None:
        """Binds the port at once.

        Raises:
            ConfigurationError: if it would listen beyond loopback without a token.
            OSError: if the port cannot be bound (another worker on this machine).
        """
        self.recorder, self.token = recorder, token
        if not token and host not in ("127.0.0.1", "::1", "localhost"):
            raise ConfigurationError(
                f"The metrics server would listen on {host} without a token: set "
                "METRICS_TOKEN, or WORKER_METRICS_HOST=127.0.0.1.")
        self._server = make_server(host, port, self._app, _Server, _Quiet)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="metrics-server", daemon=True)

    def _app(self, environ: Dict[Text, Any],
             start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: the metrics are at /metrics.\n"]
        forwarded = any(f"HTTP_{h.upper().replace('-', '_')}" in environ
                        for h in FORWARDING_HEADERS)
        if not may_read(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"),
                        self.token, forwarded):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", "Bearer")])
            return [b"Unauthorized\n"]
        body, content_type = self.recorder.exposition()
        headers: List[Tuple[Text, Text]] = [("Content-Type", content_type),
                                            ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    def start(self) -> MetricsServer:
        """Serves in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and frees the port."""
        self._server.shutdown()
        self._server.server_close()
