"""Several Rasa replicas on one conversation store: are turns lost, repeated or reordered?

    python -m benchmarks.replicas --model models/M.tar.gz [--conversations 50]
        [--messages 20] [--burst 2] [--within 0.05] [--gap 2] [--db-url postgresql://…]
        [--redis-url redis://…] [--lock-stores ours rasa] [--out benchmarks/results]

Starts two `rasa run` replicas (scripts/rasa-run.sh) on the same PostgreSQL
tracker store and Redis, once with each lock store: ours
(`stores.lock_store.ConversationLockStore`) and Rasa Open Source's `type: redis`.
A load generator sends each conversation's messages to the replicas in turn, in
bursts of `--burst` messages `--within` seconds apart (each sent before the one
before it is answered: overlapping sends), a burst every `--gap` seconds, all
conversations at once (started spread over the first gap). Then every conversation's
tracker is read back through Rasa's HTTP API and checked: each message sent is
there once, answered before the next message starts, and in the order sent
(messages of one burst, sent tens of milliseconds apart to different replicas,
may be taken in either order: counted apart).
Prints a table and writes it (JSON and Markdown) to the output folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Text

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
# Twenty messages every configuration answers by a rule with a response (no action
# server): greetings, thanks and "are you a bot", in both languages; each text once
# per conversation, so its place in the tracker is its place in the sending order.
MESSAGES = ("hi", "你好", "thanks", "谢谢", "are you a bot?", "你是机器人吗", "hello",
            "您好", "thank you", "谢谢你", "are you a human?", "你是真人吗", "hey",
            "你好呀", "many thanks", "多谢", "are you a robot", "你是人工智能吗",
            "good morning", "早上好")
LOCK_STORES = {
    "ours": {"type": "stores.lock_store.ConversationLockStore"},
    "rasa": {"type": "redis"},  # url, port and db added from --redis-url
}


@dataclass
class Sent:
    """One message as the load generator sent it."""

    conversation: Text
    text: Text
    replica: int
    status: int = 0
    replies: int = 0
    sent_at: float = 0.0
    answered_at: float = 0.0
    failed_over: bool = False  # its replica was gone: sent to the next one

    @property
    def seconds(self) -> float:
        return self.answered_at - self.sent_at


@dataclass
class Checked:
    """What one conversation's tracker shows against what was sent."""

    conversation: Text
    lost: int = 0  # sent, not in the tracker
    repeated: int = 0  # in the tracker more than once
    out_of_order: int = 0  # before a message of an earlier burst
    swapped_in_burst: int = 0  # before a message of its own burst sent before it
    unanswered: int = 0  # no reply before the next message
    texts: List[Text] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not (self.lost or self.repeated or self.out_of_order or self.unanswered)


async def send(session: aiohttp.ClientSession, urls: Sequence[Text], sent: Sent) -> None:
    """Sends to the message's replica; when that one cannot be reached or drops the
    connection, to the next, as a load balancer retries a dead backend."""
    sent.sent_at = time.perf_counter()
    for attempt in range(len(urls)):
        url = urls[(sent.replica + attempt) % len(urls)]
        try:
            async with session.post(f"{url}/webhooks/rest/webhook",
                                    json={"sender": sent.conversation, "message": sent.text},
                                    timeout=aiohttp.ClientTimeout(total=300)) as response:
                sent.status = response.status
                if response.status == 200:
                    sent.replies = len(await response.json())
            break
        except (aiohttp.ClientConnectionError, TimeoutError):
            sent.status = -1
            sent.failed_over = True
    sent.answered_at = time.perf_counter()


async def drive(urls: Sequence[Text], conversations: int, messages: int, gap: float,
                burst: int = 2, within: float = 0.05,
                after_answers: bool = False) -> List[Sent]:
    """Sends `messages` messages in each of `conversations` conversations, message k
    to replica k mod len(urls), in bursts of `burst` messages `within` seconds
    apart, a burst every `gap` seconds (with `after_answers`, `gap` seconds after
    the burst before was answered); conversations start spread over the first
    `gap`. Returns every message with its outcome, in sending order per
    conversation."""
    if messages > len(MESSAGES):
        raise ValueError(f"at most {len(MESSAGES)} messages per conversation")
    run = uuid.uuid4().hex[:6]
    ids = [f"replicas-{run}-{c:03d}" for c in range(conversations)]
    plan = [Sent(ids[c], MESSAGES[k], k % len(urls))
            for c in range(conversations) for k in range(messages)]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def conversation(c: int) -> None:
            await asyncio.sleep(gap * c / conversations)
            tasks = []
            for k in range(messages):
                sent = plan[c * messages + k]
                tasks.append(asyncio.create_task(send(session, urls, sent)))
                if (k + 1) % burst:
                    await asyncio.sleep(within)
                elif after_answers:
                    await asyncio.gather(*tasks[-burst:])
                    await asyncio.sleep(gap)
                else:
                    await asyncio.sleep(gap - within * (burst - 1))
            await asyncio.gather(*tasks)

        await asyncio.gather(*(conversation(c) for c in range(conversations)))
    return plan


