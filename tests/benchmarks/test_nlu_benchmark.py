"""The NLU benchmark script, end to end on a toy dataset laid out like ../shared/datasets."""

import csv
import json
import re

import pytest

from benchmarks import nlu_benchmark

# Two intents a trained model tells apart by their words: the first 4 texts of each
# train, the other 8 test. One intent for everything is 8 of 16 right, and so is
# guessing on average (15 or more with probability 17 / 65536); the pipelines
# trained for 30 epochs get all 16, so the tests ask for at least 15.
ROWS = {
    "greet": ["hello there", "hi", "good morning", "hey you",
              "hello friend", "hi hi", "hello", "hi there", "hey there",
              "good morning friend", "hello hello", "hey hi"],
    "weather": ["weather in [paris](city)", "is it raining in [rome](city)",
                "forecast for [oslo](city)", "how hot is [cairo](city)",
                "rain in [lima](city) tomorrow", "weather for [kyiv](city) please",
                "weather in [rome](city)", "is it raining in [paris](city)",
                "forecast for [cairo](city) tomorrow", "how hot is [oslo](city) today",
                "rain in [kyiv](city)", "weather forecast for [lima](city)"],
}
TRAIN_PER_INTENT = 4
# DIET epochs: 2 left the baseline at 13 of 16 ("hello" taken for weather); 30 cost
# about 15 s more per pipeline than 2 and get 16 of 16.
EPOCHS = "30"
MIN_ACCURACY = 15 / 16


