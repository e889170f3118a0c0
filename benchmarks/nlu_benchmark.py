"""Trains and evaluates our NLU pipeline and Rasa's default side by side.

Usage:
    python -m benchmarks.nlu_benchmark ../shared/datasets [--only hwu64 snips]
        [--epochs 100] [--max-train 0] [--project] [--out benchmarks/results]
        [--encoders multilingual-e5-small m3e-small] [--pipelines ours rasa-default]
        [--featurizer fine_tune_epochs=0 fine_tune_epochs=3]

`--project` adds the project's own data (train on data/nlu, test on
tests/nlu/held_out.yml); `--encoders` runs our pipeline once per encoder, and
`--featurizer` once per set of featurizer options (for each encoder). Each
pipeline's predictions on the test messages go beside the table, for reading errors.

Each dataset folder holds train.csv and test.csv with columns text,intent and
optionally annotated (Rasa's [value](entity) markup). For every dataset and
pipeline the script prints and writes: intent accuracy, macro-F1, entity F1 (where
annotated) by two measures, training time, parse latency p50/p95, and the encoder's
own forward time for the same messages.

Entity measures, the same for every pipeline of a dataset:
- exact span: a predicted entity counts when its type, start and end equal a gold
  entity's; micro-F1 over all test messages.
- token level: `rasa test nlu`'s measure, computed with Rasa's own functions
  (`rasa.nlu.test.align_all_entity_predictions`, `get_evaluation_metrics`): every
  token gets the gold and the predicted entity type that covers it, and the score is
  the micro-averaged F1 over the gold entity types (`no_entity` excluded). `rasa test
  nlu` aligns to each model's own tokens; here every pipeline is scored on one common
  tokenisation, so the figures compare: Jieba with its own dictionary (a private
  `jieba.Tokenizer`, as Rasa's `JiebaTokenizer` splits, spaces dropped) for Chinese
  datasets, whitespace (Rasa's `WhitespaceTokenizer`) for the others.

Rasa's default pipeline is `rasa init`'s, with Rasa's `JiebaTokenizer` (language zh)
in place of `WhitespaceTokenizer` for Chinese datasets (at least a fifth of the
training messages hold Chinese characters): on whitespace, a Chinese sentence is one
token and DIET cannot tag part of it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import random
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple

from bilingual_assistant.config import apply_process_defaults  # noqa: E402

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

PROJECT = Path(__file__).resolve().parents[1]

# `rasa init`'s pipeline (Rasa 3.6), without the response selector and the
# fallback classifier, which this benchmark does not exercise. Chinese datasets get
# `JiebaTokenizer` in place of `WhitespaceTokenizer` (`for_language`).
RASA_DEFAULT_PIPELINE: List[Dict[Text, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1,
     "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
]
# The fallback gates (Rasa's, and ours for messages with no word or unlike every
# training example) answer "none of these": the test sets hold no such message, so
# the benchmark scores the classifier without them.
EXCLUDED = {"FallbackClassifier", "ResponseSelector",
            "bilingual_assistant.components.no_content_classifier.NoContentClassifier",
            "bilingual_assistant.components.novelty_classifier.NoveltyClassifier"}


@dataclass
class Result:
    """One pipeline on one dataset."""

    dataset: Text
    pipeline: Text
    train_examples: int
    test_examples: int
    intent_accuracy: float
    intent_macro_f1: float
    entity_f1: Optional[float]
    train_seconds: float
    parse_p50_ms: float
    parse_p95_ms: float
    encoder_p50_ms: Optional[float]
    encoder_p95_ms: Optional[float]
    entity_token_f1: Optional[float] = None
    language: Text = "en"


def log(message: Text) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def read_split(folder: Path, split: Text) -> List[Dict[Text, Text]]:
    """Rows of a CSV split (a CSV parser: some texts hold line breaks)."""
    with (folder / f"{split}.csv").open(newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if row.get("text", "").strip()]


def to_messages(rows: List[Dict[Text, Text]]) -> List[Any]:
    from rasa.shared.nlu.training_data import entities_parser
    from rasa.shared.nlu.training_data.message import Message

    messages = []
    for row in rows:
        text = " ".join(row["text"].split())
        annotated = " ".join((row.get("annotated") or "").split())
        if annotated:
            messages.append(entities_parser.parse_training_example(annotated, row["intent"]))
        else:
            messages.append(Message.build(text=text, intent=row["intent"]))
    return messages


def subsample(rows: List[Dict[Text, Text]], per_intent: int, seed: int = 0) -> List[Dict]:
    if per_intent <= 0:
        return rows
    random.Random(seed).shuffle(rows := list(rows))
    counts: Dict[Text, int] = {}
    kept = []
    for row in rows:
        if counts.get(row["intent"], 0) < per_intent:
            counts[row["intent"]] = counts.get(row["intent"], 0) + 1
            kept.append(row)
    return kept


def is_chinese(texts: Iterable[Text], share: float = 0.2) -> bool:
    """Whether at least `share` of the texts hold a Chinese character."""
    from bilingual_assistant.text import HAN

    found = list(texts)
    return bool(found) and sum(bool(HAN.search(t)) for t in found) >= share * len(found)


def for_language(config: Dict[Text, Any], language: Text) -> Dict[Text, Any]:
    """Rasa's default pipeline as a Rasa user would set it up for `language`:
    `JiebaTokenizer` and `language: zh` for Chinese, as configured otherwise."""
    if language != "zh" or not any(
            c["name"] == "WhitespaceTokenizer" for c in config["pipeline"]):
        return config
    pipeline = [{"name": "JiebaTokenizer"} if c["name"] == "WhitespaceTokenizer" else c
                for c in config["pipeline"]]
    return {**config, "language": "zh", "pipeline": pipeline}


def featurizer_variants(settings: List[Text]) -> List[Dict[Text, Any]]:
    """Parses `--featurizer` arguments: each is one variant, "k=v[,k=v...]"; values
    are read as Rasa reads config.yml (YAML 1.2: 1e-4 is a number)."""
    from rasa.shared.utils.io import read_yaml

    variants = []
    for setting in settings:
        variant: Dict[Text, Any] = {}
        for pair in filter(None, setting.split(",")):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"'{pair}' is not key=value")
            variant[key.strip()] = read_yaml(f"value: {value}")["value"]
        variants.append(variant)
    return variants or [{}]


def project_pipeline() -> List[Dict[Text, Any]]:
    """config.yml's NLU pipeline."""
    import yaml

    return yaml.safe_load((PROJECT / "config.yml").read_text())["pipeline"]


