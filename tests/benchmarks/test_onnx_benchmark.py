"""The ONNX benchmark script, end to end on a toy dataset with the tiny test BERT."""

import json
import re

import pytest

from benchmarks import onnx_benchmark
from tests.benchmarks.test_nlu_benchmark import (
    EPOCHS,
    MIN_ACCURACY,
    ROWS,
    TRAIN_PER_INTENT,
    assert_scored_from_predictions,
    write_split,
)


@pytest.mark.slow
def test_benchmark_trains_both_runtimes_and_writes_the_table(tmp_path, tiny_bert, capsys):
    # Without entity annotations: the benchmark scores intents only, and tracing DIET's
    # entity CRF took 77 of this test's 137 s.
    rows = {intent: [re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", t) for t in texts]
            for intent, texts in ROWS.items()}
    folder = tmp_path / "datasets" / "toy"
    folder.mkdir(parents=True)
    train = [(i, t) for i, texts in rows.items() for t in texts[:TRAIN_PER_INTENT]]
    test = [(i, t) for i, texts in rows.items() for t in texts[TRAIN_PER_INTENT:]]
    write_split(folder / "train.csv", train)
    write_split(folder / "test.csv", test)

    out = tmp_path / "results"
    # 30 DIET epochs cost a few seconds more than 1, which left 3 of 16 wrong.
    code = onnx_benchmark.main([
        str(tmp_path / "datasets"), "--only", "toy", "--no-project", "--epochs", EPOCHS,
        "--repeats", "2", "--out", str(out),
        "--featurizer", f"model={tiny_bert},fine_tune_epochs=1"])

    assert code == 0
    [result_file] = out.glob("onnx-*.json")
    torch_row, onnx_row = json.loads(result_file.read_text())
    assert [torch_row["runtime"], onnx_row["runtime"]] == ["torch", "onnx"]
    for row in (torch_row, onnx_row):
        assert (row["dataset"], row["train_examples"], row["test_examples"]) == ("toy", 8, 16)
        # Both runtimes learnt the two intents (see ROWS), and the score is theirs.
        assert row["intent_accuracy"] >= MIN_ACCURACY, row
        [predictions] = out.glob(f"predictions-*-onnx-toy-{row['runtime']}.json")
        assert_scored_from_predictions(row, json.loads(predictions.read_text()),
                                       [(t, i) for i, t in test])
        assert 0 < row["encoder_p50_ms"] <= row["encoder_p95_ms"]
        assert 0 < row["parse_p50_ms"] <= row["parse_p95_ms"]
        assert row["encoder_bytes"] > 0 and row["archive_bytes"] > 0
    assert torch_row["encoder_ratio"] is None
    assert onnx_row["encoder_ratio"] == pytest.approx(
        onnx_row["encoder_p50_ms"] / torch_row["encoder_p50_ms"])
    table = (out / result_file.name.replace(".json", ".md")).read_text()
    assert table.splitlines()[3].startswith("| toy | onnx | 8 / 16 |")
    assert table.strip() in capsys.readouterr().out
