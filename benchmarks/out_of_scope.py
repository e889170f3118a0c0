"""Out-of-scope recall and in-scope accuracy, baseline pipeline against config.yml.

Usage:
    python -m benchmarks.out_of_scope [--baseline-model M.tar.gz]
        [--improved-model M.tar.gz] [--percentiles 0 0.5 1 2 5]
        [--out benchmarks/results]

Trains two NLU models on data/nlu (unless given): the baseline is config.yml's
pipeline without `bilingual_assistant.components.novelty_classifier.NoveltyClassifier`, the improved
one config.yml as it is (Rasa's training cache reuses the encoder and DIET the
two share, so the second training only trains what differs). Both parse every
message of tests/nlu/off_topic.yml and tests/nlu/held_out.yml. An off-topic
message is handled when its intent is `out_of_scope` or `nlu_fallback`; in-scope
accuracy is over the held-out messages labelled with another intent.

The percentile is chosen on neither test set: a second table shows, for each of
`--percentiles`, the threshold it gives (from the training similarities stored
in the improved model) and what the gate would do with it (the baseline's
prediction, or `nlu_fallback` below the threshold: the pipelines are the same up
to the gate), on in-scope messages in neither test set (the validation set:
benchmarks/data/in_scope_validation.yml, and the questions of
benchmarks/data/retrieval_questions.yml as `ask_question`) as well as on the test
sets. The percentile to configure is the largest whose validation in-scope
accuracy stays within 1 point of the baseline's. Prints both tables and writes
them, with every prediction, to the output folder (JSON and Markdown).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from bilingual_assistant.config import apply_process_defaults  # noqa: E402

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

from bilingual_assistant.text import detect_language  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
OFF_TOPIC = PROJECT / "tests" / "nlu" / "off_topic.yml"
HELD_OUT = PROJECT / "tests" / "nlu" / "held_out.yml"
VALIDATION = PROJECT / "benchmarks" / "data" / "in_scope_validation.yml"
# Employees' questions about the documents (answerable or not): in scope.
QUESTIONS = PROJECT / "benchmarks" / "data" / "retrieval_questions.yml"
HANDLED = frozenset({"out_of_scope", "nlu_fallback"})
GATE = "bilingual_assistant.components.novelty_classifier.NoveltyClassifier"


def log(message: Text) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


@dataclass
class Prediction:
    """One test message and what a model made of it."""

    text: Text
    expected: Text
    predicted: Text
    confidence: float
    similarity: Optional[float]


@dataclass
class Scores:
    """One configuration's results."""

    configuration: Text
    recall_zh: float
    recall_en: float
    recall_all: float
    off_topic: int
    in_scope_accuracy: float
    in_scope: int
    in_scope_to_fallback: int
    held_out_out_of_scope_recall: float
    held_out_out_of_scope: int
    validation_accuracy: float
    validation: int