def configured_encoder(pipeline: List[Dict[Text, Any]]) -> Text:
    """The encoder the pipeline's BertFeaturizer uses."""
    [featurizer] = [c for c in pipeline if c["name"].endswith("BertFeaturizer")]
    return str(featurizer["model"])


def pipelines(epochs: Optional[int], encoders: Optional[List[Text]] = None,
              variants: Optional[List[Dict[Text, Any]]] = None,
              ) -> Dict[Text, Dict[Text, Any]]:
    """Our pipeline (from config.yml, once per encoder, default config.yml's, and
    featurizer variant) and Rasa's default."""
    ours = project_pipeline()
    configs: Dict[Text, List[Dict[Text, Any]]] = {}
    for encoder in encoders or [configured_encoder(ours)]:
        for variant in variants or [{}]:
            # a packaged name or a model folder, then the options that differ
            name = f"ours: {Path(encoder).name}" + "".join(
                f", {k}={v}" for k, v in variant.items())
            overrides = {"model": encoder, **variant}
            configs[name] = [
                {**c, **overrides} if c["name"].endswith("BertFeaturizer") else dict(c)
                for c in ours
            ]
    configs["rasa-default"] = [dict(c) for c in RASA_DEFAULT_PIPELINE]
    result: Dict[Text, Dict[Text, Any]] = {}
    for name, pipeline in configs.items():
        pipeline = [dict(c) for c in pipeline if c["name"] not in EXCLUDED]
        for component in pipeline:
            if component["name"] == "DIETClassifier":
                component["random_seed"] = 42
                if epochs:
                    component["epochs"] = epochs
            if component.get("dictionary_path"):
                component["dictionary_path"] = str(PROJECT / component["dictionary_path"])
        # Rasa's WhitespaceTokenizer refuses `language: zh`; `rasa init` says "en"
        # (`for_language` switches it to Jieba and zh for Chinese datasets).
        language = "en" if name == "rasa-default" else "zh"
        model = next((c["model"] for c in pipeline if "model" in c), None)
        result[name] = {
            "encoder": model,
            "config": {"recipe": "default.v1", "language": language,
                       "pipeline": pipeline, "assistant_id": "nlu-benchmark"},
        }
    return result


def entity_spans(entities: List[Dict[Text, Any]]) -> Set[Tuple[Text, int, int]]:
    return {(e["entity"], int(e["start"]), int(e["end"])) for e in entities}


