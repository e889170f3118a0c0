"""Trains the answerability model: when the documents answer, when to say "not sure".

    python -m apps.cli.answerability [--datasets DIR] [--out PATH]
        [--claim-rate 0.05] [--miss-rate 0.05] [--max-questions 300]
        [--no-verifier] [--candidates 5] [--report REPORT.json]

Each document set is indexed into its own temporary Milvus Lite file with the
configured embedder, each question searched and its sentences ranked exactly as
the answer service does (`AnswerService.assess`), and the retrieval labelled: 1
when the quoted sentences hold the answer (any spelling of every fact, none of
the wrong values), 0 otherwise, and 0 for questions whose answer is not in the
index. The sets: the project's own questions about knowledge/ (the tune half of
benchmarks/data/answer_questions.yml), and, when DATASETS holds them, the tune
halves of the CMRC 2018 trial paragraphs and of the SQuAD 2.0 sample (their
unanswerable questions made by leaving their own paragraph out of the index).
The test halves are never read: the answer benchmark reports on them.

The thresholds are chosen on out-of-fold scores (five folds by paragraph or
document): at most `--claim-rate` of unanswerable questions may get an answer,
and at most `--miss-rate` of rightly answered ones may be told "not in the
documents". A message the NLU took for off-topic gets "not sure" (rather than the
out-of-scope reply) only from a third threshold that at most `--claim-rate` of the
off-topic examples DIET is trained on (data/nlu, intent `out_of_scope`) reach on
knowledge/. The held-out off-topic messages (tests/nlu/off_topic.yml) are scored
as a check only, never tuned on. Writes the model and prints what it does on each set.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import yaml

from apps.cli.wiring import build_index
from apps.entrypoint import run
from benchmarks.grading import mentions
from benchmarks.public_sets import DATASETS, SETS, build_sets
from bilingual_assistant.answers.answerability import Example, reordered, routed_threshold, train
from bilingual_assistant.answers.cache import LRUAnswerCache
from bilingual_assistant.answers.context import resolve_question
from bilingual_assistant.answers.models import Turn
from bilingual_assistant.answers.service import AnswerService, Assessment
from bilingual_assistant.config import environment, load_settings
from bilingual_assistant.encoders.cross_encoder import OnnxCrossEncoder, missing_files
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.retrieval import Retriever
from bilingual_assistant.text import detect_language

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "benchmarks" / "data" / "answer_questions.yml"
OFF_TOPIC = ROOT / "tests" / "nlu" / "off_topic.yml"
OUT_OF_SCOPE_EXAMPLES = (ROOT / "data" / "nlu" / "zh" / "chitchat.yml",
                         ROOT / "data" / "nlu" / "en" / "chitchat.yml")


def label(item: Dict[Text, Any], assessment: Assessment, quoted: Text) -> int:
    """1 when the item is answerable and the quote holds every fact and no wrong value."""
    if item["kind"] == "unanswerable" or not assessment.passages:
        return 0
    facts = all(any(mentions(quoted, s) for s in fact) for fact in item["facts"])
    wrong = any(mentions(quoted, s) for s in item.get("wrong") or [])
    return int(facts and not wrong)


class Corpus:
    """One temporary index of a document folder, searched as the answer service does."""

    def __init__(self, documents: Path, work: Path, name: Text,
                 verifier: Optional[OnnxCrossEncoder] = None,
                 embedding_model: Optional[Text] = None) -> None:
        env = {**environment(), "MILVUS_URI": "", "REDIS_URL": "",
               "MILVUS_LITE_PATH": str(work / f"{name}.db")}
        if embedding_model:  # else the configured one (`EMBEDDING_MODEL`)
            env["EMBEDDING_MODEL"] = embedding_model
        self.settings = load_settings(env)
        self.embedder, self.store = build_index(self.settings)
        report = ingest(documents, self.store, self.embedder,
                        self.settings.knowledge.chunk_size,
                        self.settings.knowledge.chunk_overlap)
        print(f"  {name}: {report.summary()}", flush=True)
        self.service = AnswerService(
            Retriever(self.store, self.embedder, self.settings.retrieval), LRUAnswerCache(),
            version=self.store.version, embedder=self.embedder, verifier=verifier)

    def examine(self, question: Text, language: Text, latest: Optional[Text] = None
                ) -> Tuple[Assessment, List[Text]]:
        """The assessment and, for each candidate sentence, the quote the service
        would send if it were chosen (`latest`: a follow-up's own message, `question`
        then being it joined to the earlier question)."""
        assessment = asyncio.run(self.service.assess(question, latest))
        quotes = []
        if assessment.passages:
            quotes = [self.service._quoted(question, assessment.passages,
                                           reordered(assessment.unchosen, index), language,
                                           "extractive").text
                      for index in range(len(assessment.candidates))]
        return assessment, quotes or [""]

    def close(self) -> None:
        self.store.close()


def searched(item: Dict[Text, Any]) -> Tuple[Text, Optional[Text]]:
    """What the answer service searches for an item, and the follow-up's own message:
    a follow-up ("那周末呢?") is joined to the question it follows, as in a
    conversation (measured: left out of training, the README's follow-ups, joined
    and longer than any question the model had seen, all got "not sure")."""
    if item["kind"] != "follow_up":
        return item["question"], None
    history = [Turn("user", item["previous"]), Turn("assistant", "")]
    return resolve_question(item["question"], history), item["question"]


def examples_of(corpus: Corpus, items: Sequence[Dict[Text, Any]], name: Text,
                group_of: Any) -> List[Example]:
    """The labelled retrievals of the items (a follow-up joined to its question)."""
    examples = []
    chosen = [i for i in items if i["kind"] in ("answerable", "unanswerable", "follow_up")]
    for number, item in enumerate(chosen, start=1):
        query, latest = searched(item)
        assessment, quotes = corpus.examine(query, item["language"], latest)
        options = tuple((named, label(item, assessment, quoted))
                        for named, quoted in zip(assessment.candidates, quotes, strict=False))
        examples.append(Example(options[0][0], options[0][1], item["kind"] == "unanswerable",
                                group_of(item), name, options[1:]))
        if number % 50 == 0 or number == len(chosen):
            print(f"  {name}: {number}/{len(chosen)} questions", flush=True)
    return examples


def project_examples(work: Path, verifier: Optional[OnnxCrossEncoder]
                     ) -> Tuple[List[Example], Corpus]:
    items = [i for i in yaml.safe_load(QUESTIONS.read_text("utf-8")) if i["split"] == "tune"]
    corpus = Corpus(ROOT / "knowledge", work, "project", verifier)
    # A question's group: its first source document, or itself when unanswerable.
    examples = examples_of(corpus, items, "project",
                           lambda i: (i["sources"] or [i["id"]])[0].split("/")[-1])
    return examples, corpus


def public_examples(datasets: Path, work: Path, max_questions: int,
                    verifier: Optional[OnnxCrossEncoder]) -> List[Example]:
    examples: List[Example] = []
    for name, (relative, _) in SETS.items():
        if not (datasets / relative).exists():
            print(f"  {name}: {datasets / relative} not found, left out", flush=True)
            continue
        for number, one in enumerate(build_sets(name, datasets, "tune", max_questions)):
            folder = work / f"{name}-{number}"
            one.write(folder)
            corpus = Corpus(folder, work, f"{name}{number}", verifier)
            try:
                # A question's group: its paragraph (answerable) or itself.
                examples += examples_of(corpus, one.items, name,
                                        lambda i: (i["sources"] or [i["id"]])[0])
            finally:
                corpus.close()
    return examples


def nlu_examples(path: Path, intent: Optional[Text] = None) -> List[Text]:
    """The examples of an NLU file (of one intent when given), entity marks removed."""
    data = yaml.safe_load(path.read_text("utf-8"))
    return [re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", line.strip()[2:].strip())
            for block in data["nlu"] if intent in (None, block.get("intent"))
            for line in (block.get("examples") or "").splitlines()
            if line.strip().startswith("- ")]


def probabilities(corpus: Corpus, model: Any, messages: Sequence[Text]) -> List[float]:
    """The model's probability for each message searched in the corpus (0 when
    nothing is retrieved)."""
    scores = []
    for text in messages:
        assessment, _ = corpus.examine(text, detect_language(text) or "en")
        scores.append(model.choose(assessment.candidates)[1] if assessment.passages else 0.0)
    return scores


def off_topic_claims(corpus: Corpus, model: Any) -> Dict[Text, int]:
    """What the model would do with the held-out off-topic messages routed in from
    knowledge/: answer, or "not sure" (the rest get the out-of-scope reply)."""
    scores = probabilities(corpus, model, nlu_examples(OFF_TOPIC))
    decisions = [model.decide_routed(p) for p in scores]
    return {"n": len(scores), "claimed": decisions.count("answer"),
            "unsure": decisions.count("unsure")}


def commit() -> Text:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def print_report(report: Dict[Text, Any], model: Any) -> None:
    print(f"\nThresholds: answer from {model.answer_threshold:.3f}, "
          f"\"not in the documents\" below {model.not_found_threshold:.3f}")
    print("| corpus | kind | n | quote right | answered | answered right | not sure | "
          "not in the documents |")
    print("|---|---|---|---|---|---|---|---|")
    for corpus, kinds in report["out_of_fold"].items():
        for kind, r in kinds.items():
            print(f"| {corpus} | {kind} | {r['n']} | {r['right']} | {r['claimed']} | "
                  f"{r['claimed_right']} | {r['unsure']} | {r['not_found']} |")
    routed = report.get("routed")
    if routed:
        print(f"Routed-in messages get \"not sure\" from {routed['unsure_threshold']:.3f} "
              f"(set on {routed['tuning_messages']} off-topic training examples)")
    off = report.get("off_topic")
    if off:
        print(f"Held-out off-topic messages routed in on knowledge/ (a check, not tuned "
              f"on): {off['claimed']} of {off['n']} answered, {off.get('unsure', 0)} "
              f"\"not sure\"")


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Trains and saves the model; 0 on success."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS,
                        help="public reading-comprehension sets (default ../shared/datasets)")
    parser.add_argument("--out", type=Path, default=Path(settings.answers.answerability_model))
    parser.add_argument("--claim-rate", type=float, default=0.05)
    parser.add_argument("--miss-rate", type=float, default=0.05)
    parser.add_argument("--max-questions", type=int, default=300,
                        help="questions per public set's tune half")
    parser.add_argument("--no-verifier", action="store_true",
                        help="leave the verifier out even when it is trained")
    parser.add_argument("--candidates", type=int, default=None,
                        help="with the verifier: the best-ranked sentences the model "
                             "chooses among (default 5)")
    parser.add_argument("--report", type=Path,
                        help="also write the training report (out-of-fold counts) here")
    parser.add_argument("--examples", type=Path,
                        help="also write every labelled retrieval here (JSON lines)")
    args = parser.parse_args(argv)
    verifier = None
    runtime = all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers"))
    if args.no_verifier or missing_files(settings.verifier_dir):
        print("Without a verifier (`make verifier` trains one)", flush=True)
    elif not runtime:
        print(f"Without the verifier in {settings.verifier_dir}: this environment lacks "
              "onnxruntime or tokenizers", flush=True)
    else:
        verifier = OnnxCrossEncoder(settings.verifier_dir)
        print(f"With the verifier in {settings.verifier_dir}", flush=True)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("Measuring the project's tune questions on knowledge/ ...", flush=True)
        examples, project = project_examples(work, verifier)
        try:
            print(f"Measuring public sets in {args.datasets} ...", flush=True)
            examples += public_examples(args.datasets, work, args.max_questions, verifier)
            report: Dict[Text, Any] = {
                "command": "python -m apps.cli.answerability " + " ".join(
                    sys.argv[1:] if argv is None else argv),
                "commit": commit(), "date": dt.datetime.now(dt.UTC).isoformat(),
                "machine": platform.node(), "cpus": os.cpu_count(),
                "load_1min": load, "corpora": sorted({e.corpus for e in examples}),
                "verifier": str(settings.verifier_dir) if verifier is not None else None,
            }
            if args.examples:
                args.examples.parent.mkdir(parents=True, exist_ok=True)
                args.examples.write_text("".join(
                    json.dumps(dataclasses.asdict(e), ensure_ascii=False) + "\n"
                    for e in examples), encoding="utf-8")
            model = train(examples, settings.knowledge.embedding_model, args.claim_rate,
                          args.miss_rate, report=report, candidates=args.candidates)
            # The off-topic examples DIET is trained on (not the held-out ones) set
            # where a routed-in message may get "not sure" instead of the
            # out-of-scope reply.
            tuning = [text for path in OUT_OF_SCOPE_EXAMPLES
                      for text in nlu_examples(path, "out_of_scope")]
            threshold = routed_threshold(probabilities(project, model, tuning),
                                         model.answer_threshold, model.not_found_threshold,
                                         args.claim_rate)
            model = dataclasses.replace(model, routed_unsure_threshold=threshold)
            model.report["routed"] = {"tuning_messages": len(tuning),
                                      "unsure_threshold": threshold}
            model.report["off_topic"] = off_topic_claims(project, model)
        finally:
            project.close()
    model.report["seconds"] = round(time.perf_counter() - started, 1)
    model.save(args.out)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(
            {**model.report, "features": list(model.features),
             "answer_threshold": model.answer_threshold,
             "not_found_threshold": model.not_found_threshold},
            indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print_report(model.report, model)
    print(f"Saved {args.out} in {model.report['seconds']} s")
    return 0


if __name__ == "__main__":
    run(main)
