"""Load benchmark: knowledge questions asked at once by 1, 2, 5 and 10 people, with
the model's admission control (LLM_CONCURRENCY=1, the embedded server's capacity)
and without it (a baseline in which every request goes straight to the model, as
before), side by side on the same machine and questions.

    python -m benchmarks.load_benchmark --llm-python PATH [--levels 1,2,5,10]

As in production: the embedded LLM server, and an action server per configuration
(rasa-sdk, Milvus Lite with the sample knowledge base) called over HTTP with Rasa
3.6's action protocol. Every question is new to the answer cache. Reports, per
configuration and level: answered, the share answered by the model, p50/p95/max
latency, and whether the circuit breaker opened. Results go to
benchmarks/results/load-*.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Sequence, Text, Tuple

import yaml

from benchmarks.answer_benchmark import (
    LLM_KEY,
    ROOT,
    TOKEN,
    answer_action,
    free_port,
    start_action_server,
    stop,
    wait_for,
)
from bilingual_assistant.config import environment

CONFIGURATIONS = {
    # Every request straight to the model (the client's queue is as large as the load).
    "baseline (no admission)": {"LLM_CONCURRENCY": "64"},
    "admission (LLM_CONCURRENCY=1)": {"LLM_CONCURRENCY": "1"},
}


# Answers the model took part in.
MODEL_MODES = ("llm", "quoted", "not_found")


def ask(port: int, question: Text, language: Text, sender: Text) -> Tuple[float, Text]:
    """The answer action's latency and the answer's mode."""
    return answer_action(port, question, language, sender, timeout=300)


def wait_until_idle(llm_port: int) -> None:
    """Returns once the model has finished the requests abandoned by timed-out
    clients (a one-token request queues behind them)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{llm_port}/v1/chat/completions",
        data=json.dumps({"model": "local", "max_tokens": 1,
                         "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {LLM_KEY}"})
    with urllib.request.urlopen(request, timeout=600):
        pass


def events_in(log: Path) -> List[Text]:
    """The event names of the action server's JSON log lines, in order."""
    return [json.loads(x).get("event", "") for x in log.read_text().splitlines()
            if x.startswith("{")]


def pick(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_level(port: int, questions: List[Dict[Text, Any]], tag: Text) -> List[Tuple[float, Text]]:
    with ThreadPoolExecutor(len(questions)) as pool:
        futures = [pool.submit(ask, port, q["question"], q["language"], f"{tag}-{i}")
                   for i, q in enumerate(questions)]
        return [f.result() for f in futures]


def main(argv: Sequence[Text] = ()) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-python", required=True)
    parser.add_argument("--levels", default="1,2,5,10")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(list(argv) or None)
    levels = [int(x) for x in args.levels.split(",")]

    data = yaml.safe_load((ROOT / "benchmarks/data/retrieval_questions.yml").read_text("utf-8"))
    pool = data["questions"]
    zh = [q for q in pool if q["language"] == "zh"]
    en = [q for q in pool if q["language"] == "en"]
    mixed = [q for pair in zip(zh, en, strict=False) for q in pair]
    if sum(levels) > len(mixed):
        parser.error(f"the levels need {sum(levels)} questions; {len(mixed)} are available")
    rows: List[Dict[Text, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        llm_port = free_port()
        env = {**environment(), "PYTHONPATH": str(ROOT), "ACTION_SERVER_TOKEN": TOKEN,
               "MILVUS_LITE_PATH": str(work / "kb.db"),
               "LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
               "LLM_API_KEY": LLM_KEY, "LOCAL_LLM_API_KEY": LLM_KEY}
        llm = subprocess.Popen([args.llm_python, "-m", "apps.llm_server", "--port",
                                str(llm_port)], cwd=ROOT, env=env,
                               stdout=(work / "llm.log").open("w"), stderr=subprocess.STDOUT)
        try:
            print("Starting the embedded LLM and indexing the knowledge base ...", flush=True)
            subprocess.run([sys.executable, "-m", "apps.cli.ingest", "knowledge"],
                           cwd=ROOT, env=env, check=True, capture_output=True)
            wait_for(f"http://127.0.0.1:{llm_port}/v1/models", llm,
                     headers={"Authorization": f"Bearer {LLM_KEY}"})
            wait_until_idle(llm_port)  # loads the model
            for name, extra in CONFIGURATIONS.items():
                port = free_port()
                log = work / f"actions-{port}.log"
                server = start_action_server(port, {**env, **extra}, log)
                try:
                    start = 0
                    for level in levels:
                        questions = mixed[start:start + level]
                        start += level
                        seen = len(events_in(log))
                        results = run_level(port, questions, f"{port}-{level}")
                        latencies = [r[0] for r in results]
                        # The model wrote (`llm`), judged the quote (`quoted`) or said
                        # the documents do not answer (these questions are all found).
                        by_llm = sum(1 for r in results if r[1] in MODEL_MODES)
                        events = events_in(log)[seen:]
                        row = {
                            "configuration": name, "askers": level,
                            "answered": len(results), "llm": by_llm,
                            "p50_s": pick(latencies, 0.5), "p95_s": pick(latencies, 0.95),
                            "max_s": max(latencies),
                            "model_failures": events.count("llm.unavailable"),
                            "circuit_open": events.count("llm.circuit_open"),
                            "refused_busy": events.count("llm.busy"),
                        }
                        rows.append(row)
                        print(f"  {name}, {level} at once: {by_llm}/{level} by the model, "
                              f"p50 {row['p50_s']:.1f} s, max {row['max_s']:.1f} s, "
                              f"{row['model_failures']} model failures, "
                              f"{row['circuit_open']} refused by the open circuit", flush=True)
                        wait_until_idle(llm_port)
                finally:
                    stop(server)
        finally:
            llm.terminate()
            llm.wait(timeout=30)

    lines = ["| configuration | askers at once | answered | by the model | p50 s | p95 s | "
             "max s | timed out at the model | circuit open | told busy at once |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['configuration']} | {r['askers']} | {r['answered']} | {r['llm']} | "
                     f"{r['p50_s']:.1f} | {r['p95_s']:.1f} | {r['max_s']:.1f} | "
                     f"{r['model_failures']} | {r['circuit_open']} | {r['refused_busy']} |")
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"load-{stamp}.json").write_text(json.dumps(rows, indent=2))
    (args.out / f"load-{stamp}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