def assert_scored_from_predictions(result, predictions, test_rows):
    """The accuracy a result reports is the share of its predictions file that is
    right, and that file holds the test split's messages in order."""
    assert [(r["text"], r["intent"]) for r in predictions] == test_rows
    right = sum(r["predicted_intent"] == r["intent"] for r in predictions)
    assert result["intent_accuracy"] == pytest.approx(right / len(predictions))


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
    train = [(i, t) for i, texts in ROWS.items() for t in texts[:TRAIN_PER_INTENT]]
    test = [(i, t) for i, texts in ROWS.items() for t in texts[TRAIN_PER_INTENT:]]
    write_split(folder / "train.csv", train)
    write_split(folder / "test.csv", test)
    (tmp_path / "datasets" / "notes").mkdir()  # a folder without train.csv is skipped

    out = tmp_path / "results"
    code = nlu_benchmark.main([str(tmp_path / "datasets"), "--epochs", EPOCHS, "--out", str(out),
                               "--encoders", "m3e-small", "--featurizer", "fine_tune_epochs=1"])

    assert code == 0
    [result_file] = out.glob("nlu-*.json")
    results = json.loads(result_file.read_text())
    # One variant of ours (fine-tuned for an epoch) and the baseline: a third
    # pipeline cost 75 s of CI time and tested nothing more.
    assert [r["pipeline"] for r in results] == [
        "ours: m3e-small, fine_tune_epochs=1", "rasa-default"]
    test_rows = [(re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", t), i) for i, t in test]
    for r in results:
        assert (r["dataset"], r["train_examples"], r["test_examples"]) == ("toy", 8, 16)
        # Both pipelines learnt the two intents (see ROWS), and the score is theirs.
        assert r["intent_accuracy"] >= MIN_ACCURACY, r
        assert r["intent_macro_f1"] >= 0.9, r  # 15 of 16 right: 0.937
        [predictions] = out.glob(f"predictions-*-toy-{nlu_benchmark.slug(r['pipeline'])}.json")
        assert_scored_from_predictions(r, json.loads(predictions.read_text()), test_rows)
        assert r["entity_f1"] is not None  # the test split is annotated
        assert r["train_seconds"] > 0 and 0 < r["parse_p50_ms"] <= r["parse_p95_ms"]
    tuned, default = results
    assert 0 < tuned["encoder_p50_ms"] <= tuned["encoder_p95_ms"]
    assert default["encoder_p50_ms"] is None
    table = (out / result_file.name.replace(".json", ".md")).read_text()
    assert table.splitlines()[2].startswith(
        "| toy | ours: m3e-small, fine_tune_epochs=1 | 8 / 16 |")
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
    components = "bilingual_assistant.components"
    pipeline = [{"name": f"{components}.bilingual_tokenizer.BilingualJiebaTokenizer"},
                {"name": f"{components}.bert_featurizer.BertFeaturizer", "model": "/m/x"},
                {"name": "DIETClassifier"}]
    assert nlu_benchmark.configured_encoder(pipeline) == "/m/x"
    configured = nlu_benchmark.configured_encoder(nlu_benchmark.project_pipeline())
    assert list(nlu_benchmark.pipelines(5)) == [f"ours: {configured}", "rasa-default"]


# The entity measures, on hand-computed examples. Text "北京明天下雨": tokens 北京 (0-2),
# 明天 (2-4), 下雨 (4-6).
TEXT = "北京明天下雨"
CITY = {"entity": "city", "start": 0, "end": 2, "value": "北京"}
DATE = {"entity": "date", "start": 2, "end": 4, "value": "明天"}


def tokens():
    from rasa.nlu.tokenizers.tokenizer import Token

    return [Token("北京", 0), Token("明天", 2), Token("下雨", 4)]


def entity(name, start, end):
    return {"entity": name, "start": start, "end": end, "value": TEXT[start:end]}


def test_exact_span_f1_counts_only_identical_type_start_and_end():
    predicted = [CITY, entity("date", 2, 3)]  # the date ends one character early
    # tp 1 (city), fp 1, fn 1: 2 * 1 / (2 * 1 + 1 + 1)
    assert nlu_benchmark.exact_span_f1([[CITY, DATE]], [predicted]) == 0.5
    assert nlu_benchmark.exact_span_f1([[CITY, DATE]], [[CITY, DATE]]) == 1.0
    assert nlu_benchmark.exact_span_f1([[CITY], []], [[], []]) == 0.0
    assert nlu_benchmark.exact_span_f1([[]], [[]]) is None


def test_token_level_f1_is_rasa_test_nlus_micro_average_over_gold_types():
    # One city over both 北京 and 明天: the tokens read city, city, -, against city,
    # date, -: city tp 1 fp 1, date fn 1 -> micro P = R = F1 = 0.5; no exact span.
    predicted = [entity("city", 0, 4)]
    assert nlu_benchmark.token_level_f1([[CITY, DATE]], [predicted], [tokens()]) == 0.5
    assert nlu_benchmark.exact_span_f1([[CITY, DATE]], [predicted]) == 0.0
    # A prediction covering part of a token labels the whole token, as in Rasa.
    assert nlu_benchmark.token_level_f1([[CITY]], [[entity("city", 0, 1)]], [tokens()]) == 1.0
    # A type no gold entity has is left out of the average (Rasa's labels come from
    # the targets), so it costs nothing here; it does cost an exact-span false positive.
    extra = [CITY, entity("weather", 4, 6)]
    assert nlu_benchmark.token_level_f1([[CITY]], [extra], [tokens()]) == 1.0
    assert nlu_benchmark.exact_span_f1([[CITY]], [extra]) == pytest.approx(2 / 3)
    assert nlu_benchmark.token_level_f1([[CITY, DATE]], [[]], [tokens()]) == 0.0
    assert nlu_benchmark.token_level_f1([[]], [[CITY]], [tokens()]) is None


def test_common_tokenizer_is_jieba_with_its_own_dictionary_for_chinese():
    import jieba

    chinese = nlu_benchmark.CommonTokenizer("zh")
    assert [(t.text, t.start, t.end) for t in chinese("北京 明天下雨")] == [
        ("北京", 0, 2), ("明天", 3, 5), ("下雨", 5, 7)]  # spaces are no token
    jieba.add_word("北京明天", freq=10**8)  # a user word in Jieba's process-wide tokenizer
    try:
        assert "北京明天" in jieba.lcut("北京明天下雨")
        assert [t.text for t in chinese("北京明天下雨")] == ["北京", "明天", "下雨"]
    finally:
        nlu_benchmark.reset_jieba()
    assert "北京明天" not in jieba.lcut("北京明天下雨")  # the next pipeline starts clean
    english = nlu_benchmark.CommonTokenizer("en")
    assert [(t.text, t.start) for t in english("rain in  Paris?")] == [
        ("rain", 0), ("in", 5), ("Paris?", 9)]


def test_rasa_default_uses_jieba_for_chinese_datasets():
    assert nlu_benchmark.is_chinese(["北京天气", "hello", "上海", "hi", "hey"])
    assert not nlu_benchmark.is_chinese(["hello", "hi", "hey", "yo", "北京"], share=0.3)
    default = nlu_benchmark.pipelines(5)["rasa-default"]["config"]
    chinese = nlu_benchmark.for_language(default, "zh")
    assert chinese["language"] == "zh"
    assert [c["name"] for c in chinese["pipeline"]][0] == "JiebaTokenizer"
    assert "WhitespaceTokenizer" not in [c["name"] for c in chinese["pipeline"]]
    assert nlu_benchmark.for_language(default, "en") == default
    assert default["pipeline"][0]["name"] == "WhitespaceTokenizer"  # not changed in place


def test_run_one_scores_intents_and_both_entity_measures(tmp_path, monkeypatch):
    """`run_one` end to end with training and parsing replaced: the scores and the
    predictions file come from the parses."""
    import rasa.model_training
    from rasa.shared.nlu.training_data.training_data import TrainingData

    train = nlu_benchmark.to_messages([
        {"text": "北京天气", "intent": "weather", "annotated": "[北京](city)天气"},
        {"text": "你好", "intent": "greet", "annotated": ""}])
    test = nlu_benchmark.to_messages([
        {"text": "北京明天下雨", "intent": "weather", "annotated": "[北京](city)[明天](date)下雨"},
        {"text": "你好啊", "intent": "greet", "annotated": ""}])
    dataset = nlu_benchmark.Dataset("toy", TrainingData(train), test, True)
    parses = [{"intent": {"name": "weather"}, "entities": [entity("city", 0, 4)]},
              {"intent": {"name": "weather"}, "entities": []}]
    monkeypatch.setattr(rasa.model_training, "train_nlu", lambda *a, **k: "model.tar.gz")

    async def evaluate(model, messages, timer):
        return parses, [5.0, 7.0], []

    monkeypatch.setattr(nlu_benchmark, "evaluate", evaluate)
    config = nlu_benchmark.pipelines(1)["rasa-default"]["config"]
    predictions = tmp_path / "predictions.json"
    result = nlu_benchmark.run_one(dataset, "rasa-default", config, tmp_path, None, predictions)
    assert result.language == "zh"
    assert result.intent_accuracy == 0.5
    assert result.entity_f1 == 0.0 and result.entity_token_f1 == 0.5  # as computed above
    written = json.loads(predictions.read_text(encoding="utf-8"))
    assert written[0]["predicted_intent"] == "weather" and written[1]["intent"] == "greet"
    assert written[0]["entities"][1] == {"entity": "date", "start": 2, "end": 4, "value": "明天"}
    trained_config = (tmp_path / "toy-rasa-default.yml").read_text(encoding="utf-8")
    assert "JiebaTokenizer" in trained_config and "language: zh" in trained_config


def test_ours_is_config_ymls_nlu_pipeline_without_the_fallback_gates():
    names = [c["name"] for c in nlu_benchmark.pipelines(5)[
        f"ours: {nlu_benchmark.configured_encoder(nlu_benchmark.project_pipeline())}"
    ]["config"]["pipeline"]]
    configured = [c["name"] for c in nlu_benchmark.project_pipeline()]
    assert names == [n for n in configured if n not in nlu_benchmark.EXCLUDED]
    assert "bilingual_assistant.components.novelty_classifier.NoveltyClassifier" in configured
    assert not any("Fallback" in n or "novelty" in n or "no_content" in n for n in names)
    assert "LexicalSyntacticFeaturizer" in names
