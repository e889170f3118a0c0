"""The five images run as the compose file runs them (read-only root filesystem, no
capabilities, no new privileges, uid 10001, tmpfs for /tmp and the home folder), on
this machine's PostgreSQL and Redis in place of theirs: every image's HEALTHCHECK
passes, the worker's image indexes the sample documents into the Milvus Lite server
the API's image serves, and a question asked through Rasa's REST channel, in Rasa's
container, is answered by the action server's and the LLM's containers with its
sources.

The containers share the host's network (the stores listen on loopback), so the
default ports (5005, 5055, 8000, 8088, 9464, 19530) must be free. Run by
`make test-images`, which builds the images first; skipped otherwise."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Text

import pytest
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("rasa", "action-server", "api", "worker", "llm")
PORTS = (5005, 5055, 8000, 8088, 9464, 19530)
HARDENED = ["--network", "host", "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/home/app",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            # the images' own checks, run every 3 s instead of 30 s
            "--health-interval", "3s"]
# The compose file's check for the Milvus Lite server (the API's image has the API's).
MILVUS_CHECK = ["--health-cmd", "python -c \"import socket; "
                "socket.create_connection(('127.0.0.1', 19530), 4).close()\""]
SOURCES_EN = re.compile(r"\nSources:\n\[\d\] .+ \(en/[\w.-]+\)")
REDIS_URL = "redis://127.0.0.1:6379/13"


def docker(*args: Text, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def image(name: Text) -> Text:
    return f"bilingual-assistant/{name}:local"


def opted_in() -> None:
    """The images take 20 minutes to build and must be built from this checkout:
    `make test-images` builds them, then runs these tests with TEST_IMAGES=1."""
    if os.environ.get("TEST_IMAGES") != "1":
        pytest.skip("run by make test-images, which builds the images from this checkout")


def needs_images(ports: Sequence[int]) -> None:
    """Skips unless opted in, with a Docker daemon, the images and `ports` free."""
    opted_in()
    if shutil.which("docker") is None or docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker daemon here")
    missing = [name for name in IMAGES if docker("image", "inspect", image(name)).returncode]
    if missing:
        pytest.skip(f"images not built ({', '.join(missing)}): make images")
    taken = []
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(port)
    if taken:
        pytest.skip(f"ports {taken} are in use (make run?): the containers need them")


def ask_rasa(sender: Text) -> Text:
    """Asks Rasa's REST channel on 127.0.0.1:5005 a question the English documents
    answer; returns the answer, checked to give its sources."""
    reply = requests.post("http://127.0.0.1:5005/webhooks/rest/webhook", timeout=180, json={
        "sender": sender, "message": "How many days of annual leave do I get?"})
    assert reply.status_code == 200, reply.text
    [answer] = [m.get("text", "") for m in reply.json()]
    assert SOURCES_EN.search(answer) and "hr-annual-leave" in answer, answer
    return answer


@pytest.fixture(scope="module")
def images() -> None:
    needs_images(PORTS)


class Containers:
    """Containers started for one test module, removed afterwards."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:6]
        self.names: List[Text] = []

    def start(self, name: Text, env: Dict[Text, Text], *args: Text) -> Text:
        container = f"assistant-test-{name}-{self.run_id}"
        flags = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
        started = docker("run", "-d", "--name", container, *HARDENED, *flags, *args)
        assert started.returncode == 0, started.stderr
        self.names.append(container)
        return container

    def wait_healthy(self, seconds: float) -> Dict[Text, Text]:
        deadline = time.monotonic() + seconds
        states: Dict[Text, Text] = {}
        while time.monotonic() < deadline:
            states = {c: docker("inspect", "-f", "{{.State.Status}}/{{.State.Health.Status}}",
                                c).stdout.strip() for c in self.names}
            if all(s == "running/healthy" for s in states.values()):
                return states
            if any(not s.startswith("running") for s in states.values()):
                break
            time.sleep(2)
        logs = {c: docker("logs", "--tail", "15", c).stderr[-1500:] for c in self.names
                if states.get(c) != "running/healthy"}
        raise AssertionError(f"not healthy: {states}\n{json.dumps(logs, indent=1)}")

    def remove(self) -> None:
        if self.names:
            docker("rm", "-f", *self.names)