def ratio(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def accuracy(predictions: List[Prediction]) -> Tuple[float, int]:
    """Intent accuracy over the in-scope messages, and their number."""
    in_scope = [p for p in predictions if p.expected not in HANDLED]
    return ratio(sum(p.predicted == p.expected for p in in_scope), len(in_scope)), len(in_scope)


def score(name: Text, off_topic: List[Prediction], held_out: List[Prediction],
          validation: List[Prediction]) -> Scores:
    """Recall on the off-topic messages (by language), held-out and validation
    in-scope accuracy."""
    by_language: Dict[Text, List[bool]] = {"zh": [], "en": []}
    for p in off_topic:
        by_language.setdefault(detect_language(p.text) or "en", []).append(
            p.predicted in HANDLED)
    handled = [h for hits in by_language.values() for h in hits]
    in_scope = [p for p in held_out if p.expected not in HANDLED]
    negative = [p for p in held_out if p.expected in HANDLED]
    return Scores(
        configuration=name,
        recall_zh=ratio(sum(by_language["zh"]), len(by_language["zh"])),
        recall_en=ratio(sum(by_language["en"]), len(by_language["en"])),
        recall_all=ratio(sum(handled), len(handled)),
        off_topic=len(handled),
        in_scope_accuracy=ratio(sum(p.predicted == p.expected for p in in_scope),
                                len(in_scope)),
        in_scope=len(in_scope),
        in_scope_to_fallback=sum(p.predicted == "nlu_fallback" for p in in_scope),
        held_out_out_of_scope_recall=ratio(sum(p.predicted in HANDLED for p in negative),
                                           len(negative)),
        held_out_out_of_scope=len(negative),
        validation_accuracy=accuracy(validation)[0],
        validation=accuracy(validation)[1],
    )


def table(results: Sequence[Scores]) -> Text:
    """The Markdown table of the results."""

    def pct(x: float) -> Text:
        return f"{100 * x:.1f}"

    lines = [
        "| configuration | off-topic recall zh % | en % | all % | held-out in-scope "
        "accuracy % | in-scope → nlu_fallback | held-out out_of_scope recall % | "
        "validation in-scope accuracy % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.configuration} | {pct(r.recall_zh)} | {pct(r.recall_en)} | "
            f"{pct(r.recall_all)} ({r.off_topic}) | {pct(r.in_scope_accuracy)} "
            f"({r.in_scope}) | {r.in_scope_to_fallback} | "
            f"{pct(r.held_out_out_of_scope_recall)} ({r.held_out_out_of_scope}) | "
            f"{pct(r.validation_accuracy)} ({r.validation}) |"
        )
    return "\n".join(lines) + "\n"


def gated(baseline: List[Prediction], improved: List[Prediction], threshold: float,
          exempt: Sequence[Text] = ()) -> List[Prediction]:
    """The baseline's predictions after a gate at `threshold` (leaving `exempt`
    intents alone), from the similarities the improved model reported."""
    result = []
    for before, after in zip(baseline, improved, strict=True):
        falls_back = (after.similarity is not None and after.similarity < threshold
                      and before.predicted not in HANDLED
                      and before.predicted not in exempt)
        result.append(replace(before, predicted="nlu_fallback") if falls_back else before)
    return result


def calibration_similarities(model: Text) -> List[float]:
    """The training examples' nearest-neighbour similarities the gate stored."""
    with tarfile.open(model) as archive:
        for member in archive.getmembers():
            if member.name.endswith("/novelty.json"):
                handle = archive.extractfile(member)
                if handle is not None:
                    return json.loads(handle.read())["nearest_similarities"]
    raise SystemExit(f"{model} holds no NoveltyClassifier settings.")


def sweep(baseline: Dict[Text, List[Prediction]], improved: Dict[Text, List[Prediction]],
          similarities: List[float], percentiles: List[float],
          exempt: Sequence[Text] = ()) -> List[Scores]:
    """What the gate would do at each percentile of the training similarities."""
    import numpy as np

    results = []
    for q in percentiles:
        threshold = float(np.percentile(similarities, q))
        at = {k: gated(baseline[k], improved[k], threshold, exempt) for k in baseline}
        results.append(score(f"percentile {q:g} (threshold {threshold:.3f})",
                             at["off_topic"], at["held_out"], at["validation"]))
    return results


def chosen(baseline: Scores, swept: List[Scores], percentiles: List[float]) -> float:
    """The largest percentile whose validation in-scope accuracy is within 1 point
    of the baseline's (the smallest listed when none is)."""
    allowed = [q for q, r in zip(percentiles, swept, strict=True)
               if r.validation_accuracy >= baseline.validation_accuracy - 0.01]
    return max(allowed) if allowed else min(percentiles)


def configurations(config_path: Path) -> Dict[Text, Dict[Text, Any]]:
    """The baseline (config.yml without the gate) and the improved (config.yml)
    NLU configurations."""
    import yaml

    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.pop("policies", None)
    if not any(c["name"] == GATE for c in config["pipeline"]):
        raise SystemExit(f"{config_path} has no {GATE}: nothing to compare.")
    baseline = {**config, "pipeline": [c for c in config["pipeline"] if c["name"] != GATE]}
    return {"baseline": baseline, "improved": config}


def train(name: Text, config: Dict[Text, Any], work: Path) -> Text:
    import yaml
    from rasa.model_training import train_nlu

    config_file = work / f"{name}.yml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    log(f"{name}: training on data/nlu (about 4 minutes on 2 cores, less when "
        f"Rasa's cache holds the shared components)")
    model = train_nlu(str(config_file), str(PROJECT / "data" / "nlu"),
                      str(work / "models"), fixed_model_name=name)
    if not model:
        raise RuntimeError(f"training failed for {name}")
    log(f"{name}: trained {model}")
    return model


def examples(path: Path) -> List[Tuple[Text, Text]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(m.get("text"), m.get("intent")) for m in load_data(str(path)).intent_examples]


def validation_examples() -> List[Tuple[Text, Text]]:
    """The validation set and the retrieval benchmark's questions (`ask_question`)."""
    import yaml

    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    return examples(VALIDATION) + [(q["question"], "ask_question") for q in questions]


async def predict(model: Text, tests: Dict[Text, List[Tuple[Text, Text]]]
                  ) -> Dict[Text, List[Prediction]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    results: Dict[Text, List[Prediction]] = {}
    for name, messages in tests.items():
        results[name] = []
        for text, expected in messages:
            parsed = await agent.parse_message(text)
            intent = parsed.get("intent") or {}
            results[name].append(Prediction(
                text, expected, intent.get("name") or "", float(intent.get("confidence") or 0),
                parsed.get("nearest_training_similarity")))
        log(f"  parsed {len(messages)} messages of {name}")
    return results


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-model", help="a trained baseline model (skip training)")
    parser.add_argument("--improved-model", help="a trained improved model (skip training)")
    parser.add_argument("--config", type=Path, default=PROJECT / "config.yml")
    parser.add_argument("--percentiles", type=float, nargs="+",
                        default=[0.0, 0.5, 1.0, 2.0, 5.0])
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    tests = {"off_topic": examples(OFF_TOPIC), "held_out": examples(HELD_OUT),
             "validation": validation_examples()}
    log(", ".join(f"{len(v)} {k} messages" for k, v in tests.items()))
    given = {"baseline": args.baseline_model, "improved": args.improved_model}
    results, predictions, predicted, models = [], {}, {}, {}
    configs = configurations(args.config)
    [gate] = [c for c in configs["improved"]["pipeline"] if c["name"] == GATE]
    with tempfile.TemporaryDirectory(prefix="oos-benchmark-") as work:
        for name, config in configs.items():
            models[name] = given[name] or train(name, config, Path(work))
            log(f"{name}: parsing with {models[name]}")
            predicted[name] = asyncio.run(predict(models[name], tests))
            predictions[name] = {k: [asdict(p) for p in v] for k, v in predicted[name].items()}
            results.append(score(name, *(predicted[name][k] for k in tests)))
            log(f"{name}: off-topic recall {100 * results[-1].recall_all:.1f} %, "
                f"in-scope accuracy {100 * results[-1].in_scope_accuracy:.1f} %")
        similarities = calibration_similarities(models["improved"])
    swept = sweep(predicted["baseline"], predicted["improved"], similarities,
                  args.percentiles, gate.get("exempt_intents") or [])
    best = chosen(results[0], swept, args.percentiles)

    markdown = (table(results) + "\nThe gate at other percentiles of the training "
                "similarities (simulated from the two models' predictions):\n\n"
                + table(swept) + f"\nPercentile chosen on the validation set: {best:g}\n")
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    (args.out / f"out-of-scope-{stamp}.md").write_text(markdown, encoding="utf-8")
    (args.out / f"out-of-scope-{stamp}.json").write_text(json.dumps(
        {"results": [asdict(r) for r in results], "sweep": [asdict(r) for r in swept],
         "chosen_percentile": best, "predictions": predictions},
        ensure_ascii=False, indent=1), encoding="utf-8")
    log(f"wrote {args.out}/out-of-scope-{stamp}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
