"""Answer-accuracy benchmark: the questions of benchmarks/data/answer_questions.yml
(the project's documents in knowledge/) and of public reading-comprehension sets
(CMRC 2018, SQuAD 2.0: `benchmarks/public_sets.py`) answered by the answer service
as the action server builds it (Milvus Lite, the embedded LLM), graded automatically.

    python -m benchmarks.answer_accuracy --llm-python PATH [--split test] [--no-llm]
        [--set project|cmrc2018|squad2|all] [--datasets DIR] [--max-questions 200]
        [--styles quote generate]

Grading (`benchmarks/grading.py`) reads the reply as the user sees it. Strict: an
answerable question is right when the claimed answer (the reply without the
"From the documents:" prefix, citations and sources) holds every reference fact
(any listed spelling), none of the item's wrong values, and is at most
`MAX_CLAIM_UNITS` long (longer: `too_long`); a reply that claims nothing is
`refused` or `unsure`, and the knowledge base being unavailable is an `error`. An
unanswerable question is right only when nothing is claimed. Lenient (the earlier
rule, for comparison): the facts anywhere in the answer's text, refusals by mode.
Also the claim's F1 against the reference answers (SQuAD v2.0 / CMRC 2018 rules).

Reports, per set, answer path (the final reply in each answer style, `quote` and
`generate`; the LLM's own answers; quoted answers; extractive answers, also with
the LLM switched off), language and kind: n, correct, wrong, refused, unsure,
too_long, errors, strict and lenient correct %, mean F1, right source, p50/p95
latency. Results go to benchmarks/results/accuracy-*.{json,md} (the JSON with the
command line, commit, machine and load), and every answer with its verdicts to
accuracy-*-answers.jsonl (for reading the errors).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Text, Tuple

import yaml

from benchmarks import grading
from benchmarks.answer_benchmark import LLM_KEY, free_port, wait_for
from benchmarks.grading import mentions
from benchmarks.public_sets import DATASETS, MAX_QUESTIONS, SETS, build_sets
from bilingual_assistant.answers.models import Answer, Turn
from bilingual_assistant.answers.service import format_reply
from bilingual_assistant.config import environment, load_settings
from bilingual_assistant.text import text_units

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "data" / "answer_questions.yml"
SET_NAMES = ("project",) + tuple(SETS)

# `mentions` stays importable from here (the matching rule moved to benchmarks.grading).
__all__ = ["QUESTIONS", "Graded", "Index", "Row", "indexes", "main", "mentions", "rows_for",
           "run", "table"]


@dataclass
class Graded:
    """One question's outcome.

    `verdict` is strict (`grading.strict_verdict`: correct | wrong | too_long |
    refused | unsure | error), `lenient` the earlier rule (correct | wrong |
    refused). `public`: the item comes from a public set, whose one fact lists the
    annotators' answer spans (each a reference for F1)."""

    item: Dict[Text, Any]
    answer: Answer
    seconds: float
    public: bool = False
    verdict: Text = ""
    lenient: Text = ""
    claim: Optional[Text] = None
    units: int = 0
    f1: Optional[float] = None
    right_source: Optional[bool] = None
    routed: bool = False  # asked as the NLU routes it: off-topic or unplaced

    def __post_init__(self) -> None:
        reply = format_reply(self.answer)
        self.verdict = grading.strict_verdict(self.item, reply)
        self.lenient = grading.lenient_verdict(self.item, self.answer.text, self.answer.mode)
        self.claim = grading.claim(reply, self.item["language"])
        self.units = text_units(self.claim) if self.claim else 0
        if grading.answerable(self.item):
            self.f1 = grading.f1(self.claim, grading.references(self.item, self.public),
                                 self.item["language"])
            if self.claim is not None:
                sources = {s.source for s in self.answer.sources}
                self.right_source = bool(sources & set(self.item["sources"]))


@dataclass
class Row:
    """Counts for one group of outcomes."""

    name: Text
    graded: List[Graded] = field(default_factory=list)

    def as_dict(self) -> Dict[Text, Any]:
        n = len(self.graded)
        count = lambda v: sum(1 for g in self.graded if g.verdict == v)  # noqa: E731
        lenient = sum(1 for g in self.graded if g.lenient == "correct")
        answered = [g for g in self.graded if g.right_source is not None]
        scored = [g.f1 for g in self.graded if g.f1 is not None]
        seconds = sorted(g.seconds for g in self.graded)
        pick = lambda q: seconds[min(len(seconds) - 1, int(q * len(seconds)))] if seconds else 0  # noqa: E731
        return {"group": self.name, "n": n, "correct": count("correct"),
                "wrong": count("wrong"), "refused": count("refused"),
                "unsure": count("unsure"), "too_long": count("too_long"),
                "error": count("error"), "lenient_correct": lenient,
                "right_source": sum(1 for g in answered if g.right_source),
                "claimed_answerable": len(answered), "f1_n": len(scored),
                "correct_pct": 100 * count("correct") / n if n else 0.0,
                "lenient_correct_pct": 100 * lenient / n if n else 0.0,
                "mean_f1": sum(scored) / len(scored) if scored else None,
                "right_source_pct": (100 * sum(1 for g in answered if g.right_source)
                                     / len(answered)) if answered else None,
                "p50_s": pick(0.5), "p95_s": pick(0.95),
                "routed": sum(1 for g in self.graded if g.routed),
                "off_topic_reply": sum(1 for g in self.graded
                                       if g.answer.mode == "out_of_scope")}


