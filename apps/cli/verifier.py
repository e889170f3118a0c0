"""Trains the cross-encoder verifier and measures whether it picks answering sentences
better than the current ranking (issue #25 item 4).

    python -m apps.cli.verifier --datasets /work/shared/datasets \\
        --out ~/.cache/bilingual-assistant/verifier [--epochs 2] [--max-questions 200]
        [--no-prefixes] [--keep-float none|ffn_output] [--frozen-layers 0]
        [--baseline-python ACTIONS_ENV/bin/python] [--evaluate-only] [--tag NAME]

Runs in Rasa's environment (PyTorch). Training pairs come from TUNE halves only:
the CMRC 2018 trial paragraphs' tune half (`benchmarks.public_sets.split_paragraphs`),
the SQuAD 2.0 sample's tune questions, and the tune items of
benchmarks/data/answer_questions.yml over knowledge/. For each question: the
sentences holding the answer (CMRC/SQuAD: the sentence at the answer's offset;
project: a source document's sentences mentioning a fact, `benchmarks.grading.
mentions`) are positives; the paragraph's or document's sentences sharing most of
the question's words, and one at random, are hard negatives; the sentence of
another paragraph or document sharing most words is a negative that teaches "not
in the documents" (unanswerable project items get three of those).

Measured on the TEST halves, over the sentences `rank_sentences` would consider in
the gold paragraph (CMRC, SQuAD) or the gold document in the question's language
(project): sentence-choice accuracy@1 (the top sentence holds an answer) for the
current ranking (`rank_sentences` with the Universal Sentence Encoder, run in the
services' environment by `--baseline-python`: this module with `--baseline-only`),
the cross-encoder on PyTorch and its INT8 ONNX copy; the ROC AUC of the top score
for "the gold passage is there" against "it is not" (the candidates then the
sentences of the other paragraph or document, in the question's language, sharing
most of its words; unanswerable project items are "not there"); and the time per
question for 10 candidate sentences. Results: benchmarks/results/verifier/
<date>[-tag].{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Text, Tuple

import yaml

from apps.entrypoint import run
from benchmarks.grading import mentions
from benchmarks.public_sets import (
    DATASETS,
    SETS,
    halves,
    load_squad,
    split_paragraphs,
    stable_hash,
)
from bilingual_assistant.answers.extractive import rank_sentences, terms
from bilingual_assistant.config import environment
from bilingual_assistant.encoders.cross_encoder import Pair
from bilingual_assistant.knowledge.documents import find_documents, read_document

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "benchmarks" / "data" / "answer_questions.yml"
KNOWLEDGE = ROOT / "knowledge"
RESULTS = ROOT / "benchmarks" / "results" / "verifier"
DEFAULT_OUT = Path("~/.cache/bilingual-assistant/verifier")
BASE_MODEL = "multilingual-e5-small"
TIMING_QUESTIONS = 30
TIMING_SENTENCES = 10
# Shown, not measured: the question of issue #25 (close to a tune item, zh-sick-06).
EXAMPLES = [("example-sick-note", "zh", "医生证明要交给谁?", "zh/hr-sick-leave.txt",
             ["PeopleHub"])]


@dataclass
class Case:
    """One question and the candidate sentences a ranking chooses among.

    `candidates` are the sentences `rank_sentences` keeps of `passage` (in passage
    order; `positions` their indices among `split_sentences(passage)`); `gold` the
    indices of those holding an answer; `present` whether `passage` is the gold
    paragraph or document."""

    id: Text
    set: Text
    language: Text
    question: Text
    passage: Text
    candidates: List[Text]
    positions: List[int]
    gold: List[int]
    present: bool


@dataclass
class Source:
    """A paragraph or document: its text and its candidate sentences."""

    name: Text
    language: Text
    text: Text
    sentences: List[Text] = field(default_factory=list)
    positions: List[int] = field(default_factory=list)
    terms: List[Set[Text]] = field(default_factory=list)
    all_terms: Set[Text] = field(default_factory=set)


def _no_similarity(question: Text, texts: Sequence[Text]) -> List[float]:
    return [0.0] * len(texts)


def source(name: Text, language: Text, text: Text) -> Source:
    """The sentences `rank_sentences` would consider in `text`, in their order."""
    kept = sorted(rank_sentences("", [text], _no_similarity), key=lambda r: r.position)
    found = Source(name, language, text, [r.text for r in kept], [r.position for r in kept])
    found.terms = [terms(s) for s in found.sentences]
    found.all_terms = set().union(*found.terms) if found.terms else set()
    return found


def holding(sentences: Sequence[Text], spellings: Sequence[Text]) -> List[int]:
    """The indices of the sentences that mention one of the spellings."""
    return [i for i, s in enumerate(sentences) if any(mentions(s, x) for x in spellings)]


def closest_source(question: Text, sources: Sequence[Source]) -> Optional[Source]:
    """The source sharing most of the question's words (a lexical stand-in for
    retrieval); ties to the first."""
    wanted = terms(question)
    best = max(sources, key=lambda s: len(wanted & s.all_terms), default=None)
    return best


def case(id_: Text, set_name: Text, language: Text, question: Text, found: Source,
         gold: List[int], present: bool) -> Case:
    return Case(id_, set_name, language, question, found.text, list(found.sentences),
                list(found.positions), gold, present)


# --- the public sets --------------------------------------------------------------

@dataclass
class Squad:
    """A SQuAD-shaped file's paragraphs with answer offsets and their splits."""

    name: Text
    language: Text
    sources: Dict[Text, Source]  # paragraph id -> Source
    questions: List[Dict[Text, Any]]  # id, text, answers, starts, paragraph, split