@pytest.fixture(scope="module")
def stack(images, tmp_path_factory) -> Iterator[Dict[Text, Text]]:
    import sqlalchemy as sa

    database = f"assistant_containers_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine("postgresql://postgres@127.0.0.1:5432/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    db_url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    redis.Redis.from_url(REDIS_URL).flushdb()
    secret = {name: secrets.token_urlsafe(32) for name in
              ("RASA_AUTH_TOKEN", "ACTION_SERVER_TOKEN", "LLM_API_KEY", "METRICS_TOKEN")}
    keys = docker("run", "--rm", "--entrypoint", "python", image("rasa"), "-m",
                  "apps.cli.conversations", "new-key")
    assert keys.returncode == 0, keys.stderr
    milvus = tmp_path_factory.mktemp("milvus")
    milvus.chmod(0o777)  # written by uid 10001
    knowledge = ["-v", f"{ROOT / 'knowledge'}:/var/lib/assistant/knowledge:ro"]
    stores = {"MILVUS_URI": "http://127.0.0.1:19530", "SERVICES_DB_URL": db_url,
              "REDIS_URL": REDIS_URL, "KNOWLEDGE_DIR": "/var/lib/assistant/knowledge",
              "METRICS_TOKEN": secret["METRICS_TOKEN"]}
    containers = Containers()
    try:
        containers.start("milvus", {}, *MILVUS_CHECK, "-v", f"{milvus}:/var/lib/assistant/milvus",
                         image("api"), "milvus-lite", "server", "--data-dir",
                         "/var/lib/assistant/milvus/knowledge.db", "--host", "127.0.0.1",
                         "--port", "19530")
        containers.wait_healthy(60)
        indexed = docker("run", "--rm", *HARDENED, *knowledge,
                         "-e", "MILVUS_URI=http://127.0.0.1:19530",
                         "-e", f"SERVICES_DB_URL={db_url}",
                         image("worker"), "python", "-m", "apps.cli.ingest",
                         "/var/lib/assistant/knowledge", "--prune", timeout=600)
        assert indexed.returncode == 0, indexed.stdout[-2000:] + indexed.stderr[-2000:]
        containers.start("llm", {"LOCAL_LLM_HOST": "127.0.0.1", "LOCAL_LLM_THREADS": "2",
                                 "LOCAL_LLM_API_KEY": secret["LLM_API_KEY"]}, image("llm"))
        containers.start("action-server", {
            "ACTION_SERVER_HOST": "127.0.0.1", "ACTION_SERVER_TOKEN": secret["ACTION_SERVER_TOKEN"],
            "LLM_BASE_URL": "http://127.0.0.1:8088/v1", "LLM_API_KEY": secret["LLM_API_KEY"],
            **stores}, image("action-server"))
        containers.start("api", {
            "API_HOST": "127.0.0.1", "API_LOCAL_USER": "off",
            "API_RASA_URL": "http://127.0.0.1:5005", "API_PUBLIC_URL": "http://127.0.0.1:8000",
            "RASA_AUTH_TOKEN": secret["RASA_AUTH_TOKEN"], **stores}, *knowledge, image("api"))
        containers.start("worker", {"WORKER_METRICS_HOST": "127.0.0.1", **stores}, *knowledge,
                         image("worker"))
        containers.start("rasa", {
            "RASA_HOST": "127.0.0.1", "RASA_AUTH_TOKEN": secret["RASA_AUTH_TOKEN"],
            "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
            "ACTION_SERVER_TOKEN": secret["ACTION_SERVER_TOKEN"],
            "CONVERSATIONS_DB_URL": db_url, "REDIS_URL": REDIS_URL,
            "CONVERSATION_KEYS": keys.stdout.strip(),
            "METRICS_TOKEN": secret["METRICS_TOKEN"]}, image("rasa"))
        containers.wait_healthy(600)
        yield {"db_url": db_url, **secret, "containers": " ".join(containers.names)}
    finally:
        containers.remove()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_every_container_is_healthy_unprivileged_and_read_only(stack):
    for container in stack["containers"].split():
        assert docker("exec", container, "id", "-u").stdout.strip() == "10001", container
        wrote = docker("exec", container, "touch", "/app/written")
        assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr, container


@pytest.mark.slow
def test_a_question_through_rasa_is_answered_with_sources_by_the_other_containers(stack):
    ask_rasa("containers")
    tracker = requests.get("http://127.0.0.1:5005/conversations/containers/tracker",
                           params={"token": stack["RASA_AUTH_TOKEN"]}, timeout=30).json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == [
        "How many days of annual leave do I get?"]
    # ... kept in PostgreSQL (CONVERSATIONS_DB_URL), the message's text encrypted there.
    import sqlalchemy as sa

    engine = sa.create_engine(stack["db_url"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT data FROM events WHERE sender_id = 'containers'")).scalars().all()
    finally:
        engine.dispose()
    assert rows and not any("annual leave" in (data or "") for data in rows)


@pytest.mark.slow
def test_metrics_want_the_token_and_the_api_is_ready(stack):
    bearer = {"Authorization": f"Bearer {stack['METRICS_TOKEN']}"}
    for url in ("http://127.0.0.1:5005/metrics", "http://127.0.0.1:5055/metrics",
                "http://127.0.0.1:8000/metrics", "http://127.0.0.1:9464/metrics"):
        assert requests.get(url, timeout=10).status_code == 401, url
        assert requests.get(url, headers=bearer, timeout=10).status_code == 200, url
    ready = requests.get("http://127.0.0.1:8000/v1/ready", timeout=30)
    assert ready.status_code == 200, ready.text
