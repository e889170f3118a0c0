"""Capacity benchmark: the highest constant arrival rate of NLU-and-rules turns that
one Rasa process holds with p95 under 1 s, and what a second replica changes.

    python -m benchmarks.capacity --model models/current.tar.gz --locust LOAD_ENV/bin/locust
        [--replicas 1,2] [--rates 2,3,4,5,6,7,8,10,12,14,16] [--seconds 40] [--pacing 10]
        [--api-rate 4] [--actions-python SERVICES_ENV/bin/python]
        [--knowledge-rate 0.5] [--llm-seconds 1.0] [--keep-going] [--out benchmarks/results]

`make benchmark-capacity` runs it (with Locust from its own environment,
benchmarks/load-requirements.txt). For each replica count, `rasa run` replicas of the
model on a fresh PostgreSQL database and Redis with our lock store
(`benchmarks.replicas.start_replicas`); each turn of `TURNS` is sent once and its
reply checked against domain.yml's response for it (the rule's, no action server).
Then Locust (`benchmarks/locustfile.py`, headless, `--csv`) offers each rate of
`--rates` in turn, a constant arrival rate: `rate x pacing` users, each a
conversation sending a message every `--pacing` seconds, spawned over one pacing
period (the warm-up, left out of the figures by `--reset-stats`), each request to
the next replica (round-robin), for `--seconds`. A step holds when no request failed
(a wrong reply is a failure), p95 < 1 s, and Locust achieved at least 95 % of the
offered rate; the search stops at the first step that does not hold (unless
`--keep-going`), and the capacity is the highest rate that held.

With `--api-rate` (and the services' Python), the same turns also go through the
API (`python -m apps.api`, an API key of scope `chat`, its own PostgreSQL
database) to one replica at that rate: what the API adds. With `--knowledge-rate`,
knowledge questions go through the REST channel to an action server whose LLM is a
local fake OpenAI server answering in `--llm-seconds` (`tests.fakes.openai`), the
answer cache reduced to one entry so questions are not answered from it.

Prints a table per step and the summary, writes benchmarks/results/capacity-*.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import yaml

from benchmarks.replicas import (
    ROOT,
    _free_port,
    _wait_up,
    fresh_database,
    start_replicas,
    stop_all,
)

LOCUSTFILE = ROOT / "benchmarks" / "locustfile.py"
# Turns answered by a rule with a response, no action server: (message, response).
TURNS: Tuple[Tuple[Text, Text], ...] = (
    ("hi", "utter_greet"), ("你好", "utter_greet"),
    ("goodbye", "utter_goodbye"), ("拜拜", "utter_goodbye"),
    ("thanks", "utter_youre_welcome"), ("谢谢", "utter_youre_welcome"),
    ("are you a bot?", "utter_iamabot"), ("你是机器人吗", "utter_iamabot"),
    ("hello", "utter_greet"), ("您好", "utter_greet"),
    ("thank you", "utter_youre_welcome"), ("多谢", "utter_youre_welcome"),
    ("bye", "utter_goodbye"), ("再见", "utter_goodbye"),
)
P95_LIMIT_MS = 1000.0
ACHIEVED_SHARE = 0.95  # of the offered rate, for a step to count


@dataclass
class Stats:
    """One request name's figures from Locust's `<prefix>_stats.csv`."""

    name: Text
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class Step:
    """One offered rate, measured."""

    scenario: Text
    replicas: int
    offered: float
    achieved: float
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_busy: float = 0.0  # share of both cores busy during the step (all processes)
    rasa_cores: float = 0.0  # cores the Rasa replicas used during the step, together

    @property
    def holds(self) -> bool:
        """No failure, p95 under 1 s, and the offered rate achieved."""
        return (self.requests > 0 and self.failures == 0 and self.p95_ms < P95_LIMIT_MS
                and self.achieved >= ACHIEVED_SHARE * self.offered)


def read_stats(text: Text, name: Text) -> Stats:
    """The row named `name` of Locust's stats CSV (times in ms)."""
    def number(row: Dict[Text, Text], key: Text) -> float:
        value = row.get(key) or "0"
        return 0.0 if value == "N/A" else float(value)

    for row in csv.DictReader(io.StringIO(text)):
        if row.get("Name") == name:
            return Stats(name, int(number(row, "Request Count")),
                         int(number(row, "Failure Count")), number(row, "Requests/s"),
                         number(row, "50%"), number(row, "95%"), number(row, "99%"),
                         number(row, "Max Response Time"))
    return Stats(name, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)