def load_public(name: Text, datasets: Path) -> Optional[Squad]:
    """The set's paragraphs and questions, split as `benchmarks.public_sets` does (by
    paragraph for CMRC 2018, by question for the three-paragraph SQuAD sample)."""
    relative, language = SETS[name]
    path = Path(datasets) / relative
    if not path.is_file():
        print(f"  {name}: {path} not found, skipped", flush=True)
        return None
    paragraphs = load_squad(path)
    raw = json.loads(path.read_text("utf-8"))
    starts: Dict[Text, List[Tuple[Text, int]]] = {}
    for article in raw["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                starts[str(qa["id"])] = [(a["text"], int(a.get("answer_start", -1)))
                                         for a in qa.get("answers") or []]
    if len(paragraphs) >= 4:
        placed = split_paragraphs(paragraphs)
        split_of = {q.id: placed[p.id][0] for p in paragraphs for q in p.questions}
    else:
        tune, _ = halves([q.id for p in paragraphs for q in p.questions], "questions")
        split_of = {q.id: "tune" if q.id in set(tune) else "test"
                    for p in paragraphs for q in p.questions}
    sources = {p.id: source(p.id, language, p.context) for p in paragraphs}
    questions = [{"id": q.id, "text": q.text, "answers": list(q.answers),
                  "starts": starts.get(q.id, []), "paragraph": p.id, "split": split_of[q.id]}
                 for p in paragraphs for q in p.questions
                 if q.answers and not q.impossible]
    return Squad(name, language, sources, questions)


def capped(questions: List[Dict[Text, Any]], split: Text, limit: int,
           salt: Text) -> List[Dict[Text, Any]]:
    """At most `limit` of the split's questions (0: all), chosen by hash, in order."""
    chosen = [q for q in questions if q["split"] == split]
    if limit and len(chosen) > limit:
        keep = set(sorted((q["id"] for q in chosen),
                          key=lambda i: stable_hash(f"{salt}:{i}"))[:limit])
        chosen = [q for q in chosen if q["id"] in keep]
    return chosen