async def run(service: Any, items: List[Dict[Text, Any]], label: Text,
              public: bool = False, routed: Optional[Set[Text]] = None) -> List[Graded]:
    """Answers every item (a follow-up after its first question) and grades it; a
    question in `routed` is asked as the action asks a message the NLU took for
    off-topic or could not place (a follow-up never is)."""
    graded = []
    for number, item in enumerate(items, start=1):
        history: List[Turn] = []
        first_routed = item["kind"] != "follow_up" and item["question"] in (routed or ())
        if item["kind"] == "follow_up":
            first = await service.answer(item["previous"], [], item["language"],
                                         routed=item["previous"] in (routed or ()))
            history = [Turn("user", item["previous"]), Turn("assistant", first.text)]
        started = time.perf_counter()
        answer = await service.answer(item["question"], history, item["language"],
                                      routed=first_routed)
        result = Graded(item, answer, time.perf_counter() - started, public,
                        routed=first_routed)
        graded.append(result)
        print(f"  [{label} {number}/{len(items)}] {result.verdict:8} {answer.mode:10} "
              f"{result.seconds:5.1f}s {item['id']}", flush=True)
    return graded


def rows_for(graded: List[Graded], path: Text) -> List[Row]:
    """Rows by language and kind for one answer path (`path` may name the set); the
    `all` rows only where they add up more than one language or kind."""
    rows = []
    languages = [x for x in ("zh", "en") if any(g.item["language"] == x for g in graded)]
    kinds = [x for x in ("answerable", "follow_up", "unanswerable")
             if any(g.item["kind"] == x for g in graded)]
    for language in languages + (["all"] if len(languages) > 1 else []):
        for kind in kinds + (["all"] if len(kinds) > 1 else []):
            chosen = [g for g in graded
                      if language in ("all", g.item["language"])
                      and kind in ("all", g.item["kind"])]
            if chosen:
                rows.append(Row(f"{path} · {language} · {kind}", chosen))
    return rows


