"""Sentence-choice benchmark: how often the best-ranked sentence's quote holds the
answer, for several embedders (`EMBEDDING_MODEL`: retrieval and the sentences'
meaning), weights of meaning (`extractive.MEANING_WEIGHT`) and of the answer-type
bonus (`extractive.TYPE_BONUS`).

    python -m benchmarks.sentence_choice [--split tune|test] [--bonus 0 3]
        [--embedders use-multilingual e5-small] [--meaning-weights 8 24]
        [--datasets DIR] [--max-questions 300] [--out DIR]

Each set (the project's questions about knowledge/, the CMRC 2018 and SQuAD 2.0
halves of `benchmarks/public_sets.py`) is indexed once into a temporary Milvus Lite
file, and each answerable question (follow-ups joined to their question) searched
and ranked as the answer service does (`apps.cli.answerability.Corpus`); a quote is
right when it holds every fact and no wrong value (the answerability model's label).
Columns: right quotes among all answerable questions, and among those that ask for a
kind of value (`bilingual_assistant/answers/answer_types.py`). Tune the weights on `--split
tune`; report on `--split test`. Rows are named `<embedder> · meaning <w> · type
bonus <b>` (the settings not varied left out of the name). Writes
sentence-choice-<split>-<time>.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import yaml

from apps.cli.answerability import QUESTIONS, ROOT, Corpus, commit, label, searched
from benchmarks.public_sets import DATASETS, SETS, build_sets
from benchmarks.render import sentence_choice_table
from benchmarks.results import write_result
from bilingual_assistant.answers import extractive
from bilingual_assistant.answers.answer_types import asked_types

Items = List[Dict[Text, Any]]


ANSWERABLE = ("answerable", "follow_up")


def corpora(work: Path, split: Text, datasets: Path, max_questions: int,
            embedder: Optional[Text] = None, kinds: Tuple[Text, ...] = ANSWERABLE
            ) -> List[Tuple[Text, Corpus, Items]]:
    """Every set's index (made with `embedder`, else the configured one) with its
    questions of the split of these `kinds`."""
    work = work / (embedder or "configured")
    work.mkdir(parents=True, exist_ok=True)
    wanted = kinds
    items = [i for i in yaml.safe_load(QUESTIONS.read_text("utf-8"))
             if i["split"] == split and i["kind"] in wanted]
    found = [("project", Corpus(ROOT / "knowledge", work, "project",
                                embedding_model=embedder), items)]
    for name, (relative, _) in SETS.items():
        if not (datasets / relative).exists():
            print(f"  {name}: {datasets / relative} not found, left out", flush=True)
            continue
        for number, one in enumerate(build_sets(name, datasets, split, max_questions)):
            folder = work / f"{name}-{number}"
            one.write(folder)
            found.append((name, Corpus(folder, work, f"{name}{number}",
                                       embedding_model=embedder),
                          [i for i in one.items if i["kind"] in wanted]))
    return found


def measure(sets: Sequence[Tuple[Text, Corpus, Items]]) -> Dict[Text, Dict[Text, int]]:
    """Right quotes per set, overall and for questions asking for a kind of value."""
    counts: Dict[Text, Dict[Text, int]] = {}
    for name, corpus, items in sets:
        row = counts.setdefault(name, {"n": 0, "right": 0, "typed": 0, "typed_right": 0})
        for item in items:
            query, latest = searched(item)
            assessment, quotes = corpus.examine(query, item["language"], latest)
            right = label(item, assessment, quotes[0])
            typed = bool(asked_types(query))
            row["n"] += 1
            row["right"] += right
            row["typed"] += typed
            row["typed_right"] += right if typed else 0
    return counts


def main(argv: Optional[Sequence[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--split", default="tune", choices=("tune", "test"))
    parser.add_argument("--bonus", type=float, nargs="+", default=[0.0, extractive.TYPE_BONUS])
    parser.add_argument("--embedders", nargs="+", default=[None],
                        help="embedders to compare (default: the configured one)")
    parser.add_argument("--meaning-weights", type=float, nargs="+",
                        default=[extractive.MEANING_WEIGHT])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--max-questions", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    results: Dict[Text, Dict[Text, Dict[Text, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for embedder in args.embedders:
            sets = corpora(Path(tmp), args.split, args.datasets, args.max_questions, embedder)
            try:
                for weight in args.meaning_weights:
                    for bonus in args.bonus:
                        extractive.MEANING_WEIGHT, extractive.TYPE_BONUS = weight, bonus
                        name = " · ".join(
                            [*([embedder or "configured"] if len(args.embedders) > 1 else []),
                             *([f"meaning {weight:g}"] if len(args.meaning_weights) > 1
                               else []),
                             f"type bonus {bonus:g}"])
                        results[name] = measure(sets)
                        print(f"  {name}: " + ", ".join(
                            f"{n} {c['right']}/{c['n']}" for n, c in results[name].items()),
                            flush=True)
            finally:
                for _, corpus, _ in sets:
                    corpus.close()
    write_result(args.out, f"sentence-choice-{args.split}", "benchmarks.sentence_choice",
                 sys.argv[1:] if argv is None else argv, commit(), load,
                 {"split": args.split, "results": results}, sentence_choice_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