def offset_sentence(found: Source, starts: Sequence[Tuple[Text, int]]) -> List[int]:
    """The candidates holding the answer at its offset (the sentence whose span in the
    paragraph covers `answer_start` and contains the answer's text)."""
    spans = []
    cursor = 0
    for sentence in found.sentences:
        at = found.text.find(sentence, cursor)
        spans.append((at, at + len(sentence)) if at >= 0 else (-1, -1))
        cursor = at + len(sentence) if at >= 0 else cursor
    out = []
    for answer, start in starts:
        for i, (begin, end) in enumerate(spans):
            if begin <= start < end and answer.strip() in found.sentences[i]:
                out.append(i)
    return sorted(set(out))


# --- training pairs ---------------------------------------------------------------

@dataclass
class PairPlan:
    """How many pairs each question gives."""

    positives: int = 2  # per source document (the public sets: the offset sentence)
    hard: int = 2  # the source's other sentences sharing most of the question's words
    random: int = 1  # another of the source's sentences, at random
    absent: int = 1  # the best-looking sentences of other sources
    absent_unanswerable: int = 3  # for unanswerable project items


def by_overlap(question_terms: Set[Text], found: Source, indices: Sequence[int]) -> List[int]:
    """The indices, most shared words first (ties: passage order)."""
    return sorted(indices, key=lambda i: (-len(question_terms & found.terms[i]), i))


def best_looking(question: Text, sources: Sequence[Source], count: int) -> List[Text]:
    """The `count` sentences of `sources` sharing most of the question's words."""
    wanted = terms(question)
    scored = [(-len(wanted & t), s.name, i, s.sentences[i])
              for s in sources for i, t in enumerate(s.terms)]
    return [text for score, _, _, text in sorted(scored)[:count] if score < 0]


def source_pairs(question: Text, found: Source, positives: List[int], plan: PairPlan,
                 rng: random.Random) -> List[Pair]:
    """Positives and hard negatives from one source."""
    wanted = terms(question)
    pairs = [Pair(question, found.sentences[i], 1.0)
             for i in by_overlap(wanted, found, positives)[: plan.positives]]
    others = [i for i in range(len(found.sentences)) if i not in set(positives)]
    hard = by_overlap(wanted, found, others)[: plan.hard]
    rest = [i for i in others if i not in hard]
    chosen = hard + rng.sample(rest, min(plan.random, len(rest)))
    return pairs + [Pair(question, found.sentences[i], 0.0) for i in chosen]


def public_pairs(squad: Squad, limit: int, plan: PairPlan, rng: random.Random) -> List[Pair]:
    """The tune half's pairs of a public set."""
    pairs: List[Pair] = []
    tune_ids = {q["paragraph"] for q in squad.questions if q["split"] == "tune"}
    # CMRC: the tune paragraphs only; SQuAD (split by question): all three paragraphs.
    pool = [s for pid, s in squad.sources.items()
            if pid in tune_ids or squad.name != "cmrc2018"]
    for q in capped(squad.questions, "tune", limit, "verifier-tune"):
        found = squad.sources[q["paragraph"]]
        positives = offset_sentence(found, q["starts"])
        if not positives:
            continue  # the answer crosses sentences, or sits in a heading
        pairs += source_pairs(q["text"], found, positives[:1],
                              PairPlan(1, plan.hard, plan.random), rng)
        others = [s for s in pool if s.name != found.name]
        pairs += [Pair(q["text"], s, 0.0)
                  for s in best_looking(q["text"], others, plan.absent)]
    return pairs


def load_documents() -> Dict[Text, Source]:
    """knowledge/'s documents by source path, as candidate sentences."""
    found = {}
    for path in find_documents(KNOWLEDGE):
        document = read_document(path, KNOWLEDGE)
        language = document.source.split("/")[0]
        found[document.source] = source(document.source, language, document.text)
    return found


def facts(item: Dict[Text, Any]) -> List[Text]:
    return [s for fact in item.get("facts") or [] for s in fact]