def check_events(conversation: Text, events: List[Dict[Text, Any]],
                 sent: Sequence[Text], burst: int = 1) -> Checked:
    """Compares a tracker's events with the texts sent, in order.

    Messages of one burst were sent tens of milliseconds apart to different replicas:
    each replica reads a request when its event loop is free (measured up to 0.3 s
    late under this load), so a burst's messages may be taken in either order by any
    lock store and count apart (`swapped_in_burst`); a message taken before one of
    an earlier burst is out of order."""
    result = Checked(conversation)
    answered: List[bool] = []
    for event in events:
        if event.get("event") == "user":
            result.texts.append(event.get("text") or "")
            answered.append(False)
        elif event.get("event") == "bot" and answered:
            answered[-1] = True
    result.lost = sum(1 for text in sent if text not in result.texts)
    result.repeated = sum(result.texts.count(text) - 1 for text in set(result.texts))
    positions = [list(sent).index(t) for t in result.texts if t in sent]
    for i in range(1, len(positions)):
        earlier = max(positions[:i])
        if positions[i] // burst < earlier // burst:
            result.out_of_order += 1
        elif positions[i] < positions[i - 1]:
            result.swapped_in_burst += 1
    result.unanswered = answered.count(False)
    return result


async def check(url: Text, token: Text, plan: Sequence[Sent], burst: int = 1) -> List[Checked]:
    """Reads every conversation's tracker back through Rasa's HTTP API."""
    by_conversation: Dict[Text, List[Text]] = {}
    for sent in plan:
        by_conversation.setdefault(sent.conversation, []).append(sent.text)
    results = []
    async with aiohttp.ClientSession() as session:
        for conversation, texts in by_conversation.items():
            async with session.get(f"{url}/conversations/{conversation}/tracker",
                                   params={"token": token}) as response:
                response.raise_for_status()
                tracker = await response.json()
            results.append(check_events(conversation, tracker.get("events") or [], texts,
                                        burst))
    return results


def summary(name: Text, plan: Sequence[Sent], checked: Sequence[Checked],
            seconds: float) -> Dict[Text, Any]:
    """One row of the table."""
    latencies = sorted(s.seconds for s in plan if s.status == 200)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] \
        if latencies else 0.0  # noqa: E731
    return {
        "lock store": name, "messages": len(plan),
        "answered 200": sum(1 for s in plan if s.status == 200),
        "errors": sum(1 for s in plan if s.status != 200),
        "sent before the last was answered": overlapping(plan),
        "conversations intact": f"{sum(c.intact for c in checked)}/{len(checked)}",
        "lost": sum(c.lost for c in checked), "repeated": sum(c.repeated for c in checked),
        "out of order": sum(c.out_of_order for c in checked),
        "swapped in a burst": sum(c.swapped_in_burst for c in checked),
        "unanswered": sum(c.unanswered for c in checked),
        "p50 s": round(pick(0.5), 2), "p95 s": round(pick(0.95), 2),
        "seconds": round(seconds, 1),
    }


def overlapping(plan: Sequence[Sent]) -> int:
    """Messages sent while their conversation's message before was not answered."""
    count = 0
    for before, sent in zip(plan, plan[1:], strict=False):
        if before.conversation == sent.conversation and sent.sent_at < before.answered_at:
            count += 1
    return count


def table(rows: Sequence[Dict[Text, Any]]) -> Text:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def endpoints_file(folder: Path, lock_store: Text, redis_url: Text) -> Path:
    """The project's endpoints.yml with the lock store chosen."""
    from urllib.parse import urlparse

    import yaml

    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text("utf-8"))
    section: Dict[Text, Any] = dict(LOCK_STORES[lock_store])
    if section["type"] == "redis":
        parsed = urlparse(redis_url)
        section.update(url=parsed.hostname, port=parsed.port or 6379,
                       db=int((parsed.path or "/0").strip("/") or 0))
    endpoints["lock_store"] = section
    path = folder / f"endpoints-{lock_store}.yml"
    path.write_text(yaml.safe_dump(endpoints), "utf-8")
    return path


