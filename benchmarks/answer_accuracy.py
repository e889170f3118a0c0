"""Answer-accuracy benchmark: the questions of benchmarks/data/answer_questions.yml
answered by the answer service as the action server builds it (Milvus Lite with
the sample knowledge base, the embedded LLM), graded automatically and strictly.

    python -m benchmarks.answer_accuracy --llm-python PATH [--split test] [--no-llm]
        [--styles quote generate]

A right answer holds every reference fact (any listed spelling) and none of the
item's wrong values; an unanswerable question is right only when refused. Reports,
per language and per answer path (the final reply in each answer style, `quote`
and `generate`; the LLM's own answers; quoted answers; extractive answers, also
with the LLM switched off): correct, wrong, refused, right source,
p50/p95 latency. Results go to benchmarks/results/accuracy-*.{json,md}, and every
answer with its verdict to accuracy-*-answers.jsonl (for reading the errors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import yaml

from assistant.answers.models import Answer, Turn
from assistant.config import environment, load_settings
from benchmarks.answer_benchmark import LLM_KEY, free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "data" / "answer_questions.yml"
REFUSED_MODES = ("not_found", "unavailable")


def mentions(text: Text, spelling: Text) -> bool:
    """The question set's matching rule: case-insensitive; a spelling that starts
    with a letter or digit does not match right after one, and one that ends with a
    digit does not match right before a digit ("5 天" is not in "15 天")."""
    start = r"(?<![A-Za-z0-9])" if spelling[:1].isascii() and spelling[:1].isalnum() else ""
    end = r"(?![0-9])" if spelling[-1:].isdigit() else ""
    return re.search(start + re.escape(spelling) + end, text, re.IGNORECASE) is not None


@dataclass
class Graded:
    """One question's outcome."""

    item: Dict[Text, Any]
    answer: Answer
    seconds: float
    verdict: Text = ""  # correct | wrong | refused
    right_source: Optional[bool] = None

    def __post_init__(self) -> None:
        refused = self.answer.mode in REFUSED_MODES
        if self.item["kind"] == "unanswerable":
            self.verdict = "correct" if refused else "wrong"
            return
        if refused:
            self.verdict = "refused"
            return
        text = self.answer.text
        facts = all(any(mentions(text, s) for s in fact) for fact in self.item["facts"])
        wrong = any(mentions(text, s) for s in self.item.get("wrong") or [])
        self.verdict = "correct" if facts and not wrong else "wrong"
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
        answered = [g for g in self.graded if g.right_source is not None]
        seconds = sorted(g.seconds for g in self.graded)
        pick = lambda q: seconds[min(len(seconds) - 1, int(q * len(seconds)))] if seconds else 0  # noqa: E731
        return {"group": self.name, "n": n, "correct": count("correct"),
                "wrong": count("wrong"), "refused": count("refused"),
                "correct_pct": 100 * count("correct") / n if n else 0.0,
                "right_source_pct": (100 * sum(1 for g in answered if g.right_source)
                                     / len(answered)) if answered else None,
                "p50_s": pick(0.5), "p95_s": pick(0.95)}


async def run(service: Any, items: List[Dict[Text, Any]], label: Text) -> List[Graded]:
    """Answers every item (a follow-up after its first question) and grades it."""
    graded = []
    for number, item in enumerate(items, start=1):
        history: List[Turn] = []
        if item["kind"] == "follow_up":
            first = await service.answer(item["previous"], [], item["language"])
            history = [Turn("user", item["previous"]), Turn("assistant", first.text)]
        started = time.perf_counter()
        answer = await service.answer(item["question"], history, item["language"])
        result = Graded(item, answer, time.perf_counter() - started)
        graded.append(result)
        print(f"  [{label} {number}/{len(items)}] {result.verdict:8} {answer.mode:10} "
              f"{result.seconds:5.1f}s {item['id']}", flush=True)
    return graded


def rows_for(graded: List[Graded], path: Text) -> List[Row]:
    """Rows by language and kind for one answer path."""
    rows = []
    for language in ("zh", "en", "all"):
        for kind in ("answerable", "follow_up", "unanswerable", "all"):
            chosen = [g for g in graded
                      if language in ("all", g.item["language"])
                      and kind in ("all", g.item["kind"])]
            if chosen:
                rows.append(Row(f"{path} · {language} · {kind}", chosen))
    return rows