def read_failures(text: Text) -> List[Dict[Text, Text]]:
    """Locust's `<prefix>_failures.csv`: method, name, error, occurrences."""
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


def step_from(stats: Stats, scenario: Text, replicas: int, offered: float,
              cpu_busy: float = 0.0, rasa_cores: float = 0.0) -> Step:
    return Step(scenario, replicas, round(offered, 2), round(stats.requests_per_second, 2),
                stats.requests, stats.failures, stats.p50_ms, stats.p95_ms, stats.p99_ms,
                round(stats.max_ms), round(cpu_busy, 2), round(rasa_cores, 2))


def capacity(steps: Sequence[Step]) -> float:
    """The highest offered rate that held below the first step that did not: the
    step search goes up and a rate above a failed one does not count."""
    best = 0.0
    for step in sorted(steps, key=lambda s: s.offered):
        if not step.holds:
            break
        best = step.offered
    return best


def users_for(rate: float, pacing: float) -> int:
    """Locust users (conversations) that offer `rate` messages a second when each
    sends one every `pacing` seconds."""
    return max(1, math.ceil(rate * pacing - 1e-9))


def expected_replies(domain: Dict[Text, Any], response: Text) -> List[Text]:
    """Every text a response of domain.yml may send (its language variations)."""
    return [v["text"] for v in domain["responses"][response] if v.get("text")]


def turns_file(folder: Path, questions: Sequence[Text] = ()) -> Path:
    """The turns with their expected replies, and the knowledge questions, for Locust."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text("utf-8"))
    refusals = expected_replies(domain, "utter_action_failed")
    data = {"turns": [{"text": text, "replies": expected_replies(domain, response)}
                      for text, response in TURNS],
            "questions": [{"text": q, "refusals": refusals} for q in questions]}
    path = folder / "turns.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def post_json(url: Text, body: Dict[Text, Any], headers: Optional[Dict[Text, Text]] = None,
              timeout: float = 120) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def check_turns(url: Text, turns: Path) -> None:
    """Each turn once, in a conversation of its own: its reply must be the rule's
    response (a turn that needed the action server would get the apology)."""
    data = json.loads(turns.read_text("utf-8"))
    wrong = []
    for turn in data["turns"]:
        replies = post_json(f"{url}/webhooks/rest/webhook",
                            {"sender": f"check-{uuid.uuid4().hex[:8]}", "message": turn["text"]})
        texts = [r.get("text") for r in replies]
        if not texts or any(t not in turn["replies"] for t in texts):
            wrong.append(f"{turn['text']!r} -> {texts!r}")
    if wrong:
        raise RuntimeError("turns not answered by their rule: " + "; ".join(wrong))


def warm_up_knowledge(urls: Sequence[Text], turns: Path) -> None:
    """A question to each replica, so the first step does not time the action
    server's and the replicas' first answers."""
    data = json.loads(turns.read_text("utf-8"))
    for url, question in zip(urls, data["questions"][-len(urls):], strict=False):
        post_json(f"{url}/webhooks/rest/webhook",
                  {"sender": f"warm-{uuid.uuid4().hex[:8]}", "message": question["text"]})


def cpu_times() -> Tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def busy_share(seconds: float = 5.0) -> float:
    """The share of the CPU (all cores) busy over `seconds`: before a run, what other
    processes on the machine use."""
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    return (busy1 - busy0) / max(1.0, total1 - total0)


def process_ticks(pids: Sequence[int]) -> float:
    """CPU time (user and system, clock ticks) the processes have used."""
    ticks = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += float(fields[11]) + float(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks


def run_locust(locust: Text, user: Text, targets: Sequence[Text], rate: float, seconds: float,
               pacing: float, folder: Path, turns: Path, extra: Sequence[Text] = (),
               pids: Sequence[int] = ()) -> Tuple[Stats, List[Dict[Text, Text]], float, float]:
    """One step: Locust headless at `rate` messages a second for `seconds` after a
    warm-up of one pacing period. Returns the stats, the failures, the share of the
    CPU busy while measuring and the cores `pids` (the replicas) used."""
    users = users_for(rate, pacing)
    name = {"RestTurns": "rest", "ApiChat": "api", "KnowledgeQuestions": "knowledge"}[user]
    prefix = folder / f"{name}-{len(targets)}x-{rate:g}"
    command = [locust, "-f", str(LOCUSTFILE), "--headless", "--only-summary",
               "--host", targets[0], "--targets", ",".join(targets),
               "--pacing", str(pacing), "--turns-file", str(turns),
               "-u", str(users), "-r", str(users / pacing),
               "--run-time", f"{int(math.ceil(pacing + seconds))}s", "--reset-stats",
               "--stop-timeout", "60", "--csv", str(prefix), "--loglevel", "WARNING",
               *extra, user]
    log = prefix.with_suffix(".log")
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env=locust_env())
        time.sleep(pacing)  # the ramp: users spawn over one pacing period
        busy0, total0 = cpu_times()
        ticks0, started = process_ticks(pids), time.perf_counter()
        time.sleep(seconds)
        busy1, total1 = cpu_times()
        ticks1, elapsed = process_ticks(pids), time.perf_counter() - started
        process.wait(timeout=pacing + seconds + 180)
    stats_csv = Path(f"{prefix}_stats.csv")
    if not stats_csv.exists():
        raise RuntimeError(f"Locust wrote no stats; see {log}:\n{log.read_text()[-2000:]}")
    failures_csv = Path(f"{prefix}_failures.csv")
    failures = read_failures(failures_csv.read_text("utf-8")) if failures_csv.exists() else []
    return (read_stats(stats_csv.read_text("utf-8"), name), failures,
            (busy1 - busy0) / max(1.0, total1 - total0),
            (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / elapsed)


def locust_env() -> Dict[Text, Text]:
    """Locust runs apart from the project's environments: a plain environment."""
    from bilingual_assistant.config import environment

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: v for k, v in environment().items() if k in keep}