class Replicas:
    """Two (or more) `rasa run` processes on one tracker store and lock store."""

    def __init__(self, model: Path, endpoints: Path, credentials: Path, env: Dict[Text, Text],
                 logs: Path, count: int = 2) -> None:
        self.token = env["RASA_AUTH_TOKEN"]
        self.processes: List[subprocess.Popen] = []
        self.urls: List[Text] = []
        rasa = Path(sys.executable).parent / "rasa"
        try:
            for number in range(count):
                port = _free_port()
                log = (logs / f"replica-{number}.log").open("a")
                self.processes.append(subprocess.Popen(
                    [str(ROOT / "scripts" / "rasa-run.sh"), str(rasa), "run", "--model",
                     str(model), "--endpoints", str(endpoints), "--credentials",
                     str(credentials)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                    env={**env, "RASA_PORT": str(port), "RASA_HOST": "127.0.0.1"}))
                self.urls.append(f"http://127.0.0.1:{port}")
            for url, process in zip(self.urls, self.processes, strict=True):
                _wait_up(f"{url}/status?token={self.token}", process, 300)
        except BaseException:
            self.stop()
            raise

    def kill(self, number: int) -> None:
        """Kills a replica at once (SIGKILL), as a crash or a lost node would."""
        self.processes[number].kill()

    def stop(self) -> None:
        stop_all(self.processes)


def start_replicas(model: Path, folder: Path, db_url: Text, redis_url: Text,
                   lock_store: Text = "ours", count: int = 2, **env: Text) -> Replicas:
    """`count` replicas of `model` on `db_url` and `redis_url` with the chosen lock
    store, a new API token (`Replicas.token`), files and logs in `folder`; `env`
    adds or overrides variables (`LOCK_LIFETIME_SECONDS="3"`)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Replicas(model, endpoints_file(folder, lock_store, redis_url),
                    credentials_file(folder),
                    {**replica_env(db_url, redis_url, uuid.uuid4().hex), **env}, folder, count)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: Text, process: subprocess.Popen, seconds: float) -> None:
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a replica exited ({process.returncode}); see its log")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds} s")


def credentials_file(folder: Path) -> Path:
    """Only the REST channel, waiting as long as the load needs."""
    path = folder / "credentials-replicas.yml"
    path.write_text("channels.rest.ValidatingRestInput:\n  max_wait_seconds: 300\n", "utf-8")
    return path


def replica_env(db_url: Text, redis_url: Text, token: Text) -> Dict[Text, Text]:
    from bilingual_assistant.config import environment
    from bilingual_assistant.encryption import new_key_entry

    return {**environment(), "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
            "HF_HUB_OFFLINE": "1", "CONVERSATIONS_DB_URL": db_url, "LOCK_STORE_URL": redis_url,
            "REDIS_URL": "", "CONVERSATION_KEYS": new_key_entry("replicas"),
            "RASA_AUTH_TOKEN": token, "RASA_CORS_ORIGINS": "",
            "ACTION_SERVER_URL": "http://127.0.0.1:9/webhook",
            "ACTION_SERVER_TOKEN": "unused-action-server-token",
            "LOCK_WAIT_SECONDS": "300"}


def main(argv: Optional[Sequence[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--burst", type=int, default=2)
    parser.add_argument("--within", type=float, default=0.05)
    parser.add_argument("--gap", type=float, default=2.0)
    parser.add_argument("--db-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL admin URL: a fresh database is made per run")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--lock-stores", nargs="+", default=["ours", "rasa"],
                        choices=sorted(LOCK_STORES))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.lock_stores:
            with fresh_database(args.db_url) as db_url:
                print(f"Starting two replicas with lock store '{name}' ...", flush=True)
                replicas = start_replicas(args.model, folder, db_url, args.redis_url, name)
                try:
                    started = time.perf_counter()
                    plan = asyncio.run(drive(replicas.urls, args.conversations,
                                             args.messages, args.gap, args.burst,
                                             args.within))
                    seconds = time.perf_counter() - started
                    checked = asyncio.run(check(replicas.urls[0], replicas.token, plan,
                                                args.burst))
                finally:
                    replicas.stop()
                rows.append(summary(name, plan, checked, seconds))
                print(table(rows[-1:]), flush=True)
    text = table(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"replicas-{stamp}.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2))
    (args.out / f"replicas-{stamp}.md").write_text(text + "\n")
    return 0


@contextlib.contextmanager
def fresh_database(admin_url: Text) -> Iterator[Text]:
    """A new PostgreSQL database for one run, dropped afterwards."""
    import sqlalchemy as sa

    name = f"replicas_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}'"))
            connection.execute(sa.text(f'DROP DATABASE "{name}"'))
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())


def stop_all(processes: Sequence[subprocess.Popen]) -> None:
    """Asks every process to stop, then kills those still running after 30 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
