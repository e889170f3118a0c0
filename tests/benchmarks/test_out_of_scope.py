"""The out-of-scope benchmark's scoring and configurations (no training)."""

from dataclasses import replace

import yaml

from benchmarks import out_of_scope
from benchmarks.out_of_scope import (
    Prediction,
    chosen,
    configurations,
    gated,
    score,
    table,
)


def p(text, expected, predicted):
    return Prediction(text, expected, predicted, 0.9, None)


def test_recall_counts_out_of_scope_and_fallback_per_language():
    off_topic = [p("香蕉", "out_of_scope", "nlu_fallback"),
                 p("黑洞是怎么形成的", "out_of_scope", "ask_question"),
                 p("banana", "out_of_scope", "out_of_scope"),
                 p("purple", "out_of_scope", "nlu_fallback"),
                 p("hmm", "out_of_scope", "affirm")]
    held_out = [p("hi", "greet", "greet"), p("你好", "greet", "nlu_fallback"),
                p("bye", "goodbye", "goodbye"), p("sing", "out_of_scope", "out_of_scope")]
    validation = [p("早", "greet", "greet"), p("no", "deny", "nlu_fallback"),
                  p("sing", "out_of_scope", "greet")]
    scores = score("x", off_topic, held_out, validation)
    assert (scores.recall_zh, scores.recall_en) == (0.5, 2 / 3)
    assert scores.recall_all == 3 / 5 and scores.off_topic == 5
    assert scores.in_scope_accuracy == 2 / 3 and scores.in_scope == 3
    assert scores.in_scope_to_fallback == 1
    assert scores.held_out_out_of_scope_recall == 1.0
    assert scores.validation_accuracy == 0.5 and scores.validation == 2
    assert "| x | 50.0 | 66.7 | 60.0 (5) | 66.7 (3) | 1 | 100.0 (1) | 50.0 (2) |" \
        in table([scores])


def test_the_gate_falls_back_below_the_threshold_unless_already_out_of_scope():
    baseline = [p("a", "greet", "greet"), p("b", "greet", "greet"),
                p("c", "out_of_scope", "out_of_scope")]
    improved = [replace(baseline[0], similarity=0.9), replace(baseline[1], similarity=0.5),
                replace(baseline[2], similarity=0.1)]
    assert [x.predicted for x in gated(baseline, improved, 0.6)] == \
        ["greet", "nlu_fallback", "out_of_scope"]
    assert [x.predicted for x in gated(baseline, improved, 0.6, ["greet"])] == \
        ["greet", "greet", "out_of_scope"]


def test_the_chosen_percentile_keeps_validation_accuracy_within_a_point():
    def at(accuracy):
        return replace(score("x", [], [], []), validation_accuracy=accuracy)

    swept = [at(0.95), at(0.945), at(0.93), at(0.99)]
    assert chosen(at(0.95), swept, [0, 1, 2, 5]) == 5
    assert chosen(at(0.95), swept[:3], [0, 1, 2]) == 1
    assert chosen(at(0.99), swept[:3], [0, 1, 2]) == 0


def test_baseline_is_the_configuration_without_the_gate(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({
        "language": "zh",
        "pipeline": [{"name": "DIETClassifier"}, {"name": out_of_scope.GATE, "percentile": 5}],
        "policies": [{"name": "RulePolicy"}],
    }))
    found = configurations(config)
    assert found["baseline"]["pipeline"] == [{"name": "DIETClassifier"}]
    assert found["improved"]["pipeline"][-1] == {"name": out_of_scope.GATE, "percentile": 5}
    assert "policies" not in found["baseline"] and "policies" not in found["improved"]


def test_the_project_configuration_has_the_gate():
    found = configurations(out_of_scope.PROJECT / "config.yml")
    assert len(found["improved"]["pipeline"]) == len(found["baseline"]["pipeline"]) + 1