def exact_span_f1(gold: List[List[Dict[Text, Any]]],
                  predicted: List[List[Dict[Text, Any]]]) -> Optional[float]:
    """Micro-F1 of entities whose type, start and end all match (None: no entity
    in gold or predictions)."""
    tp = fp = fn = 0
    for want_entities, got_entities in zip(gold, predicted, strict=True):
        want, got = entity_spans(want_entities), entity_spans(got_entities)
        tp, fp, fn = tp + len(want & got), fp + len(got - want), fn + len(want - got)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


class CommonTokenizer:
    """The tokens every pipeline of a dataset is scored on (see the module's doc)."""

    def __init__(self, language: Text) -> None:
        self.language = language
        self._jieba: Any = None
        if language == "zh":
            import jieba

            self._jieba = jieba.Tokenizer()  # Jieba's own dictionary, no user words

    def __call__(self, text: Text) -> List[Any]:
        from rasa.nlu.tokenizers.tokenizer import Token

        if self._jieba is not None:
            return [Token(word, start) for word, start, _ in self._jieba.tokenize(text)
                    if word.strip()]
        return [Token(m.group(), m.start()) for m in re.finditer(r"\S+", text)]


def token_level_f1(gold: List[List[Dict[Text, Any]]],
                   predicted: List[List[Dict[Text, Any]]],
                   tokens: List[List[Any]]) -> Optional[float]:
    """`rasa test nlu`'s entity measure on the given tokens: per token, the gold and
    the predicted entity type covering it (Rasa's alignment); micro-F1 over the gold
    entity types, `no_entity` excluded (None: no gold entity on any token)."""
    from rasa.model_testing import get_evaluation_metrics
    from rasa.nlu.test import (
        EntityEvaluationResult,
        align_all_entity_predictions,
        merge_labels,
        substitute_labels,
    )
    from rasa.shared.nlu.constants import EXTRACTOR, NO_ENTITY_TAG

    extractor = "pipeline"
    results = [
        EntityEvaluationResult(
            [dict(e) for e in want],
            [{**e, EXTRACTOR: extractor} for e in got],
            message_tokens, "")
        for want, got, message_tokens in zip(gold, predicted, tokens, strict=True)
    ]
    aligned = align_all_entity_predictions(results, {extractor})
    targets = substitute_labels(merge_labels(aligned), NO_ENTITY_TAG, "no_entity")
    guesses = substitute_labels(merge_labels(aligned, extractor), NO_ENTITY_TAG,
                                "no_entity")
    if all(t == "no_entity" for t in targets):
        return None
    import warnings

    with warnings.catch_warnings():  # a type never predicted scores 0, as it should
        warnings.simplefilter("ignore")
        report, *_ = get_evaluation_metrics(targets, guesses, output_dict=True,
                                            exclude_label="no_entity")
    # `micro avg` when some labels are left out; `accuracy` when every label counts
    average = report.get("micro avg") or report.get("weighted avg")
    return float(average["f1-score"])


def slug(name: Text) -> Text:
    """A file-name-safe form of a pipeline name ("ours: m3e-small" → "ours-m3e-small")."""
    return re.sub(r"[^\w.-]+", "-", name)


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class EncoderTimer:
    """Times our encoder alone on a message, as the featurizer would run it."""

    def __init__(self, encoder_name: Text) -> None:
        from rasa.engine.storage.resource import Resource

        from bilingual_assistant.components.bert_featurizer import source_model
        from bilingual_assistant.components.bilingual_tokenizer import BilingualJiebaTokenizer
        from bilingual_assistant.encoders.torch_encoder import BertEncoder

        self.encoder = BertEncoder.from_directory(source_model(encoder_name))
        config = BilingualJiebaTokenizer.get_default_config()
        self.tokenizer = BilingualJiebaTokenizer(config, None, Resource("t"))  # type: ignore

    def __call__(self, text: Text) -> float:
        from rasa.shared.nlu.training_data.message import Message

        [message] = self.tokenizer.process([Message.build(text=text)])
        words = [t.text for t in message.get("text_tokens")]
        start = time.perf_counter()
        self.encoder.encode([words])
        return (time.perf_counter() - start) * 1000


