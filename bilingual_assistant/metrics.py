"""The metrics every process reports, declared once, and the `Recorder` seam they go through."""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import math
from typing import Callable, Dict, List, Optional, Protocol, Text, Tuple

from bilingual_assistant.errors import ConfigurationError

# Latency buckets in seconds: a rules turn takes tens of milliseconds, an LLM answer
# on 2 cores several seconds, a job minutes.
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
JOBS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric: its Prometheus name, kind, labels and meaning."""

    name: Text
    kind: Text  # counter, gauge or histogram
    processes: Tuple[Text, ...]
    doc: Text
    labels: Tuple[Text, ...] = ()
    buckets: Tuple[float, ...] = FAST


METRICS: Tuple[Metric, ...] = (
    Metric("assistant_http_request_seconds", "histogram", ("rasa", "actions", "api"),
           "time to answer an HTTP request, by route pattern, method, status and channel "
           "(on Rasa's channel webhooks this is the user's reply latency)",
           ("route", "method", "status", "channel")),
    Metric("assistant_messages_in_flight", "gauge", ("rasa",),
           "messages this Rasa process holds or waits to take a conversation's lock for"),
    Metric("assistant_lock_wait_seconds", "histogram", ("rasa",),
           "how long a message waited for its conversation's earlier messages (lock store)"),
    Metric("assistant_lock_failures_total", "counter", ("rasa",),
           "messages refused by the lock store: `busy` (waited too long) or `unavailable` "
           "(Redis out of reach)", ("reason",)),
    Metric("assistant_nlu_encode_seconds", "histogram", ("rasa",),
           "time the BERT featurizer takes per parsed message (the encoder forward, the "
           "bulk of a parse)", ("runtime",)),
    Metric("assistant_action_seconds", "histogram", ("actions",),
           "time to run a custom action, by action and outcome (`ok`, `error`)",
           ("action", "outcome"), SLOW),
    Metric("assistant_answers_total", "counter", ("actions",),
           "knowledge answers by mode (llm, quoted, extractive, not_found, curated, "
           "declined, unavailable) and whether they came from the cache", ("mode", "cached")),
    Metric("assistant_answer_cache_total", "counter", ("actions",),
           "answer cache look-ups by result (`hit`, `miss`)", ("result",)),
    Metric("assistant_retrieval_seconds", "histogram", ("actions",),
           "time to retrieve passages for a question (dense, lexical and fusion)"),
    Metric("assistant_llm_seconds", "histogram", ("actions",),
           "time from asking the LLM to its answer, admission wait and retries included, "
           "by outcome (`ok`, `busy`, `unavailable`, `rejected`, `circuit_open`, `cancelled`)",
           ("outcome",), SLOW),
    Metric("assistant_llm_tokens_total", "counter", ("actions",),
           "tokens the LLM read (`prompt`) and wrote (`completion`), as it reports them",
           ("kind",)),
    Metric("assistant_llm_waiting", "gauge", ("actions",),
           "requests waiting for a free LLM slot (admission control)"),
    Metric("assistant_llm_breaker_open", "gauge", ("actions",),
           "1 while the LLM's circuit breaker is open (the model is not called), else 0"),
    Metric("assistant_errors_total", "counter", ("actions", "api"),
           "errors by type (the exception's class) and where they were caught",
           ("type", "where")),
    Metric("assistant_jobs_backlog", "gauge", ("api",),
           "jobs queued or running (not yet finished)"),
    Metric("assistant_job_seconds", "histogram", ("worker",),
           "time a job ran, by kind and outcome (`succeeded`, `failed`)", ("kind", "outcome"),
           JOBS),
)
BY_NAME: Dict[Text, Metric] = {metric.name: metric for metric in METRICS}


def metrics_of(process: Text) -> List[Metric]:
    """The metrics one process (`rasa`, `actions`, `api`, `worker`) reports."""
    return [metric for metric in METRICS if process in metric.processes]


class Recorder(Protocol):
    """Where measurements go (Prometheus in production, memory in tests)."""

    def count(self, name: Text, amount: float = 1.0, **labels: Text) -> None:
        """Adds to a counter."""
        ...

    def observe(self, name: Text, value: float, **labels: Text) -> None:
        """Records one value of a histogram."""
        ...

    def set(self, name: Text, value: float, **labels: Text) -> None:
        """Sets a gauge."""
        ...

    def add(self, name: Text, amount: float, **labels: Text) -> None:
        """Moves a gauge up or down."""
        ...

    def watch(self, name: Text, read: Callable[[], float]) -> None:
        """Reads an unlabelled gauge from `read` whenever metrics are collected."""
        ...


def check(name: Text, kind: Text, labels: Dict[Text, Text]) -> Metric:
    """The declared metric, or an error naming what is wrong (a typo in code)."""
    metric = BY_NAME.get(name)
    if metric is None:
        raise ConfigurationError(f"Unknown metric {name!r}: declare it in "
                                 "bilingual_assistant/metrics.py.")
    if metric.kind != kind:
        raise ConfigurationError(f"Metric {name} is a {metric.kind}, not a {kind}.")
    if tuple(sorted(labels)) != tuple(sorted(metric.labels)):
        raise ConfigurationError(
            f"Metric {name} takes the labels {', '.join(metric.labels) or 'none'}; got "
            f"{', '.join(sorted(labels)) or 'none'}.")
    return metric


class NoRecorder:
    """Records nothing (a library object built without metrics)."""

    def count(self, name: Text, amount: float = 1.0, **labels: Text) -> None:
        check(name, "counter", labels)

    def observe(self, name: Text, value: float, **labels: Text) -> None:
        check(name, "histogram", labels)

    def set(self, name: Text, value: float, **labels: Text) -> None:
        check(name, "gauge", labels)

    def add(self, name: Text, amount: float, **labels: Text) -> None:
        check(name, "gauge", labels)

    def watch(self, name: Text, read: Callable[[], float]) -> None:
        check(name, "gauge", {})


class MemoryRecorder(NoRecorder):
    """Keeps every measurement in dictionaries (tests)."""

    def __init__(self) -> None:
        self.values: Dict[Tuple[Text, Tuple[Tuple[Text, Text], ...]], float] = {}
        self.observed: Dict[Tuple[Text, Tuple[Tuple[Text, Text], ...]], List[float]] = {}
        self.watched: Dict[Text, Callable[[], float]] = {}

    def count(self, name: Text, amount: float = 1.0, **labels: Text) -> None:
        super().count(name, amount, **labels)
        key = (name, tuple(sorted(labels.items())))
        self.values[key] = self.values.get(key, 0.0) + amount

    def observe(self, name: Text, value: float, **labels: Text) -> None:
        super().observe(name, value, **labels)
        self.observed.setdefault((name, tuple(sorted(labels.items()))), []).append(value)

    def set(self, name: Text, value: float, **labels: Text) -> None:
        super().set(name, value, **labels)
        self.values[(name, tuple(sorted(labels.items())))] = value

    def add(self, name: Text, amount: float, **labels: Text) -> None:
        super().add(name, amount, **labels)
        key = (name, tuple(sorted(labels.items())))
        self.values[key] = self.values.get(key, 0.0) + amount

    def watch(self, name: Text, read: Callable[[], float]) -> None:
        super().watch(name, read)
        self.watched[name] = read

    def value(self, name: Text, **labels: Text) -> float:
        """A counter's or gauge's value (0 if never set); a watched gauge is read."""
        if name in self.watched:
            return self.watched[name]()
        return self.values.get((name, tuple(sorted(labels.items()))), 0.0)

    def samples(self, name: Text, **labels: Text) -> List[float]:
        """A histogram's recorded values."""
        return self.observed.get((name, tuple(sorted(labels.items()))), [])


FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def may_read(authorization: Optional[Text], client: Optional[Text], token: Text,
             forwarded: bool = False) -> bool:
    """Whether a request may read `/metrics`.

    Args:
        authorization: the request's `Authorization` header.
        client: the address the request came from.
        token: `METRICS_TOKEN`; empty allows loopback clients only.
        forwarded: whether the request carries one of `FORWARDING_HEADERS`: a proxy
            on this machine relays others' requests from loopback, so without a
            token those are refused.
    """
    if token:
        given = (authorization or "").strip()
        if not given.lower().startswith("bearer "):
            return False
        return hmac.compare_digest(given[7:].strip().encode(), token.encode())
    if forwarded:
        return False
    try:
        return ipaddress.ip_address((client or "").strip("[]")).is_loopback
    except ValueError:
        return False


def route_label(pattern: Optional[Text]) -> Text:
    """A route's pattern as a label (`/webhook`, `/conversations/<id>/tracker`), never
    the requested path, which would make a series per conversation; `unmatched` for
    requests no route took."""
    if pattern is None:
        return "unmatched"
    return "/" + pattern.strip("/")


def status_class(status: int) -> Text:
    """`2xx`, `4xx`...: a status label that keeps the series few."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def finite(value: float) -> float:
    """The value, or 0 for NaN and infinities (a clock jump, a bad reading)."""
    return value if math.isfinite(value) else 0.0


PROCESS_NAMES = {"rasa": "Rasa", "actions": "action server", "api": "API", "worker": "worker"}


def markdown_table() -> Text:
    """The README's table of metrics, one row per metric."""
    lines = ["| metric | kind | served by | labels | what it measures |", "|---|---|---|---|---|"]
    for metric in METRICS:
        processes = ", ".join(PROCESS_NAMES[p] for p in metric.processes)
        labels = ", ".join(f"`{label}`" for label in metric.labels) or "–"
        lines.append(f"| `{metric.name}` | {metric.kind} | {processes} | {labels} | "
                     f"{metric.doc} |")
    return "\n".join(lines) + "\n"
