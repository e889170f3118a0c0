"""The NLU benchmark script, end to end on a toy dataset laid out like ../shared/datasets."""

import csv
import json
import re

import pytest

from benchmarks import nlu_benchmark

ROWS = {
    "greet": ["hello there", "hi", "good morning", "hey you", "hello friend", "hi hi"],
    "weather": ["weather in [paris](city)", "is it raining in [rome](city)",
                "forecast for [oslo](city)", "how hot is [cairo](city)",
                "rain in [lima](city) tomorrow", "weather for [kyiv](city) please"],
}


def write_split(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent", "annotated"])
        for intent, annotated in rows:
            text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", annotated)  # [paris](city) -> paris
            writer.writerow([text, intent, annotated])


@pytest.mark.slow
def test_benchmark_trains_both_pipelines_and_writes_the_table(tmp_path, capsys):
    folder = tmp_path / "datasets" / "toy"
    folder.mkdir(parents=True)
    train = [(i, t) for i, texts in ROWS.items() for t in texts[:4]]
    test = [(i, t) for i, texts in ROWS.items() for t in texts[4:]]
    write_split(folder / "train.csv", train)
    write_split(folder / "test.csv", test)
    (tmp_path / "datasets" / "notes").mkdir()  # a folder without train.csv is skipped

    out = tmp_path / "results"
    code = nlu_benchmark.main([str(tmp_path / "datasets"), "--epochs", "2", "--out", str(out),
                               "--encoders", "m3e-small",
                               "--featurizer", "fine_tune_epochs=0", "fine_tune_epochs=1"])

    assert code == 0
    [result_file] = out.glob("nlu-*.json")
    results = json.loads(result_file.read_text())
    assert [r["pipeline"] for r in results] == [
        "ours: m3e-small, fine_tune_epochs=0", "ours: m3e-small, fine_tune_epochs=1",
        "rasa-default"]
    for r in results:
        assert (r["dataset"], r["train_examples"], r["test_examples"]) == ("toy", 8, 4)
        assert 0.0 <= r["intent_accuracy"] <= 1.0 and 0.0 <= r["intent_macro_f1"] <= 1.0
        assert r["entity_f1"] is not None  # the test split is annotated
        assert r["train_seconds"] > 0 and 0 < r["parse_p50_ms"] <= r["parse_p95_ms"]
    ours, tuned, default = results
    assert 0 < ours["encoder_p50_ms"] <= ours["encoder_p95_ms"]
    assert tuned["train_seconds"] > 0 and tuned["encoder_p50_ms"] > 0
    assert default["encoder_p50_ms"] is None
    table = (out / result_file.name.replace(".json", ".md")).read_text()
    assert table.splitlines()[2].startswith("| toy | ours: m3e-small, fine_tune_epochs=0 | 8 / 4 |")
    assert table.strip() in capsys.readouterr().out


def test_missing_folder_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        nlu_benchmark.main([str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2


def test_featurizer_variants_name_the_pipelines():
    variants = nlu_benchmark.featurizer_variants(
        ["", "fine_tune_epochs=3", "fine_tune_epochs=2,fine_tune_learning_rate=1e-4",
         "fine_tune_epochs=0,fine_tune_entities=false"])
    assert variants == [{}, {"fine_tune_epochs": 3},
                        {"fine_tune_epochs": 2, "fine_tune_learning_rate": 1e-4},
                        {"fine_tune_epochs": 0, "fine_tune_entities": False}]
    variants = variants[:3]
    configs = nlu_benchmark.pipelines(5, ["m3e-small"], variants)
    assert list(configs) == [
        "ours: m3e-small",
        "ours: m3e-small, fine_tune_epochs=3",
        "ours: m3e-small, fine_tune_epochs=2, fine_tune_learning_rate=0.0001",
        "rasa-default",
    ]
    pipeline = configs["ours: m3e-small, fine_tune_epochs=3"]["config"]["pipeline"]
    [featurizer] = [c for c in pipeline if c["name"].endswith("BertFeaturizer")]
    assert featurizer["fine_tune_epochs"] == 3 and featurizer["model"] == "m3e-small"
    [diet] = [c for c in pipeline if c["name"] == "DIETClassifier"]
    assert diet["epochs"] == 5


def test_featurizer_variant_without_value_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'fine_tune_epochs' is not key=value"):
        nlu_benchmark.featurizer_variants(["fine_tune_epochs"])
    with pytest.raises(SystemExit):
        nlu_benchmark.main([str(tmp_path), "--featurizer", "epochs"])


def test_default_encoder_is_config_ymls():
    pipeline = [{"name": "components.bilingual_tokenizer.BilingualJiebaTokenizer"},
                {"name": "components.bert_featurizer.BertFeaturizer", "model": "/m/x"},
                {"name": "DIETClassifier"}]
    assert nlu_benchmark.configured_encoder(pipeline) == "/m/x"
    configured = nlu_benchmark.configured_encoder(nlu_benchmark.project_pipeline())
    assert list(nlu_benchmark.pipelines(5)) == [f"ours: {configured}", "rasa-default"]
