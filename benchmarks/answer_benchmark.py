"""Answer benchmark: latency of cached, uncached (LLM) and extractive answers,
the share of LLM calls the cache avoids on a replay, and the action server's memory.

    python -m benchmarks.answer_benchmark [--questions 12] [--replay 200]

Everything runs as in production, over HTTP: the embedded LLM server, and the
action server (rasa-sdk, shared secret, Milvus Lite with the sample knowledge base)
called with Rasa 3.6's action protocol. A second action server whose LLM endpoint
is unreachable measures the extractive fallback. Results are printed and written
to benchmarks/results/answers-*.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Sequence, Text, Tuple

import yaml

from bilingual_assistant.config import environment

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "benchmark-secret"
LLM_KEY = "benchmark-llm-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: Text, process: subprocess.Popen, seconds: int = 180,
             headers: Dict[Text, Text] | None = None) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode})")
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                   timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {seconds} s")


def action_call(question: Text, language: Text, sender: Text) -> bytes:
    tracker = {
        "sender_id": sender, "slots": {"language": language},
        "latest_message": {"text": question, "intent": {}, "entities": []},
        "events": [{"event": "user", "text": question}], "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    }
    return json.dumps({"next_action": "action_answer_question", "sender_id": sender,
                       "version": "3.6.21", "domain": {}, "tracker": tracker}).encode()


def answer_action(port: int, question: Text, language: Text, sender: Text,
                  timeout: float = 120) -> Tuple[float, Text]:
    """Runs the answer action; returns its latency and the answer's mode."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook?token={TOKEN}",
        data=action_call(question, language, sender),
        headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    return time.perf_counter() - started, body["responses"][0]["answer"]["mode"]