def table(rows: List[Row]) -> Text:
    lines = ["| set · path · language · kind | n | correct | wrong | refused | unsure | "
             "too long | error | correct % | lenient correct % | mean F1 | "
             "right source % | routed | off-topic reply | p50 s | p95 s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        d = row.as_dict()
        source = "–" if d["right_source_pct"] is None else f"{d['right_source_pct']:.1f}"
        score = "–" if d["mean_f1"] is None else f"{d['mean_f1']:.3f}"
        lines.append(f"| {d['group']} | {d['n']} | {d['correct']} | {d['wrong']} | "
                     f"{d['refused']} | {d['unsure']} | {d['too_long']} | {d['error']} | "
                     f"{d['correct_pct']:.1f} | {d['lenient_correct_pct']:.1f} | {score} | "
                     f"{source} | {d['routed']} | {d['off_topic_reply']} | "
                     f"{d['p50_s']:.2f} | {d['p95_s']:.2f} |")
    return "\n".join(lines)


def hosted_llm() -> Dict[Text, Text]:
    """The hosted LLM's settings from the environment; exits with the fix when they
    still name the embedded server."""
    settings = load_settings(environment())
    if not settings.hosted_llm:
        raise SystemExit("--hosted-llm: set LLM_BASE_URL, LLM_MODEL (not `local`) and "
                         "LLM_API_KEY for the endpoint to measure (see docs/llm.md)")
    return {"LLM_BASE_URL": settings.llm.base_url, "LLM_MODEL": settings.llm.model,
            "LLM_API_KEY": settings.llm.api_key}


def build_service(env: Dict[Text, Text], with_llm: bool) -> Any:
    """The answer service as the action server builds it; without the LLM when asked."""
    from apps.action_server.wiring import build_services

    services = build_services(load_settings(env))
    if not with_llm:
        services.answers.llm = None
    return services.answers


def close(service: Any) -> None:
    """Closes the service's Milvus Lite file, so the next index can be opened."""
    store = getattr(getattr(service, "retriever", None), "store", None)
    if store is not None and hasattr(store, "close"):
        store.close()


@dataclass
class Index:
    """One knowledge index and the questions asked of it."""

    set_name: Text
    label: Text
    folder: Path
    items: List[Dict[Text, Any]]
    public: bool


def indexes(args: argparse.Namespace, work: Path) -> List[Index]:
    """The indexes of the chosen sets; public sets' documents written under `work`."""
    chosen = SET_NAMES if args.set == "all" else (args.set,)
    found = []
    for name in chosen:
        if name == "project":
            items = [i for i in yaml.safe_load(QUESTIONS.read_text("utf-8"))
                     if args.split in ("all", i["split"])]
            found.append(Index(name, "knowledge/", ROOT / "knowledge", items, False))
            continue
        for number, one in enumerate(build_sets(name, args.datasets, args.split,
                                                args.max_questions), start=1):
            folder = work / "documents" / f"{name}-{number}"
            one.write(folder)
            found.append(Index(name, one.index, folder, one.items, True))
    for index in found:
        if args.limit:
            index.items = index.items[: args.limit]
    return [i for i in found if i.items]


def load_average() -> Optional[float]:
    """The 1-minute load average (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def answerability_fingerprint(path: Optional[Path] = None) -> Optional[Text]:
    """The trained answerability model at `path` (default: the one the services will
    load), if any."""
    from bilingual_assistant.answers.answerability import AnswerabilityModel

    path = path or Path(load_settings().answers.answerability_model)
    if not path.exists():
        return None
    return AnswerabilityModel.load(path).fingerprint


def routed_questions(path: Path) -> Set[Text]:
    """The questions a routing result says the NLU sent to out_of_scope or
    nlu_fallback (`benchmarks.routing` writes it, in Rasa's environment)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {row["text"] for rows in data["predictions"].values() for row in rows
            if row["after"] in ("out_of_scope", "nlu_fallback")}


def git_commit() -> Text:
    """The checkout's commit, with `+dirty` when it has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def main(argv: Sequence[Text] = ()) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--llm-python", help="the LLM server environment's Python")
    parser.add_argument("--split", default="test", choices=("test", "tune", "all"))
    parser.add_argument("--set", default="project", choices=SET_NAMES + ("all",),
                        help="the project's questions, a public set, or all of them")
    parser.add_argument("--datasets", type=Path, default=DATASETS,
                        help="the public sets' folder (default: ../shared/datasets)")
    parser.add_argument("--max-questions", type=int, default=MAX_QUESTIONS,
                        help="public sets: at most this many questions per split (0: all)")
    parser.add_argument("--no-llm", action="store_true", help="extractive answers only")
    parser.add_argument("--hosted-llm", action="store_true",
                        help="answer with the LLM that LLM_BASE_URL, LLM_MODEL and LLM_API_KEY "
                             "name (the environment, or .env through `make`) instead of "
                             "starting the embedded one")
    parser.add_argument("--routing", type=Path,
                        help="a routing result (python -m benchmarks.routing): questions "
                             "the NLU sent to out_of_scope or nlu_fallback are asked as "
                             "the action asks them (answered only above the bar)")
    parser.add_argument("--models", type=Path, nargs="*", default=[],
                        help="other answerability model files, each measured as a path "
                             "beside the configured one (LLM off)")
    parser.add_argument("--limit", type=int, default=0,
                        help="first N items of each index only (a smoke run)")
    parser.add_argument("--styles", nargs="+", default=["quote", "generate"],
                        choices=("quote", "generate"),
                        help="answer styles to measure with the LLM (ANSWER_STYLE)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(list(argv) or None)
    if not args.no_llm and not args.llm_python and not args.hosted_llm:
        parser.error("--llm-python is required unless --no-llm or --hosted-llm")
    hosted = hosted_llm() if args.hosted_llm else {}

    run_info: Dict[Text, Any] = {
        "command": [Path(sys.executable).name, "-m", "benchmarks.answer_accuracy",
                    *(list(argv) or sys.argv[1:])],
        "git_commit": git_commit(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"node": platform.node(), "cpus": os.cpu_count()},
        "load_1min_start": load_average(),
        "answerability_model": answerability_fingerprint(),
        "other_models": {str(m): answerability_fingerprint(m) for m in args.models},
        "routing": str(args.routing) if args.routing else None,
    }
    if run_info["answerability_model"] is None:
        print("No answerability model (make answerability): every path answers by the "
              "earlier rules.", flush=True)
    routed = routed_questions(args.routing) if args.routing else set()
    rows: List[Row] = []
    answers: List[Tuple[Text, Text, List[Graded]]] = []  # (set, path, graded)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        base = {**environment(), "PYTHONPATH": str(ROOT), "REDIS_URL": "",
                "LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
                "LLM_API_KEY": "accuracy-benchmark-key",
                "LOCAL_LLM_API_KEY": "accuracy-benchmark-key", "LLM_TIMEOUT_SECONDS": "60",
                **hosted}
        chosen = indexes(args, work)
        llm = None
        by_path: Dict[Tuple[Text, Text], List[Graded]] = {}

        def record(index: Index, path: Text, graded: List[Graded]) -> None:
            by_path.setdefault((index.set_name, path), []).extend(graded)

        try:
            for number, index in enumerate(chosen, start=1):
                env = {**base, "MILVUS_LITE_PATH": str(work / f"kb-{number}.db")}
                print(f"Indexing {index.set_name} ({index.label}) ...", flush=True)
                subprocess.run([sys.executable, "-m", "apps.cli.ingest", str(index.folder)],
                               cwd=ROOT, env=env, check=True, capture_output=True)
                label = f"{index.set_name} {index.label}"
                # The earlier rules (no answerability model: whatever retrieval finds
                # is quoted as the answer) side by side with the model's decisions.
                earlier = build_service(env, False)
                earlier.answerability = None
                record(index, "extractive, no answerability model (before)",
                       asyncio.run(run(earlier, index.items, f"{label}, before",
                                       index.public, routed)))
                close(earlier)
                extractive = build_service(env, False)
                record(index, "extractive (LLM off)",
                       asyncio.run(run(extractive, index.items, f"{label}, no LLM",
                                       index.public, routed)))
                close(extractive)
                for other in args.models:
                    variant = build_service({**env, "ANSWERABILITY_MODEL": str(other)}, False)
                    record(index, f"extractive (LLM off), {other.stem}",
                           asyncio.run(run(variant, index.items, f"{label}, {other.stem}",
                                           index.public, routed)))
                    close(variant)
                if args.no_llm:
                    continue
                if llm is None and not hosted:
                    base.update(LLM_API_KEY=LLM_KEY, LOCAL_LLM_API_KEY=LLM_KEY)
                    env.update(LLM_API_KEY=LLM_KEY, LOCAL_LLM_API_KEY=LLM_KEY)
                    llm = subprocess.Popen(
                        [args.llm_python, "-m", "apps.llm_server", "--port", str(port)],
                        cwd=ROOT, env=env, stdout=(work / "llm.log").open("w"),
                        stderr=subprocess.STDOUT)
                    wait_for(f"{env['LLM_BASE_URL']}/models", llm,
                             headers={"Authorization": f"Bearer {LLM_KEY}"})
                for style in args.styles:
                    service = build_service({**env, "ANSWER_STYLE": style}, True)
                    record(index, f"final reply, {style} style",
                           asyncio.run(run(service, index.items, f"{label}, {style}",
                                           index.public, routed)))
                    close(service)
        finally:
            if llm is not None:
                llm.terminate()
                llm.wait(timeout=30)

    for (set_name, path), graded in by_path.items():
        rows += rows_for(graded, f"{set_name} · {path}")
        answers.append((set_name, path, graded))
        style = path.rsplit(", ", 1)[-1].replace(" style", "") if "final" in path else ""
        if style:
            for mode, name in (("llm", "LLM answers"), ("quoted", "quoted answers"),
                               ("extractive", "extractive fallbacks")):
                picked = [g for g in graded if g.answer.mode == mode]
                if picked:
                    rows += rows_for(picked, f"{set_name} · {name} ({style} style)")

    run_info["load_1min_end"] = load_average()
    text = table(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"accuracy-{args.set}-{args.split}-{stamp}"
    (args.out / f"{name}.json").write_text(json.dumps(
        {**run_info, "rows": [r.as_dict() for r in rows]}, indent=2, ensure_ascii=False))
    load = " → ".join("–" if x is None else f"{x:.2f}"
                      for x in (run_info["load_1min_start"], run_info["load_1min_end"]))
    (args.out / f"{name}.md").write_text(
        f"`{' '.join(run_info['command'])}` at {run_info['git_commit']}, "
        f"{run_info['date']}, {run_info['machine']['node']} "
        f"({run_info['machine']['cpus']} CPUs), 1-minute load {load}\n\n{text}\n")
    with (args.out / f"{name}-answers.jsonl").open("w") as out:
        for set_name, path, graded in answers:
            for g in graded:
                out.write(json.dumps({
                    "set": set_name, "path": path, "id": g.item["id"],
                    "verdict": g.verdict, "lenient": g.lenient, "mode": g.answer.mode,
                    "query": g.answer.query, "answer": g.answer.text, "claim": g.claim,
                    "units": g.units, "f1": None if g.f1 is None else round(g.f1, 4),
                    "seconds": round(g.seconds, 3), "right_source": g.right_source,
                    "sources": [s.source for s in g.answer.sources]},
                    ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