async def evaluate(
    model_path: Text, test: List[Any], timer: Optional[EncoderTimer]
) -> Tuple[List, List[float], List[float]]:
    """Parses every test message; the encoder is timed on each message right
    before its parse, so both see the same machine load."""
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    predictions, latencies, encoder_ms = [], [], []
    for i, message in enumerate(test):
        if timer is not None:
            encoder_ms.append(timer(message.get("text")))
        start = time.perf_counter()
        parsed = await agent.parse_message(message.get("text"))
        latencies.append((time.perf_counter() - start) * 1000)
        predictions.append(parsed)
        if (i + 1) % 500 == 0:
            log(f"  parsed {i + 1}/{len(test)}")
    return predictions, latencies, encoder_ms


@dataclass
class Dataset:
    """Training data and test messages of one benchmark dataset."""

    name: Text
    train: Any  # rasa TrainingData
    test: List[Any]  # rasa Messages
    annotated: bool

    @property
    def language(self) -> Text:
        """"zh" when at least a fifth of the training messages hold Chinese."""
        return "zh" if is_chinese(m.get("text") for m in self.train.intent_examples) \
            else "en"


def csv_dataset(folder: Path, max_train: int) -> Dataset:
    from rasa.shared.nlu.training_data.training_data import TrainingData

    train_rows = subsample(read_split(folder, "train"), max_train)
    test_rows = read_split(folder, "test")
    return Dataset(folder.name, TrainingData(to_messages(train_rows)),
                   to_messages(test_rows), any(r.get("annotated") for r in test_rows))


def project_dataset() -> Dataset:
    """The project's own NLU data against its held-out test file."""
    from rasa.shared.nlu.training_data.loading import load_data

    train = load_data(str(PROJECT / "data" / "nlu"))
    test = load_data(str(PROJECT / "tests" / "nlu" / "held_out.yml")).intent_examples
    return Dataset("project", train, test, True)


def run_one(dataset: Dataset, name: Text, config: Dict, work: Path,
            encoder: Optional[Text], predictions_file: Optional[Path] = None) -> Result:
    import yaml
    from rasa.model_training import train_nlu
    from sklearn.metrics import accuracy_score, f1_score

    test = dataset.test
    language = dataset.language
    if name == "rasa-default":
        config = for_language(config, language)
    reset_jieba()
    data_file = work / f"{dataset.name}-train.yml"
    data_file.write_text(dataset.train.nlu_as_yaml(), encoding="utf-8")
    config_file = work / f"{dataset.name}-{slug(name)}.yml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    size = len(dataset.train.intent_examples)
    log(f"{dataset.name} / {name}: training on {size} examples")
    start = time.perf_counter()
    model = train_nlu(str(config_file), str(data_file), str(work / "models"),
                      fixed_model_name=f"{dataset.name}-{slug(name)}")
    train_seconds = time.perf_counter() - start
    if not model:
        raise RuntimeError(f"training failed for {dataset.name} / {name}")
    log(f"{dataset.name} / {name}: trained in {train_seconds:.0f}s; parsing "
        f"{len(test)} test messages")
    timer = EncoderTimer(encoder) if encoder else None
    predicted, latencies, encoder_ms = asyncio.run(evaluate(model, test, timer))

    gold = [m.get("intent") for m in test]
    guess = [p["intent"]["name"] for p in predicted]
    if predictions_file is not None:  # for reading the errors
        predictions_file.write_text(json.dumps([
            {"text": m.get("text"), "intent": m.get("intent"), "predicted_intent": p_intent,
             "entities": [{k: e[k] for k in ("entity", "start", "end", "value")}
                          for e in m.get("entities") or []],
             "predicted_entities": [{k: e.get(k) for k in ("entity", "start", "end", "value")}
                                    for e in p.get("entities") or []]}
            for m, p, p_intent in zip(test, predicted, guess, strict=True)
        ], ensure_ascii=False, indent=1), encoding="utf-8")
    entity_f1 = entity_token_f1 = None
    if dataset.annotated:
        wanted = [m.get("entities") or [] for m in test]
        found = [p.get("entities") or [] for p in predicted]
        entity_f1 = exact_span_f1(wanted, found)
        tokenize = CommonTokenizer(language)
        entity_token_f1 = token_level_f1(wanted, found,
                                         [tokenize(m.get("text")) for m in test])
    return Result(
        dataset=dataset.name, pipeline=name,
        train_examples=size, test_examples=len(test),
        intent_accuracy=accuracy_score(gold, guess),
        intent_macro_f1=f1_score(gold, guess, average="macro", zero_division=0),
        entity_f1=entity_f1, train_seconds=train_seconds,
        parse_p50_ms=percentile(latencies, 0.5), parse_p95_ms=percentile(latencies, 0.95),
        encoder_p50_ms=percentile(encoder_ms, 0.5) if encoder_ms else None,
        encoder_p95_ms=percentile(encoder_ms, 0.95) if encoder_ms else None,
        entity_token_f1=entity_token_f1, language=language,
    )


