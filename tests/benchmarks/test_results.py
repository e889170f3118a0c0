"""The benchmarks' result pair (benchmarks/results.py)."""

import datetime as dt
import json

from benchmarks.results import write_result


def test_the_pair_records_the_command_and_the_findings_beside_the_table(tmp_path):
    when = dt.datetime(2026, 12, 7, 16, 35, 33, tzinfo=dt.UTC)
    stem = write_result(tmp_path / "out", "sentence-choice-test", "benchmarks.sentence_choice",
                        ["--split", "test"], "abc123", 0.5, {"split": "test", "results": {}},
                        "| a |\n", now=when)
    assert stem == tmp_path / "out" / "sentence-choice-test-20261207-163533"
    data = json.loads(stem.with_suffix(".json").read_text("utf-8"))
    assert data["command"] == "python -m benchmarks.sentence_choice --split test"
    assert data["commit"] == "abc123" and data["split"] == "test" and data["load_1min"] == 0.5
    assert data["date"] == when.isoformat()
    assert stem.with_suffix(".md").read_text("utf-8") == "| a |\n"