def table(rows: List[Row]) -> Text:
    lines = ["| path · language · kind | n | correct | wrong | refused | correct % | "
             "right source % | p50 s | p95 s |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        d = row.as_dict()
        source = "–" if d["right_source_pct"] is None else f"{d['right_source_pct']:.1f}"
        lines.append(f"| {d['group']} | {d['n']} | {d['correct']} | {d['wrong']} | "
                     f"{d['refused']} | {d['correct_pct']:.1f} | {source} | "
                     f"{d['p50_s']:.2f} | {d['p95_s']:.2f} |")
    return "\n".join(lines)


def build_service(env: Dict[Text, Text], with_llm: bool) -> Any:
    """The answer service as the action server builds it; without the LLM when asked."""
    from apps.action_server.wiring import build_services

    services = build_services(load_settings(env))
    if not with_llm:
        services.answers.llm = None
    return services.answers


def main(argv: Sequence[Text] = ()) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-python", help="the LLM server environment's Python")
    parser.add_argument("--split", default="test", choices=("test", "tune", "all"))
    parser.add_argument("--no-llm", action="store_true", help="extractive answers only")
    parser.add_argument("--limit", type=int, default=0, help="first N items only (a smoke run)")
    parser.add_argument("--styles", nargs="+", default=["quote", "generate"],
                        choices=("quote", "generate"),
                        help="answer styles to measure with the LLM (ANSWER_STYLE)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(list(argv) or None)
    if not args.no_llm and not args.llm_python:
        parser.error("--llm-python is required unless --no-llm")

    items = [i for i in yaml.safe_load(QUESTIONS.read_text("utf-8"))
             if args.split in ("all", i["split"])]
    if args.limit:
        items = items[: args.limit]
    rows: List[Row] = []
    answers: Dict[Text, List[Graded]] = {}  # every answer per path, for reading errors
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        env = {**environment(), "PYTHONPATH": str(ROOT),
               "MILVUS_LITE_PATH": str(work / "kb.db"), "REDIS_URL": "",
               "LLM_BASE_URL": f"http://127.0.0.1:{port}/v1", "LLM_API_KEY": "accuracy",
               "LOCAL_LLM_API_KEY": "accuracy", "LLM_TIMEOUT_SECONDS": "60"}
        print("Indexing the knowledge base ...", flush=True)
        subprocess.run([sys.executable, "-m", "apps.cli.ingest", "knowledge"], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        llm = None
        try:
            # The earlier extractive answer (the best passage's sentences sharing the
            # question's words) side by side with sentences ranked by meaning.
            lexical = build_service(env, False)
            lexical.embedder = None
            before = asyncio.run(run(lexical, items, "lexical"))
            rows += rows_for(before, "extractive, shared words (before)")
            extractive = asyncio.run(run(build_service(env, False), items, "no LLM"))
            rows += rows_for(extractive, "extractive (LLM off)")
            answers["extractive, shared words (before)"] = before
            answers["extractive (LLM off)"] = extractive
            if not args.no_llm:
                env.update(LLM_API_KEY=LLM_KEY, LOCAL_LLM_API_KEY=LLM_KEY)
                llm = subprocess.Popen(
                    [args.llm_python, "-m", "apps.llm_server", "--port", str(port)],
                    cwd=ROOT, env=env, stdout=(work / "llm.log").open("w"),
                    stderr=subprocess.STDOUT)
                wait_for(f"{env['LLM_BASE_URL']}/models", llm,
                         headers={"Authorization": f"Bearer {LLM_KEY}"})
                for style in args.styles:
                    final = asyncio.run(run(build_service({**env, "ANSWER_STYLE": style}, True),
                                            items, f"final, {style}"))
                    rows += rows_for(final, f"final reply, {style} style")
                    answers[f"final reply, {style} style"] = final
                    for mode, name in (("llm", "LLM answers"), ("quoted", "quoted answers"),
                                       ("extractive", "extractive fallbacks")):
                        chosen = [g for g in final if g.answer.mode == mode]
                        if chosen:
                            rows += rows_for(chosen, f"{name} ({style} style)")
        finally:
            if llm is not None:
                llm.terminate()
                llm.wait(timeout=30)

    text = table(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"accuracy-{args.split}-{stamp}.json").write_text(
        json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
    (args.out / f"accuracy-{args.split}-{stamp}.md").write_text(text + "\n")
    with (args.out / f"accuracy-{args.split}-{stamp}-answers.jsonl").open("w") as out:
        for path, graded in answers.items():
            for g in graded:
                out.write(json.dumps({"path": path, "id": g.item["id"], "verdict": g.verdict,
                                      "mode": g.answer.mode, "query": g.answer.query,
                                      "answer": g.answer.text, "seconds": round(g.seconds, 3),
                                      "right_source": g.right_source},
                                     ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