def ask(port: int, question: Text, language: Text, sender: Text) -> float:
    """Runs the answer action; returns its latency (fails unless it answered)."""
    elapsed, mode = answer_action(port, question, language, sender)
    if mode == "unavailable":
        raise RuntimeError(f"the action server could not answer {question!r}")
    return elapsed


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def percentiles(values: Sequence[float]) -> Dict[Text, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": 1000 * pick(0.5), "p95_ms": 1000 * pick(0.95)}


def start_action_server(port: int, env: Dict[Text, Text], log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.action_server", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    wait_for(f"http://127.0.0.1:{port}/health", process)
    return process


def main(argv: Sequence[Text] = ()) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=12,
                        help="distinct questions answered by the LLM (half zh, half en)")
    parser.add_argument("--replay", type=int, default=200, help="requests in the replay")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--llm-python", required=True,
                        help="the LLM server environment's Python (make benchmark-answers "
                             "passes it)")
    args = parser.parse_args(list(argv) or None)

    data = yaml.safe_load((ROOT / "benchmarks/data/retrieval_questions.yml").read_text("utf-8"))
    pool = data["questions"]
    zh = [q for q in pool if q["language"] == "zh"][: args.questions // 2]
    en = [q for q in pool if q["language"] == "en"][: args.questions - len(zh)]
    chosen = [q for pair in zip(zh, en, strict=False) for q in pair]
    processes: List[subprocess.Popen] = []
    results: Dict[Text, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        llm_port, port, extractive_port = free_port(), free_port(), free_port()
        env = {**environment(), "PYTHONPATH": str(ROOT), "ACTION_SERVER_TOKEN": TOKEN,
               "MILVUS_LITE_PATH": str(work / "kb.db"),
               "LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1", "LLM_TIMEOUT_SECONDS": "60",
               "LLM_API_KEY": LLM_KEY, "LOCAL_LLM_API_KEY": LLM_KEY}
        try:
            print("Starting the embedded LLM and indexing the knowledge base ...", flush=True)
            llm = subprocess.Popen(
                [args.llm_python, "-m", "apps.llm_server", "--port", str(llm_port)],
                cwd=ROOT, env=env, stdout=(work / "llm.log").open("w"),
                stderr=subprocess.STDOUT)
            processes.append(llm)
            subprocess.run([sys.executable, "-m", "apps.cli.ingest", "knowledge"],
                           cwd=ROOT, env=env, check=True, capture_output=True)
            wait_for(f"http://127.0.0.1:{llm_port}/v1/models", llm,
                     headers={"Authorization": f"Bearer {LLM_KEY}"})
            server = start_action_server(port, env, work / "actions.log")
            processes.append(server)
            results["rss_idle_mb"] = rss_mb(server.pid)

            uncached, cached = [], []
            for number, item in enumerate(chosen, start=1):
                uncached.append(ask(port, item["question"], item["language"], f"u{number}"))
                print(f"  uncached {number}/{len(chosen)}: {uncached[-1]:.1f} s", flush=True)
            for number, item in enumerate(chosen, start=1):
                cached.append(ask(port, item["question"], item["language"], f"c{number}"))
            results["rss_after_mb"] = rss_mb(server.pid)
            stop(server)  # Milvus Lite: one process per file

            print("Extractive answers (LLM endpoint unreachable) ...", flush=True)
            extractive_env = {**env, "LLM_BASE_URL": "http://127.0.0.1:9/v1"}
            fallback = start_action_server(extractive_port, extractive_env,
                                           work / "extractive.log")
            processes.append(fallback)
            extractive = [ask(extractive_port, q["question"], q["language"], f"e{i}")
                          for i, q in enumerate(pool)]
            stop(fallback)
            # The replay, with the model up (answers given without it are not cached):
            # questions drawn with a Zipf-like popularity (a few asked often), written
            # the way people vary them (case, trailing punctuation).
            print(f"The replay ({args.replay} requests, the model up) ...", flush=True)
            rng = random.Random(42)
            weights = [1 / (rank + 1) for rank in range(len(pool))]
            log = work / "replay.log"
            replay_port = free_port()
            processes.append(start_action_server(replay_port, env, log))
            for i in range(args.replay):
                item = rng.choices(pool, weights)[0]
                text = item["question"]
                text = rng.choice([text, text.lower(), text.rstrip("?？") + " ?"])
                ask(replay_port, text, item["language"], f"r{i}")
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
            hits = sum(1 for x in lines if x.get("event") == "answers.cache_hit")
            generated = sum(1 for x in lines if x.get("event") == "answers.answered"
                            and x.get("mode") != "not_found")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                process.wait(timeout=30)

    results.update({
        "uncached_llm": percentiles(uncached), "cached": percentiles(cached),
        "extractive": percentiles(extractive),
        "replay": {"requests": args.replay, "cache_hits": hits, "generations": generated,
                   "llm_calls_avoided": hits / max(1, hits + generated)},
    })
    table = [
        "| answer path | requests | p50 ms | p95 ms |", "|---|---|---|---|",
        *[f"| {name} | {results[key]['n']} | {results[key]['p50_ms']:.0f} | "
          f"{results[key]['p95_ms']:.0f} |"
          for name, key in (("uncached (embedded LLM)", "uncached_llm"),
                            ("cached", "cached"), ("extractive (LLM unreachable)",
                                                   "extractive"))],
        "",
        f"Replay of {args.replay} requests over {len(pool)} questions (Zipf-like "
        f"popularity, varied case and punctuation): {hits} cache hits, {generated} "
        f"generations; LLM calls avoided: {results['replay']['llm_calls_avoided']:.1%}.",
        f"Action server resident memory (with its Milvus Lite process): "
        f"{results['rss_idle_mb']:.0f} MB at start (models load on the first question), "
        f"{results['rss_after_mb']:.0f} MB after {2 * len(chosen)} answers; the embedded "
        f"LLM server is a separate process.",
    ]
    text = "\n".join(table)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"answers-{stamp}.md").write_text(text + "\n", encoding="utf-8")
    (args.out / f"answers-{stamp}.json").write_text(json.dumps(results, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
