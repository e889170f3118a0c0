"""The metrics catalogue, the in-memory recorder and who may read `/metrics`."""

import re

import pytest

from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.metrics import (
    METRICS,
    MemoryRecorder,
    NoRecorder,
    may_read,
    metrics_of,
    route_label,
    status_class,
)


def test_the_catalogue_is_well_formed():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    for metric in METRICS:
        assert re.fullmatch(r"assistant_[a-z_]+", metric.name), metric.name
        assert metric.kind in ("counter", "gauge", "histogram")
        assert metric.name.endswith("_total") == (metric.kind == "counter"), metric.name
        assert metric.processes and set(metric.processes) <= {"rasa", "actions", "api", "worker"}
        assert list(metric.buckets) == sorted(metric.buckets)
    assert {m.name for m in metrics_of("worker")} == {"assistant_job_seconds"}


@pytest.mark.parametrize("call", [
    lambda r: r.count("assistant_no_such_total"),
    lambda r: r.observe("assistant_answers_total", 1.0, mode="llm", cached="false"),
    lambda r: r.count("assistant_answers_total", mode="llm"),
    lambda r: r.set("assistant_llm_waiting", 1.0, model="x"),
])
def test_a_wrong_name_kind_or_label_is_an_error_that_names_it(call):
    for recorder in (NoRecorder(), MemoryRecorder()):
        with pytest.raises(ConfigurationError, match="assistant_"):
            call(recorder)


def test_the_memory_recorder_keeps_what_it_was_given():
    recorder = MemoryRecorder()
    recorder.count("assistant_answer_cache_total", result="hit")
    recorder.count("assistant_answer_cache_total", 2, result="hit")
    recorder.observe("assistant_retrieval_seconds", 0.25)
    recorder.add("assistant_messages_in_flight", 1)
    recorder.add("assistant_messages_in_flight", -1)
    recorder.watch("assistant_llm_waiting", lambda: 3)
    assert recorder.value("assistant_answer_cache_total", result="hit") == 3
    assert recorder.value("assistant_answer_cache_total", result="miss") == 0
    assert recorder.samples("assistant_retrieval_seconds") == [0.25]
    assert recorder.value("assistant_messages_in_flight") == 0
    assert recorder.value("assistant_llm_waiting") == 3


@pytest.mark.parametrize("authorization, client, token, forwarded, allowed", [
    ("Bearer s3cret", "10.0.0.5", "s3cret", False, True),
    ("bearer  s3cret ", "10.0.0.5", "s3cret", False, True),
    ("Bearer wrong", "127.0.0.1", "s3cret", False, False),  # loopback needs it too
    (None, "127.0.0.1", "s3cret", False, False),
    ("Basic s3cret", "10.0.0.5", "s3cret", False, False),
    (None, "127.0.0.1", "", False, True),
    (None, "::1", "", False, True),
    (None, "[::1]", "", False, True),
    (None, "10.0.0.5", "", False, False),
    (None, "127.0.0.1", "", True, False),  # a proxy on this machine relays others
    (None, None, "", False, False),
    (None, "not an address", "", False, False),
])
def test_who_may_read_the_metrics(authorization, client, token, forwarded, allowed):
    assert may_read(authorization, client, token, forwarded) is allowed


def test_labels_keep_the_series_few():
    assert route_label("conversations/<conversation_id:path>/tracker") == (
        "/conversations/<conversation_id:path>/tracker")
    assert route_label("/webhooks/rest/webhook/") == "/webhooks/rest/webhook"
    assert route_label(None) == "unmatched"
    assert [status_class(s) for s in (200, 201, 429, 503, 99, 700)] == [
        "2xx", "2xx", "4xx", "5xx", "other", "other"]