def project_pairs(items: Sequence[Dict[Text, Any]], documents: Dict[Text, Source],
                  plan: PairPlan, rng: random.Random) -> List[Pair]:
    """The tune items' pairs (follow-ups left out: they need the turn before)."""
    pairs: List[Pair] = []
    for item in items:
        if item["split"] != "tune":
            continue
        question = item["question"]
        if item["kind"] == "unanswerable":
            pairs += [Pair(question, s, 0.0) for s in
                      best_looking(question, list(documents.values()),
                                   plan.absent_unanswerable)]
            continue
        if item["kind"] != "answerable":
            continue
        for name in item["sources"]:
            found = documents[name]
            positives = holding(found.sentences, facts(item))
            if positives:
                pairs += source_pairs(question, found, positives, plan, rng)
        others = [d for n, d in documents.items() if n not in item["sources"]]
        pairs += [Pair(question, s, 0.0) for s in best_looking(question, others, plan.absent)]
    return pairs


# --- evaluation cases -------------------------------------------------------------

def public_cases(squad: Squad, limit: int) -> List[Case]:
    """The test half's questions: on the gold paragraph, and on the closest other one
    (of the same half for CMRC)."""
    test_ids = {q["paragraph"] for q in squad.questions if q["split"] == "test"}
    pool = [s for pid, s in squad.sources.items()
            if pid in test_ids or squad.name != "cmrc2018"]
    cases = []
    for q in capped(squad.questions, "test", limit, "verifier-test"):
        found = squad.sources[q["paragraph"]]
        cases.append(case(f"{squad.name}-{q['id']}", squad.name, squad.language, q["text"],
                          found, holding(found.sentences, q["answers"]), True))
        other = closest_source(q["text"], [s for s in pool if s.name != found.name])
        if other is not None:
            cases.append(case(f"{squad.name}-{q['id']}-absent", squad.name, squad.language,
                              q["text"], other, [], False))
    return cases


def gold_document(item: Dict[Text, Any]) -> Text:
    """The item's source in its own language (the first source otherwise)."""
    own = [s for s in item["sources"] if s.startswith(f"{item['language']}/")]
    return (own or item["sources"])[0]


def project_cases(items: Sequence[Dict[Text, Any]],
                  documents: Dict[Text, Source]) -> List[Case]:
    """The test items: answerable ones on their document and on the closest other
    document of their language; unanswerable ones on the closest document."""
    cases = []
    for item in items:
        if item["split"] != "test" or item["kind"] not in ("answerable", "unanswerable"):
            continue
        language, question = item["language"], item["question"]
        same = [d for n, d in documents.items() if d.language == language
                and n not in item["sources"]]
        if item["kind"] == "answerable":
            found = documents[gold_document(item)]
            cases.append(case(f"project-{item['id']}", "project", language, question, found,
                              holding(found.sentences, facts(item)), True))
        other = closest_source(question, same)
        if other is not None:
            cases.append(case(f"project-{item['id']}-absent", "project", language, question,
                              other, [], False))
    return cases


def example_cases(documents: Dict[Text, Source]) -> List[Case]:
    out = []
    for id_, language, question, name, spellings in EXAMPLES:
        found = documents[name]
        out.append(case(id_, "example", language, question, found,
                        holding(found.sentences, spellings), True))
    return out


def build_cases(datasets: Path, limit: int) -> List[Case]:
    """Every evaluation case, the same in both environments (deterministic)."""
    cases: List[Case] = []
    for name in SETS:
        squad = load_public(name, datasets)
        if squad is not None:
            cases += public_cases(squad, limit)
    documents = load_documents()
    items = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    cases += project_cases(items, documents)
    cases += example_cases(documents)
    return cases


