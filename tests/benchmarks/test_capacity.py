"""The capacity benchmark's reading of Locust's output and its step search, on CSV
text recorded from a real Locust 2.47.0 run (two local servers taken in turn, the
replies of one counted wrong). Locust itself is not needed: it lives in its own
environment, made only by `make benchmark-capacity`."""

import json

import pytest

from benchmarks import capacity
from benchmarks.capacity import Step, read_failures, read_stats, step_from, users_for

STATS = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,\
75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,rest,16,8,53,53.54438337494116,52.23481600000923,55.544791999864174,25.0,\
5.241540950085408,2.620770475042704,53,54,54,54,55,56,56,56,56,56,56
,Aggregated,16,8,53,53.54438337494116,52.23481600000923,55.544791999864174,25.0,\
5.241540950085408,2.620770475042704,53,54,54,54,55,56,56,56,56,56,56
"""
FAILURES = """\
Method,Name,Error,Occurrences,First Seen,Last Seen
POST,rest,"CatchResponseError(""unexpected reply: 'hello 18082'"")",8,\
2026-12-01T16:46:26Z,2026-12-01T16:46:29Z
"""
# No request finished: Locust writes N/A percentiles.
EMPTY = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,\
75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
,Aggregated,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
"""


def test_reads_a_request_names_row_of_locusts_stats():
    stats = read_stats(STATS, "rest")
    assert (stats.requests, stats.failures) == (16, 8)
    assert stats.requests_per_second == pytest.approx(5.2415, abs=1e-3)
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms) == (53, 56, 56)
    assert stats.max_ms == pytest.approx(55.54, abs=0.01)


def test_a_missing_row_or_na_percentiles_read_as_nothing_measured():
    assert read_stats(STATS, "api").requests == 0
    assert read_stats(EMPTY, "rest").requests == 0
    assert read_stats(EMPTY, "Aggregated").p95_ms == 0


def test_reads_locusts_failures():
    (failure,) = read_failures(FAILURES)
    assert failure["Occurrences"] == "8"
    assert "unexpected reply" in failure["Error"]


def step(offered, p95, achieved=None, failures=0, requests=100):
    return Step("rest", 1, offered, offered if achieved is None else achieved, requests,
                failures, p95 / 2, p95, p95 * 1.2, p95 * 1.5)


def test_a_step_holds_with_no_failure_p95_under_a_second_and_the_rate_achieved():
    assert step(4, 300).holds
    assert not step(4, 1000).holds  # p95 must be under 1 s
    assert not step(4, 300, failures=1).holds
    assert not step(4, 300, achieved=3.7).holds  # under 95 % of the offered rate
    assert step(4, 300, achieved=3.85).holds
    assert not step(4, 0, requests=0).holds  # nothing measured
    # The recorded run: half the replies wrong.
    assert not step_from(read_stats(STATS, "rest"), "rest", 2, 5).holds


def test_the_capacity_is_the_last_rate_held_before_the_first_that_was_not():
    assert capacity.capacity([step(2, 100), step(4, 200), step(6, 1500), step(8, 900)]) == 4
    assert capacity.capacity([step(6, 1500), step(2, 100)]) == 2  # order does not matter
    assert capacity.capacity([step(2, 1100)]) == 0
    assert capacity.capacity([]) == 0


def test_users_offer_the_rate_at_the_pacing():
    assert users_for(8, 10) == 80
    assert users_for(0.5, 10) == 5
    assert users_for(0.25, 2) == 1
    assert users_for(2.5, 10) == 25


def test_the_turns_file_gives_each_turn_its_rules_replies_in_both_languages(tmp_path):
    data = json.loads(capacity.turns_file(tmp_path, ["年假有几天?"]).read_text("utf-8"))
    texts = [t["text"] for t in data["turns"]]
    assert "你好" in texts and "hi" in texts
    hello = next(t for t in data["turns"] if t["text"] == "你好")
    assert any("你好！" in r for r in hello["replies"])
    assert any(r.startswith("Hi!") for r in hello["replies"])
    assert data["questions"][0]["text"] == "年假有几天?"
    assert data["questions"][0]["refusals"]  # the apology for a failed action


def test_the_summary_names_the_capacity_and_the_first_rate_that_did_not_hold():
    steps = [step(2, 100), step(4, 200), step(6, 1500)]
    text = capacity.summary_table(steps, [1])
    assert "| 1 | 4 | 200 | 6 (p95 1500 ms) |" in text
    assert "| rest | 1 | 6 |" in capacity.table(steps)