def sweep(locust: Text, user: Text, targets: Sequence[Text], rates: Sequence[float],
          args: argparse.Namespace, folder: Path, turns: Path, scenario: Text,
          extra: Sequence[Text] = (), pids: Sequence[int] = (), replicas: int = 0
          ) -> List[Step]:
    """The step search: rates in increasing order until one does not hold."""
    steps: List[Step] = []
    for rate in sorted(rates):
        stats, failures, busy, cores = run_locust(locust, user, targets, rate, args.seconds,
                                                  args.pacing, folder, turns, extra, pids)
        step = step_from(stats, scenario, replicas or len(targets), rate, busy, cores)
        steps.append(step)
        print(f"  {scenario}, {len(targets)} replica(s), offered {rate:g}/s: achieved "
              f"{step.achieved:g}/s, p50 {step.p50_ms:g} ms, p95 {step.p95_ms:g} ms, "
              f"p99 {step.p99_ms:g} ms, {step.failures} failed of {step.requests}, "
              f"CPU {100 * busy:.0f} %, Rasa {cores:.2f} cores -> "
              f"{'holds' if step.holds else 'does not hold'}",
              flush=True)
        for failure in failures[:3]:
            print(f"    {failure.get('Occurrences')} x {failure.get('Error')}", flush=True)
        if not step.holds and not args.keep_going:
            break
    return steps


class Services:
    """The processes in the services' environment: the API, and for knowledge
    questions an action server with a fake LLM."""

    def __init__(self, python: Text, folder: Path) -> None:
        from bilingual_assistant.config import environment

        self.python, self.folder = python, folder
        self.processes: List[subprocess.Popen] = []
        self.env = {**environment(), "PYTHONPATH": str(ROOT), "REDIS_URL": "",
                    "JOBS_BROKER_URL": f"sqla+sqlite:///{folder / 'jobs-broker.db'}"}

    def start(self, module: Text, port: int, health: Text, env: Dict[Text, Text]) -> None:
        log = (self.folder / f"{module.rsplit('.', 1)[-1]}.log").open("a")
        process = subprocess.Popen([self.python, "-m", module, "--port", str(port)],
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**self.env, **env})
        self.processes.append(process)
        _wait_up(health, process, 300)

    def api(self, rasa_url: Text, db_url: Text) -> Tuple[Text, Text]:
        """Starts the API in front of `rasa_url`; returns its URL and a chat key."""
        env = {"SERVICES_DB_URL": db_url, "API_RASA_URL": rasa_url, "API_LOCAL_USER": "off",
               "MILVUS_LITE_PATH": str(self.folder / "api-knowledge.db")}
        made = subprocess.run(
            [self.python, "-m", "apps.cli.api_keys", "create", "--name", "capacity",
             "--scope", "chat", "--days", "1"], cwd=ROOT, env={**self.env, **env},
            check=True, capture_output=True, text=True, timeout=300)
        port = _free_port()
        self.start("apps.api", port, f"http://127.0.0.1:{port}/v1/health", env)
        return f"http://127.0.0.1:{port}", made.stdout.splitlines()[0].strip()

    def action_server(self, llm_url: Text, token: Text) -> Text:
        """Indexes the sample knowledge base into a file of its own and starts an
        action server on it, its LLM at `llm_url`; returns its webhook URL."""
        env = {"MILVUS_LITE_PATH": str(self.folder / "knowledge.db"),
               "ACTION_SERVER_TOKEN": token, "LLM_BASE_URL": llm_url,
               "LLM_API_KEY": "capacity", "ANSWER_STYLE": "generate",
               "ANSWER_CACHE_SIZE": "1", "LLM_TIMEOUT_SECONDS": "60",
               "LLM_CONCURRENCY": "8"}  # a hosted endpoint serves many at once
        subprocess.run([self.python, "-m", "apps.cli.ingest", "knowledge"], cwd=ROOT,
                       env={**self.env, **env}, check=True, capture_output=True, timeout=900)
        port = _free_port()
        self.start("apps.action_server", port, f"http://127.0.0.1:{port}/health", env)
        return f"http://127.0.0.1:{port}/webhook"

    def stop(self) -> None:
        stop_all(self.processes)


