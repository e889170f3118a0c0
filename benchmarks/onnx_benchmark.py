"""Our NLU pipeline with the featurizer on PyTorch and on ONNX Runtime (INT8), side by side.

Usage:
    python -m benchmarks.onnx_benchmark ../shared/datasets [--only smp_ecdt_task1_domain]
        [--no-project] [--epochs 40] [--repeats 3] [--out benchmarks/results]
        [--keep DIR] [--runtimes torch onnx] [--train-only]
        [--models torch=A.tar.gz onnx=B.tar.gz]

Training both runtimes of a dataset in two processes at once (one per core), then
comparing them: `--keep DIR --runtimes torch --train-only` and the same with `onnx`
keep each model (and its training time, `<archive>.json`) in DIR; `--only D
--no-project --models torch=DIR/D-torch.tar.gz onnx=DIR/D-onnx.tar.gz` measures them
side by side without training.

For each dataset (the project's own data against tests/nlu/held_out.yml, and the
dataset folders named by `--only`, SMP-ECDT by default) config.yml's pipeline, as
`benchmarks.nlu_benchmark` runs it (fallback gates left out, DIET seed 42), is
trained twice: `runtime: torch` and `runtime: onnx`, nothing else different (the
same fine-tuning, seed and epochs; with onnx the fine-tuned encoder is exported,
quantised to INT8, and DIET learns on the quantised encoder's features). Then both
models are loaded and every test message goes through both, interleaved (the
order alternates message by message, so both runtimes see the same machine load):

- encoder forward: the trained featurizer's own encoder (PyTorch weights, or the
  ONNX Runtime session) on the message's words, `--repeats` times per message;
- parse: `Agent.parse_message`, the whole NLU pipeline, once per message.

It prints and writes (`onnx-<time>.json` and `.md` under `--out`): intent accuracy
and macro-F1, training time, the featurizer's stored encoder size, the model archive's
size, parse and encoder p50 / p95, and the onnx ÷ torch ratio of the encoder and
parse p50s (measured in the same run, never compared across runs).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from bilingual_assistant.config import apply_process_defaults  # noqa: E402

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

from benchmarks.nlu_benchmark import (  # noqa: E402
    PROJECT,
    Dataset,
    csv_dataset,
    log,
    percentile,
    pipelines,
    project_dataset,
    reset_jieba,
    slug,
)

RUNTIMES = ("torch", "onnx")
DEFAULT_DATASETS = ["smp_ecdt_task1_domain"]


@dataclass
class Row:
    """One runtime on one dataset."""

    dataset: Text
    runtime: Text
    train_examples: int
    test_examples: int
    intent_accuracy: float
    intent_macro_f1: float
    train_seconds: float
    encoder_bytes: int
    archive_bytes: int
    parse_p50_ms: float
    parse_p95_ms: float
    encoder_p50_ms: float
    encoder_p95_ms: float
    encoder_ratio: Optional[float] = None  # onnx p50 ÷ torch p50, same run
    parse_ratio: Optional[float] = None


def train(dataset: Dataset, name: Text, config: Dict[Text, Any], work: Path,
          models_dir: Path) -> Tuple[Text, float]:
    """Trains one NLU model into `models_dir`; returns its archive and the training
    time (also written beside the archive, `<archive>.json`)."""
    import yaml
    from rasa.model_training import train_nlu

    reset_jieba()
    data_file = work / f"{dataset.name}-train.yml"
    data_file.write_text(dataset.train.nlu_as_yaml(), encoding="utf-8")
    config_file = work / f"{dataset.name}-{slug(name)}.yml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    log(f"{dataset.name} / {name}: training on {len(dataset.train.intent_examples)} examples")
    start = time.perf_counter()
    model = train_nlu(str(config_file), str(data_file), str(models_dir),
                      fixed_model_name=f"{dataset.name}-{slug(name)}")
    seconds = time.perf_counter() - start
    if not model:
        raise RuntimeError(f"training failed for {dataset.name} / {name}")
    Path(f"{model}.json").write_text(json.dumps({"train_seconds": seconds}))
    log(f"{dataset.name} / {name}: trained in {seconds:.0f}s")
    return model, seconds


class TrainedEncoder:
    """The BertFeaturizer of a trained model, loaded from its archive as Rasa loads it,
    with the tokenizer the benchmark times the encoder behind."""

    def __init__(self, model: Text, storage_dir: Path) -> None:
        from rasa.engine.graph import ExecutionContext
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        from rasa.engine.storage.resource import Resource

        from bilingual_assistant.components.bert_featurizer import BertFeaturizer
        from bilingual_assistant.components.bilingual_tokenizer import BilingualJiebaTokenizer

        storage_dir.mkdir(parents=True)
        storage, metadata = LocalModelStorage.from_model_archive(storage_dir, model)
        schema = metadata.predict_schema
        [(node, found)] = [(n, s) for n, s in schema.nodes.items()
                           if s.uses is BertFeaturizer]
        config = {**BertFeaturizer.get_default_config(), **found.config}
        self.featurizer = BertFeaturizer.load(config, storage, found.resource,
                                              ExecutionContext(schema, node_name=node))
        with storage.read_from(found.resource) as directory:
            self.encoder_bytes = sum(
                p.stat().st_size for p in Path(directory).iterdir()
                if p.suffix in (".onnx", ".safetensors", ".bin"))
        tokenizer_config = BilingualJiebaTokenizer.get_default_config()
        self.tokenizer = BilingualJiebaTokenizer(tokenizer_config, None,  # type: ignore
                                                 Resource("t"))

    def words(self, text: Text) -> List[Text]:
        from rasa.shared.nlu.training_data.message import Message

        [message] = self.tokenizer.process([Message.build(text=text)])
        return [t.text for t in message.get("text_tokens")]

    def time_ms(self, words: List[Text]) -> float:
        start = time.perf_counter()
        self.featurizer.encoder.encode([words])
        return (time.perf_counter() - start) * 1000


async def side_by_side(models: Dict[Text, Text], test: List[Any], work: Path,
                       repeats: int) -> Dict[Text, Dict[Text, Any]]:
    """Parses every test message with every model, interleaved; times the encoders."""
    from rasa.core.agent import Agent

    agents = {r: Agent.load(m) for r, m in models.items()}
    encoders = {r: TrainedEncoder(m, work / f"storage-{r}") for r, m in models.items()}
    out: Dict[Text, Dict[Text, Any]] = {
        r: {"predicted": [], "parse_ms": [], "encoder_ms": [],
            "encoder_bytes": encoders[r].encoder_bytes} for r in models}
    runtimes = list(models)
    for text in [m.get("text") for m in test[:5]]:  # warm-up, not measured
        for r in runtimes:
            encoders[r].time_ms(encoders[r].words(text))
            await agents[r].parse_message(text)
    for i, message in enumerate(test):
        text = message.get("text")
        order = runtimes if i % 2 == 0 else runtimes[::-1]
        words = encoders[runtimes[0]].words(text)
        for _ in range(repeats):
            for r in order:
                out[r]["encoder_ms"].append(encoders[r].time_ms(words))
        for r in order:
            start = time.perf_counter()
            parsed = await agents[r].parse_message(text)
            out[r]["parse_ms"].append((time.perf_counter() - start) * 1000)
            out[r]["predicted"].append(parsed)
        if (i + 1) % 200 == 0:
            log(f"  parsed {i + 1}/{len(test)}")
    return out


def trained_seconds(model: Text) -> float:
    """The training time written beside a kept model archive."""
    return float(json.loads(Path(f"{model}.json").read_text())["train_seconds"])


def run_dataset(dataset: Dataset, configs: Dict[Text, Dict[Text, Any]], work: Path,
                repeats: int, out_dir: Path, stamp: Text, models_dir: Path,
                given: Dict[Text, Text], train_only: bool) -> List[Row]:
    from sklearn.metrics import accuracy_score, f1_score

    models: Dict[Text, Text] = {}
    seconds: Dict[Text, float] = {}
    for runtime, config in configs.items():
        if runtime in given:
            models[runtime], seconds[runtime] = given[runtime], trained_seconds(given[runtime])
        else:
            models[runtime], seconds[runtime] = train(dataset, runtime, config, work,
                                                      models_dir)
    if train_only:
        return []
    log(f"{dataset.name}: parsing {len(dataset.test)} test messages with both models")
    measured = asyncio.run(side_by_side(models, dataset.test, work / dataset.name, repeats))
    gold = [m.get("intent") for m in dataset.test]
    rows = []
    for runtime in configs:
        m = measured[runtime]
        guess = [p["intent"]["name"] for p in m["predicted"]]
        (out_dir / f"predictions-{stamp}-onnx-{dataset.name}-{runtime}.json").write_text(
            json.dumps([{"text": t.get("text"), "intent": g, "predicted_intent": p}
                        for t, g, p in zip(dataset.test, gold, guess, strict=True)],
                       ensure_ascii=False, indent=1), encoding="utf-8")
        rows.append(Row(
            dataset=dataset.name, runtime=runtime,
            train_examples=len(dataset.train.intent_examples),
            test_examples=len(dataset.test),
            intent_accuracy=accuracy_score(gold, guess),
            intent_macro_f1=f1_score(gold, guess, average="macro", zero_division=0),
            train_seconds=seconds[runtime], encoder_bytes=m["encoder_bytes"],
            archive_bytes=Path(models[runtime]).stat().st_size,
            parse_p50_ms=percentile(m["parse_ms"], 0.5),
            parse_p95_ms=percentile(m["parse_ms"], 0.95),
            encoder_p50_ms=percentile(m["encoder_ms"], 0.5),
            encoder_p95_ms=percentile(m["encoder_ms"], 0.95),
        ))
    base = rows[0]
    for row in rows[1:]:
        row.encoder_ratio = row.encoder_p50_ms / base.encoder_p50_ms
        row.parse_ratio = row.parse_p50_ms / base.parse_p50_ms
    return rows


def table(rows: List[Row]) -> Text:
    def ratio(x: Optional[float]) -> Text:
        return "–" if x is None else f"{x:.2f}"

    lines = [
        "| dataset | runtime | train / test | intent acc % | intent macro-F1 % | "
        "train s | encoder file MB | model archive MB | encoder p50 / p95 ms | "
        "parse p50 / p95 ms | encoder p50 onnx ÷ torch | parse p50 onnx ÷ torch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.dataset} | {r.runtime} | {r.train_examples} / {r.test_examples} | "
            f"{100 * r.intent_accuracy:.1f} | {100 * r.intent_macro_f1:.1f} | "
            f"{r.train_seconds:.0f} | {r.encoder_bytes / 1e6:.0f} | "
            f"{r.archive_bytes / 1e6:.0f} | "
            f"{r.encoder_p50_ms:.1f} / {r.encoder_p95_ms:.1f} | "
            f"{r.parse_p50_ms:.1f} / {r.parse_p95_ms:.1f} | "
            f"{ratio(r.encoder_ratio)} | {ratio(r.parse_ratio)} |")
    return "\n".join(lines)


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", type=Path, help="folder of dataset folders")
    parser.add_argument("--only", nargs="*", default=DEFAULT_DATASETS,
                        help="dataset folder names to run (default: SMP-ECDT)")
    parser.add_argument("--no-project", action="store_true",
                        help="leave out the project's own data (held-out test file)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="DIET epochs (default: as configured)")
    parser.add_argument("--featurizer", default="",
                        help="featurizer options for both runtimes: 'fine_tune_epochs=3'")
    parser.add_argument("--repeats", type=int, default=3,
                        help="encoder timings per message and runtime")
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES,
                        help="the runtimes to train and compare (the first is the base)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the trained models here (default: a temporary folder)")
    parser.add_argument("--train-only", action="store_true",
                        help="train (with --keep) and stop: no comparison")
    parser.add_argument("--models", nargs="*", default=[],
                        help="runtime=archive: compare these trained models (of the "
                             "one dataset given) instead of training")
    args = parser.parse_args(argv)
    given = dict(m.split("=", 1) for m in args.models)
    if set(given) - set(RUNTIMES):
        parser.error(f"--models: runtimes are {', '.join(RUNTIMES)}")

    folders = [args.datasets / name for name in args.only or []]
    missing = [str(f) for f in folders if not (f / "train.csv").is_file()]
    if missing:
        parser.error(f"no train.csv in {', '.join(missing)}")
    import logging

    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow.environment import setup_tf_environment

    from benchmarks.nlu_benchmark import featurizer_variants

    configure_structlog(logging.INFO)
    setup_tf_environment()
    [shared] = featurizer_variants([args.featurizer])
    variants = [{**shared, "runtime": runtime} for runtime in args.runtimes]
    built = pipelines(args.epochs, None, variants)
    configs = {runtime: built[name]["config"] for runtime, name in
               zip(args.runtimes, [n for n in built if n != "rasa-default"], strict=True)}
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    rows: List[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        datasets = ([] if args.no_project else [project_dataset()]) + [
            csv_dataset(folder, 0) for folder in folders]
        models_dir = args.keep or Path(tmp) / "models"
        for dataset in datasets:
            rows.extend(run_dataset(dataset, configs, Path(tmp), args.repeats, args.out,
                                    stamp, models_dir, given, args.train_only))
            if not args.train_only:
                (args.out / f"onnx-{stamp}.json").write_text(
                    json.dumps([asdict(r) for r in rows], indent=2))
                (args.out / f"onnx-{stamp}.md").write_text(table(rows) + "\n")
        if args.train_only:
            log(f"models kept in {models_dir}")
            return 0
    print(table(rows))
    log(f"results written to {args.out}/onnx-{stamp}.json and .md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