def reset_jieba() -> None:
    """Gives Jieba's process-wide tokenizer back its own dictionary: a pipeline's
    user dictionary (ours loads one) must not change how the next one splits."""
    import jieba

    jieba.dt.__init__()


def table(results: List[Result]) -> Text:
    def pct(x: Optional[float]) -> Text:
        return "–" if x is None else f"{100 * x:.1f}"

    def ms(x: Optional[float]) -> Text:
        return "–" if x is None else f"{x:.1f}"

    lines = [
        "| dataset | pipeline | train / test | intent acc % | intent macro-F1 % | "
        "entity F1 % exact span / token | train s | parse p50 / p95 ms | "
        "encoder p50 / p95 ms | parse p50 ÷ encoder p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ours = r.pipeline.startswith("ours")
        ratio = (f"{r.parse_p50_ms / r.encoder_p50_ms:.2f}"
                 if r.encoder_p50_ms and ours else "–")
        encoder = f"{ms(r.encoder_p50_ms)} / {ms(r.encoder_p95_ms)}" if ours else "–"
        lines.append(
            f"| {r.dataset} | {r.pipeline} | {r.train_examples} / {r.test_examples} | "
            f"{pct(r.intent_accuracy)} | {pct(r.intent_macro_f1)} | "
            f"{pct(r.entity_f1)} / {pct(r.entity_token_f1)} | "
            f"{r.train_seconds:.0f} | {ms(r.parse_p50_ms)} / {ms(r.parse_p95_ms)} | "
            f"{encoder} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", type=Path, help="folder of dataset folders")
    parser.add_argument("--only", nargs="*", help="dataset folder names to run")
    parser.add_argument("--pipelines", nargs="*", default=["ours", "rasa-default"],
                        help="ours and/or rasa-default")
    parser.add_argument("--encoders", nargs="*", default=None,
                        help="encoders for our pipeline, one run each "
                             "(default: config.yml's)")
    parser.add_argument("--featurizer", nargs="*", default=[],
                        help="featurizer variants, one run each: "
                             "'fine_tune_epochs=0' 'fine_tune_epochs=3,batch_size=32'")
    parser.add_argument("--project", action="store_true",
                        help="also run on the project's own data (held-out test file)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="DIET epochs for both pipelines (default: as configured)")
    parser.add_argument("--max-train", type=int, default=0,
                        help="at most this many training examples per intent (0: all)")
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    if not args.datasets.is_dir():
        parser.error(f"{args.datasets} is not a folder")
    folders = sorted(p for p in args.datasets.iterdir() if (p / "train.csv").is_file())
    if args.only:
        folders = [p for p in folders if p.name in args.only]
    if not folders and not args.project:
        parser.error(f"no dataset folders with train.csv in {args.datasets}")
    import logging

    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow.environment import setup_tf_environment

    configure_structlog(logging.INFO)  # keeps Rasa's progress bars, drops debug lines
    # As `rasa train` does: TF_INTRA_OP_PARALLELISM_THREADS and
    # TF_INTER_OP_PARALLELISM_THREADS set TensorFlow's thread pools.
    setup_tf_environment()
    try:
        variants = featurizer_variants(args.featurizer)
    except ValueError as e:
        parser.error(f"--featurizer: {e}")
    configs = pipelines(args.epochs, args.encoders, variants)
    names = [n for n in configs if n.split(":")[0] in args.pipelines]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    results: List[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        datasets = ([project_dataset()] if args.project else []) + [
            csv_dataset(folder, args.max_train) for folder in folders
        ]
        for dataset in datasets:
            for name in names:
                predictions = args.out / f"predictions-{stamp}-{dataset.name}-{slug(name)}.json"
                results.append(run_one(dataset, name, configs[name]["config"], Path(tmp),
                                       configs[name]["encoder"], predictions))
                (args.out / f"nlu-{stamp}.json").write_text(
                    json.dumps([asdict(r) for r in results], indent=2))
                (args.out / f"nlu-{stamp}.md").write_text(table(results) + "\n")
    print(table(results))
    log(f"results written to {args.out}/nlu-{stamp}.json and .md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
