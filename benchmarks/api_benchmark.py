"""API benchmark against a running `make run`: what chat through the API adds to
Rasa's own reply time, how long the 24 sample documents take to index after an
upload, and 20 people chatting through the API at once.

    python -m benchmarks.api_benchmark [--rasa URL] [--api URL] [--key KEY]
        [--rounds 100] [--users 20]

1. Overhead: the same NLU-and-rules messages ("hi", "thanks", ...) sent alternately
   to Rasa's REST channel and to `POST /v1/chat`, side by side; p50 and p95 of
   each and the difference of the p50s (the API's cost: its own request, the
   check of the caller, the call to Rasa).
2. Indexing: the 24 sample documents uploaded in one request under new names;
   seconds from the request to the job's success; then they are deleted again.
3. Concurrency: `--users` conversations sending 5 messages each at once through the
   API; replies by status, p50/p95.

Prints tables and writes benchmarks/results/api-*.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import httpx

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = ["hi", "thanks", "what can you do?", "你好", "谢谢", "bye", "你能做什么"]


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def overhead(rasa: httpx.Client, api: httpx.Client, rounds: int) -> Dict[Text, Any]:
    direct: List[float] = []
    through: List[float] = []
    for n in range(rounds):
        message = MESSAGES[n % len(MESSAGES)]
        order = [("rasa", rasa), ("api", api)] if n % 2 == 0 else [("api", api), ("rasa", rasa)]
        for name, client in order:
            started = time.perf_counter()
            if name == "rasa":
                response = client.post("/webhooks/rest/webhook",
                                       json={"sender": f"bench-direct-{n}", "message": message})
            else:
                response = client.post("/v1/chat", json={"message": message,
                                                         "conversation": f"bench-{n}"})
            response.raise_for_status()
            (direct if name == "rasa" else through).append(
                (time.perf_counter() - started) * 1000)
    return {"rounds": rounds,
            "rasa_p50_ms": statistics.median(direct), "rasa_p95_ms": percentile(direct, 0.95),
            "api_p50_ms": statistics.median(through), "api_p95_ms": percentile(through, 0.95),
            "added_p50_ms": statistics.median(through) - statistics.median(direct)}


def indexing(api: httpx.Client) -> Dict[Text, Any]:
    files = sorted(p for p in (ROOT / "knowledge").rglob("*")
                   if p.is_file() and "uploads" not in p.relative_to(ROOT / "knowledge").parts)
    stamp = dt.datetime.now().strftime("%H%M%S")
    upload = [("files", (f"bench-{stamp}-{p.parent.name}-{p.name}", p.read_bytes(),
                         "application/octet-stream")) for p in files]
    started = time.perf_counter()
    response = api.post("/v1/documents", files=upload, timeout=120)
    response.raise_for_status()
    job = response.json()["job"]
    while job["state"] not in ("succeeded", "failed"):
        time.sleep(0.25)
        job = api.get(f"/v1/jobs/{job['id']}").json()
    seconds = time.perf_counter() - started
    for saved in response.json()["saved"]:
        api.delete(f"/v1/documents/{saved}").raise_for_status()
    return {"documents": len(files), "seconds": round(seconds, 1), "state": job["state"],
            "message": job["message"], "error": job["error"]}


def concurrency(api_url: Text, headers: Dict[Text, Text], users: int) -> Dict[Text, Any]:
    def user(n: int) -> List[Any]:
        seen = []
        with httpx.Client(base_url=api_url, headers=headers, timeout=120) as client:
            for message in MESSAGES[:5]:
                started = time.perf_counter()
                try:
                    status = client.post("/v1/chat", json={
                        "message": message, "conversation": f"crowd-{n}"}).status_code
                except httpx.HTTPError as error:
                    status = error.__class__.__name__
                seen.append((status, (time.perf_counter() - started) * 1000))
        return seen

    with ThreadPoolExecutor(users) as pool:
        results = [r for rs in pool.map(user, range(users)) for r in rs]
    statuses: Dict[Text, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    times = [ms for _, ms in results]
    return {"users": users, "requests": len(results), "statuses": statuses,
            "server_errors": sum(n for s, n in statuses.items() if s.startswith("5")
                                 or not s.isdigit()),
            "p50_ms": statistics.median(times), "p95_ms": percentile(times, 0.95)}


def main(argv: Optional[Sequence[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rasa", default="http://127.0.0.1:5005")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--key", default="", help="an API key (local mode: none needed)")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.rasa, timeout=60) as rasa, \
            httpx.Client(base_url=args.api, headers=headers, timeout=60) as api:
        print(f"Overhead: {args.rounds} rounds of NLU-and-rules messages ...", flush=True)
        first = overhead(rasa, api, args.rounds)
        print("Indexing: uploading the 24 sample documents ...", flush=True)
        second = indexing(api)
    print(f"Concurrency: {args.users} users x 5 messages ...", flush=True)
    third = concurrency(args.api, headers, args.users)
    lines = [
        "| measure | value |", "|---|---|",
        f"| Rasa REST p50 / p95 | {first['rasa_p50_ms']:.1f} / {first['rasa_p95_ms']:.1f} ms |",
        f"| through the API p50 / p95 | {first['api_p50_ms']:.1f} / {first['api_p95_ms']:.1f} ms |",
        f"| added by the API, p50 | {first['added_p50_ms']:.1f} ms |",
        f"| {second['documents']} documents uploaded → indexed | {second['seconds']} s "
        f"({second['state']}: {second['message']}) |",
        f"| {third['users']} users × 5 messages | {third['statuses']}, p50 "
        f"{third['p50_ms']:.0f} ms, p95 {third['p95_ms']:.0f} ms, 5xx/errors "
        f"{third['server_errors']} |",
    ]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"api-{dt.datetime.now():%Y%m%d-%H%M%S}"
    (args.out / f"{name}.json").write_text(json.dumps(
        {"overhead": first, "indexing": second, "concurrency": third}, indent=2))
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / name}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