# The fake LLM as a process of its own: tests/fakes/openai.py's server (OpenAI's
# wire format), every answer after a fixed delay.
FAKE_LLM = """
import sys, threading
from tests.fakes.openai import FakeOpenAI
llm = FakeOpenAI().start()
llm.delay_seconds = float(sys.argv[1])
print(llm.base_url, flush=True)
threading.Event().wait()
"""


def start_fake_llm(seconds: float, folder: Path) -> Tuple[subprocess.Popen, Text]:
    """A local OpenAI-compatible server answering in `seconds`; its process and URL."""
    from bilingual_assistant.config import environment

    process = subprocess.Popen([sys.executable, "-c", FAKE_LLM, str(seconds)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True,
                               stderr=(folder / "fake-llm.log").open("w"),
                               env={**environment(), "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def knowledge_questions(count: int) -> List[Text]:
    """Questions of the retrieval set, Chinese and English alternately."""
    data = yaml.safe_load((ROOT / "benchmarks/data/retrieval_questions.yml").read_text("utf-8"))
    zh = [q["question"] for q in data["questions"] if q["language"] == "zh"]
    en = [q["question"] for q in data["questions"] if q["language"] == "en"]
    return [q for pair in zip(zh, en, strict=False) for q in pair][:count]


def table(steps: Sequence[Step]) -> Text:
    lines = ["| scenario | replicas | offered msg/s | achieved msg/s | requests | failed | "
             "p50 ms | p95 ms | p99 ms | max ms | CPU busy | Rasa's cores | Rasa's CPU ms a "
             "message | other cores | holds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    cores = os.cpu_count() or 1
    for s in steps:
        lines.append(f"| {s.scenario} | {s.replicas} | {s.offered:g} | {s.achieved:g} | "
                     f"{s.requests} | {s.failures} | {s.p50_ms:g} | {s.p95_ms:g} | "
                     f"{s.p99_ms:g} | {s.max_ms:g} | {100 * s.cpu_busy:.0f} % | "
                     f"{s.rasa_cores:.2f} | {1000 * s.rasa_cores / max(s.achieved, 1e-9):.0f} | "
                     f"{max(0.0, s.cpu_busy * cores - s.rasa_cores):.2f} | "
                     f"{'yes' if s.holds else 'no'} |")
    return "\n".join(lines)


def summary_table(steps: Sequence[Step], counts: Sequence[int]) -> Text:
    lines = ["| replicas | capacity (msg/s, p95 < 1 s, no failure) | p95 at it ms | "
             "first rate that did not hold |", "|---|---|---|---|"]
    for count in counts:
        mine = [s for s in steps if s.scenario == "rest" and s.replicas == count]
        best = capacity(mine)
        at = next((s for s in mine if s.offered == best), None)
        over = next((s for s in sorted(mine, key=lambda s: s.offered) if not s.holds), None)
        lines.append(f"| {count} | {best:g} | {at.p95_ms if at else 0:g} | "
                     f"{f'{over.offered:g} (p95 {over.p95_ms:g} ms)' if over else '-'} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "current.tar.gz")
    parser.add_argument("--locust", required=True, help="Locust's executable (its own env)")
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--rates", default="2,3,4,5,6,7,8,10,12,14,16")
    parser.add_argument("--seconds", type=float, default=40.0, help="measured per step")
    parser.add_argument("--pacing", type=float, default=10.0,
                        help="seconds between one conversation's messages")
    parser.add_argument("--keep-going", action="store_true",
                        help="try every rate, not only up to the first that does not hold")
    parser.add_argument("--actions-python", default="",
                        help="the services' Python (the API, the action server)")
    parser.add_argument("--api-rate", type=float, default=4.0,
                        help="chat through the API at this rate (1 replica); 0: not run")
    parser.add_argument("--knowledge-rate", type=float, default=0.5,
                        help="knowledge questions at this rate; 0: not run")
    parser.add_argument("--llm-seconds", type=float, default=1.0,
                        help="the fake LLM's fixed answer time")
    parser.add_argument("--db-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL admin URL: a fresh database per replica count")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.replicas.split(",")]
    rates = [float(x) for x in args.rates.split(",")]
    if (args.api_rate or args.knowledge_rate) and not args.actions_python:
        print("No --actions-python: the API and knowledge rows are left out.", flush=True)
        args.api_rate = args.knowledge_rate = 0.0
    steps: List[Step] = []
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    background: Dict[Text, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        questions = knowledge_questions(60) if args.knowledge_rate else []
        turns = turns_file(folder, questions)
        llm: Optional[subprocess.Popen] = None
        services = Services(args.actions_python, folder) if args.knowledge_rate else None
        try:
            env: Dict[Text, Text] = {}
            if services:
                llm, llm_url = start_fake_llm(args.llm_seconds, folder)
                token = uuid.uuid4().hex
                print("Indexing the sample knowledge base, starting an action server ...",
                      flush=True)
                env = {"ACTION_SERVER_URL": services.action_server(llm_url, token),
                       "ACTION_SERVER_TOKEN": token}
            for count in counts:
                with fresh_database(args.db_url) as db_url:
                    background[str(count)] = round(busy_share(), 2)
                    print(f"CPU busy before the run (other processes): "
                          f"{100 * background[str(count)]:.0f} %"
                          + ("  WARNING: the figures will be lower than on a quiet machine"
                             if background[str(count)] > 0.15 else ""), flush=True)
                    print(f"Starting {count} replica(s) ...", flush=True)
                    replicas = start_replicas(args.model, folder / f"{count}x", db_url,
                                              args.redis_url, "ours", count=count, **env)
                    try:
                        for url in replicas.urls:
                            check_turns(url, turns)
                        pids = [p.pid for p in replicas.processes]
                        steps += sweep(args.locust, "RestTurns", replicas.urls, rates, args,
                                       folder, turns, "rest", pids=pids)
                        if args.knowledge_rate:
                            warm_up_knowledge(replicas.urls, turns)
                            steps += sweep(args.locust, "KnowledgeQuestions", replicas.urls,
                                           [args.knowledge_rate], args, folder, turns,
                                           f"knowledge (LLM {args.llm_seconds:g} s)",
                                           pids=pids)
                        if args.api_rate and count == 1:
                            api = Services(args.actions_python, folder)
                            with fresh_database(args.db_url) as api_db:
                                try:
                                    print("Starting the API ...", flush=True)
                                    api_url, key = api.api(replicas.urls[0], api_db)
                                    steps += sweep(args.locust, "ApiChat", [api_url],
                                                   [args.api_rate], args, folder, turns,
                                                   "api", ["--api-key", key], pids=pids,
                                                   replicas=1)
                                finally:
                                    api.stop()
                    finally:
                        replicas.stop()
        finally:
            if services:
                services.stop()
            if llm:
                llm.terminate()
                llm.wait(timeout=30)
    summary = summary_table(steps, counts) + "\n\nCPU busy before each run (other processes): " \
        + ", ".join(f"{k} replica(s) {100 * v:.0f} %" for k, v in background.items())
    text = table(steps)
    print(summary + "\n\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"capacity-{stamp}.json").write_text(json.dumps(
        {"started": started, "args": {k: str(v) for k, v in vars(args).items()},
         "capacity": {str(c): capacity([s for s in steps if s.scenario == "rest"
                                        and s.replicas == c]) for c in counts},
         "cpu_busy_before": background, "steps": [asdict(s) for s in steps]}, indent=2))
    (args.out / f"capacity-{stamp}.md").write_text(summary + "\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