def fingerprint(cases: Sequence[Case]) -> Text:
    """A digest of the cases (both environments must measure the same ones)."""
    digest = hashlib.sha256()
    for c in cases:
        digest.update(json.dumps([c.id, c.question, c.candidates, c.gold],
                                 ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def timing_cases(cases: Sequence[Case]) -> List[Case]:
    """Questions with at least 10 candidates (the first 10 are timed)."""
    chosen = [c for c in cases if c.present and c.set != "example"
              and len(c.candidates) >= TIMING_SENTENCES]
    return chosen[:TIMING_QUESTIONS]


# --- the baseline (the services' environment) -------------------------------------

def baseline(cases: Sequence[Case], encoders_dir: Path) -> Dict[Text, Any]:
    """`rank_sentences` with the Universal Sentence Encoder over every case."""
    from bilingual_assistant.knowledge.embedder import make_embedder, similarities

    embedder = make_embedder("use-multilingual", encoders_dir)
    captured: List[List[float]] = []

    def similarity(question: Text, texts: Sequence[Text]) -> List[float]:
        values = similarities(embedder, question, texts)
        captured.append(values)
        return values

    results: Dict[Text, Any] = {}
    for c in cases:
        captured.clear()
        ranked = rank_sentences(c.question, [c.passage], similarity)
        top = ranked[0]
        results[c.id] = {"top": c.positions.index(top.position), "score": top.score,
                         "cosine": max(captured[0]) if captured else 0.0}
    timings = []
    for c in timing_cases(cases):
        passage = "\n".join(c.candidates[:TIMING_SENTENCES])
        started = time.perf_counter()
        rank_sentences(c.question, [passage], similarity)
        timings.append(1000 * (time.perf_counter() - started))
    return {"cases": results, "fingerprint": fingerprint(cases), "timing_ms": timings,
            "python": sys.version.split()[0]}


def run_baseline(python: Text, args: argparse.Namespace) -> Dict[Text, Any]:
    """This module with `--baseline-only` in another environment."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "baseline.json"
        command = [python, "-m", "apps.cli.verifier", "--baseline-only",
                   "--datasets", str(args.datasets), "--max-questions",
                   str(args.max_questions), "--baseline-json", str(target)]
        print(f"Baseline in {python} ...", flush=True)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env={**environment(), "PYTHONPATH": str(ROOT)},
                       check=True)
        found = json.loads(target.read_text("utf-8"))
        found["seconds"] = round(time.perf_counter() - started, 1)
        return found


# --- measuring --------------------------------------------------------------------

def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> Optional[float]:
    """P(a positive scores above a negative), ties counting half."""
    if not positive or not negative:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def score_cases(cases: Sequence[Case],
                scorer: Callable[[Text, Sequence[Text]], List[float]],
                label: Text) -> Dict[Text, Dict[Text, Any]]:
    """Each case's top candidate and top score under `scorer`."""
    out = {}
    started = time.perf_counter()
    for number, c in enumerate(cases, start=1):
        scores = scorer(c.question, c.candidates)
        top = max(range(len(scores)), key=lambda i: (scores[i], -i))
        out[c.id] = {"top": top, "score": scores[top]}
        if number % 100 == 0 or number == len(cases):
            print(f"  {label}: {number}/{len(cases)} cases "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    return out


def time_scorer(cases: Sequence[Case],
                scorer: Callable[[Text, Sequence[Text]], List[float]]) -> List[float]:
    """Milliseconds per question for its first 10 candidates (one warm-up call)."""
    chosen = timing_cases(cases)
    if chosen:
        scorer(chosen[0].question, chosen[0].candidates[:TIMING_SENTENCES])
    out = []
    for c in chosen:
        started = time.perf_counter()
        scorer(c.question, c.candidates[:TIMING_SENTENCES])
        out.append(1000 * (time.perf_counter() - started))
    return out


def metrics(cases: Sequence[Case], results: Dict[Text, Dict[Text, Any]],
            key: Text = "score") -> Dict[Text, Dict[Text, Any]]:
    """Per set: accuracy@1 over present cases with a gold sentence, and the AUC of the
    top score (present with a gold sentence against absent)."""
    out: Dict[Text, Dict[Text, Any]] = {}
    for name in sorted({c.set for c in cases} - {"example"}):
        mine = [c for c in cases if c.set == name]
        answerable = [c for c in mine if c.present and c.gold]
        absent = [c for c in mine if not c.present and c.id in results]
        right = sum(results[c.id]["top"] in c.gold for c in answerable)
        auc = roc_auc([results[c.id][key] for c in answerable],
                      [results[c.id][key] for c in absent])
        out[name] = {"n": len(answerable), "correct": right,
                     "accuracy": round(right / len(answerable), 4) if answerable else None,
                     "absent": len(absent), "auc": round(auc, 4) if auc is not None else None,
                     "no_gold_sentence": sum(1 for c in mine if c.present and not c.gold)}
    return out


def directory_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def git_commit() -> Text:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def percent(value: Optional[float]) -> Text:
    return "-" if value is None else f"{100 * value:.1f} %"


def number(value: Optional[float], digits: int = 3) -> Text:
    return "-" if value is None else f"{value:.{digits}f}"


def tables(report: Dict[Text, Any]) -> Text:
    """The results as Markdown tables."""
    methods = report["methods"]
    names = list(methods)
    sets = sorted({s for m in methods.values() for s in m})
    lines = ["Sentence choice, accuracy@1 (the top sentence of the gold paragraph or "
             "document holds an answer):", "",
             "| set | n | " + " | ".join(names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    for s in sets:
        n = next((m[s]["n"] for m in methods.values() if s in m), 0)
        lines.append(f"| {s} | {n} | " + " | ".join(
            f"{percent(methods[m][s]['accuracy'])} ({methods[m][s]['correct']})"
            if s in methods[m] else "-" for m in names) + " |")
    lines += ["", "Gold passage present vs absent, ROC AUC of the top score:", "",
              "| set | present / absent | " + " | ".join(report["auc_methods"]) + " |",
              "|---|---:|" + "---:|" * len(report["auc_methods"])]
    for s in sets:
        first = next(m[s] for m in methods.values() if s in m)
        row = [number(report["auc_methods"][m].get(s)) for m in report["auc_methods"]]
        lines.append(f"| {s} | {first['n']} / {first['absent']} | " + " | ".join(row) + " |")
    lines += ["", f"Time per question, {TIMING_SENTENCES} candidate sentences "
              f"({TIMING_QUESTIONS} questions), p50 / p95 ms:", "",
              "| scorer | p50 | p95 |", "|---|---:|---:|"]
    for label, t in report["timing"].items():
        lines.append(f"| {label} | {number(t['p50'], 1)} | {number(t['p95'], 1)} |")
    return "\n".join(lines)


def baseline_main(args: argparse.Namespace) -> int:
    from bilingual_assistant.config import load_settings

    cases = build_cases(args.datasets, args.max_questions)
    print(f"Baseline: {len(cases)} cases ({fingerprint(cases)}) ...", flush=True)
    found = baseline(cases, load_settings().paths.encoders_dir)
    args.baseline_json.write_text(json.dumps(found, ensure_ascii=False), "utf-8")
    return 0


def train(args: argparse.Namespace, out: Path) -> Dict[Text, Any]:
    """Builds the tune pairs and trains; returns the pair counts and the report."""
    from bilingual_assistant.config import load_settings
    from bilingual_assistant.encoders.cross_encoder import TrainingOptions, train_cross_encoder
    from bilingual_assistant.encoders.registry import resolve_model

    rng = random.Random(13)
    plan = PairPlan()
    counts: Dict[Text, Dict[Text, int]] = {}
    pairs: List[Pair] = []
    for name in SETS:
        squad = load_public(name, args.datasets)
        if squad is not None:
            found = public_pairs(squad, args.max_questions, plan, rng)
            counts[name] = {"pairs": len(found), "positives": sum(p.label > 0 for p in found)}
            pairs += found
    documents = load_documents()
    items = yaml.safe_load(QUESTIONS.read_text("utf-8"))
    found = project_pairs(items, documents, plan, rng)
    counts["project"] = {"pairs": len(found), "positives": sum(p.label > 0 for p in found)}
    pairs += found
    if args.limit_pairs:  # a smoke run
        rng.shuffle(pairs)
        pairs = pairs[: args.limit_pairs]
        counts["limited_to"] = {"pairs": len(pairs), "positives": sum(p.label > 0 for p in pairs)}
    print(f"Training pairs: {json.dumps(counts)}", flush=True)
    base = resolve_model(BASE_MODEL, load_settings().paths.encoders_dir)
    options = TrainingOptions(prefixes=not args.no_prefixes, keep_float=args.keep_float,
                              frozen_layers=args.frozen_layers, batch_size=args.batch_size,
                              learning_rate=args.learning_rate, max_length=args.max_length)
    last = [0.0]

    def progress(epoch: int, epochs: int, batch: int, batches: int, loss: float) -> None:
        if time.perf_counter() - last[0] > 30 or batch == batches:
            last[0] = time.perf_counter()
            print(f"  epoch {epoch}/{epochs} batch {batch}/{batches} loss {loss:.4f}",
                  flush=True)

    report = train_cross_encoder(base, pairs, out, args.epochs, options, progress)
    return {"pairs": counts, "training": asdict(report), "options": asdict(options),
            "plan": asdict(plan)}


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="the verifier folder to write (or read with --evaluate-only)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="passes over the pairs (2: the measured model)")
    parser.add_argument("--max-questions", type=int, default=200,
                        help="public sets: at most this many questions per half (0: all)")
    parser.add_argument("--no-prefixes", action="store_true",
                        help="no 'query: ' / 'passage: ' prefixes")
    parser.add_argument("--keep-float", default="none", choices=("none", "ffn_output"))
    parser.add_argument("--frozen-layers", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=160)
    parser.add_argument("--limit-pairs", type=int, default=0,
                        help="train on this many pairs at random (a smoke run)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="measure the verifier already in --out")
    parser.add_argument("--reexport", action="store_true",
                        help="export the PyTorch copy in --out to ONNX again with "
                             "--keep-float, then measure (no training)")
    parser.add_argument("--baseline-python",
                        help="the services' environment's Python, for the current ranking")
    parser.add_argument("--baseline-only", action="store_true",
                        help="(in the services' environment) the current ranking only")
    parser.add_argument("--baseline-json", type=Path,
                        help="with --baseline-only: where to write it; otherwise a "
                             "result of --baseline-only to reuse")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--tag", default="", help="added to the result files' names")
    args = parser.parse_args(argv)
    args.out = args.out.expanduser()
    if args.baseline_only:
        if not args.baseline_json:
            parser.error("--baseline-only needs --baseline-json")
        return baseline_main(args)

    import torch

    from bilingual_assistant.encoders.cross_encoder import (
        ONNX_FILE,
        SETTINGS_FILE,
        TORCH_DIR,
        OnnxCrossEncoder,
        TorchCrossEncoder,
    )

    torch.set_num_threads(2)
    command = ["python", "-m", "apps.cli.verifier", *(argv if argv is not None
                                                      else sys.argv[1:])]
    report: Dict[Text, Any] = {
        "command": " ".join(command), "commit": git_commit(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"node": platform.node(), "cpus": os.cpu_count(),
                    "python": sys.version.split()[0], "torch": torch.__version__},
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    if args.reexport:
        from bilingual_assistant.encoders.cross_encoder import reexport

        args.evaluate_only = True
        print(f"Exporting {args.out} again (keep_float {args.keep_float}) ...", flush=True)
        reexport(args.out, args.keep_float)
    if not args.evaluate_only:
        report.update(train(args, args.out))
    stored = json.loads((args.out / SETTINGS_FILE).read_text("utf-8"))
    report["verifier"] = {"folder": str(args.out), "settings": stored["settings"],
                          "onnx_bytes": (args.out / ONNX_FILE).stat().st_size,
                          "torch_bytes": directory_bytes(args.out / TORCH_DIR)}
    if args.evaluate_only:
        report["training"] = stored.get("training")
        report["options"] = stored.get("options")

    cases = build_cases(args.datasets, args.max_questions)
    report["cases"] = {"total": len(cases), "fingerprint": fingerprint(cases)}
    print(f"Evaluating {len(cases)} cases ({fingerprint(cases)}) ...", flush=True)
    found: Optional[Dict[Text, Any]] = None
    if args.baseline_json:
        found = json.loads(args.baseline_json.read_text("utf-8"))
    elif args.baseline_python:
        found = run_baseline(args.baseline_python, args)
    if found is not None and found["fingerprint"] != fingerprint(cases):
        raise SystemExit("The baseline measured other cases: rerun it.")

    onnx = OnnxCrossEncoder(args.out, threads=2)
    torch_copy = TorchCrossEncoder(args.out, threads=2)
    results = {"onnx": score_cases(cases, onnx.scores, "ONNX INT8"),
               # accuracy only: the absent cases' AUC is measured on the ONNX copy
               "torch": score_cases([c for c in cases if c.present], torch_copy.scores,
                                    "torch")}
    methods: Dict[Text, Any] = {}
    auc_methods: Dict[Text, Dict[Text, Any]] = {}
    if found is not None:
        methods["current (USE + words)"] = metrics(cases, found["cases"])
        auc_methods["current: top score"] = {
            s: m["auc"] for s, m in metrics(cases, found["cases"]).items()}
        auc_methods["current: top cosine"] = {
            s: m["auc"] for s, m in metrics(cases, found["cases"], "cosine").items()}
    methods["verifier torch"] = metrics(cases, results["torch"])
    methods["verifier ONNX INT8"] = metrics(cases, results["onnx"])
    auc_methods["verifier ONNX INT8"] = {
        s: m["auc"] for s, m in methods["verifier ONNX INT8"].items()}
    report["methods"], report["auc_methods"] = methods, auc_methods
    agree = [results["onnx"][c.id]["top"] == results["torch"][c.id]["top"]
             for c in cases if c.present]
    report["onnx_torch_same_top"] = round(sum(agree) / len(agree), 4)

    timing: Dict[Text, List[float]] = {}
    if found is not None:
        timing["current (USE + words, services' env, 1 thread)"] = found["timing_ms"]
    for threads in (1, 2):
        timing[f"verifier ONNX INT8, {threads} thread(s)"] = time_scorer(
            cases, OnnxCrossEncoder(args.out, threads=threads).scores)
        timing[f"verifier torch, {threads} thread(s)"] = time_scorer(
            cases, TorchCrossEncoder(args.out, threads=threads).scores)
    report["timing"] = {k: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95),
                            "n": len(v)} for k, v in timing.items()}

    examples = []
    for c in cases:
        if c.set == "example":
            row = {"question": c.question, "gold": [c.candidates[i] for i in c.gold],
                   "verifier": c.candidates[results["onnx"][c.id]["top"]]}
            if found is not None:
                row["current"] = c.candidates[found["cases"][c.id]["top"]]
            examples.append(row)
    report["examples"] = examples
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    text = tables(report)
    print("\n" + text)
    for row in examples:
        print(f"\n{row['question']}\n  verifier: {row['verifier']}\n"
              f"  current:  {row.get('current', '-')}")
    args.results.mkdir(parents=True, exist_ok=True)
    stem = dt.date.today().isoformat() + (f"-{args.tag}" if args.tag else "")
    (args.results / f"{stem}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (args.results / f"{stem}.md").write_text(
        f"# Cross-encoder verifier, {report['date']}\n\n`{report['command']}` at "
        f"{report['commit']}; load average {report['load_average_start']} at the start, "
        f"{report['load_average_end']} at the end.\n\n{text}\n", "utf-8")
    print(f"\nWrote {args.results / stem}.json and .md")
    return 0


if __name__ == "__main__":
    run(main)
