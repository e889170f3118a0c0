"""The laptop path of the README's "Deploying": `deploy/compose.yaml` started with
compose, secrets from an env file, the documents indexed by the worker's image, a
key made with `exec api python -m apps.cli.api_keys create`, then a question asked
through Rasa's published port and through the API's: both answered with sources.
Only Rasa and the API are published, on 127.0.0.1.

No registry can be reached from these machines, so the compose file's `postgres:16`
and `redis:7.4` are stood in by Debian's PostgreSQL and Redis
(`tests/deploy/standins/`, laid over the compose file); everything else is the
compose file as users run it. Run by `make test-images` (which builds the images
first); needs compose (`docker compose` or `docker-compose`) and
`debian:bookworm-slim` for the stand-ins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Text

import pytest
import requests

from tests.deploy.test_containers import ask_rasa, docker, needs_images

ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).parent / "standins"


def compose_command() -> List[Text]:
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("no compose here (docker compose or docker-compose)")


class Compose:
    def __init__(self, env_file: Path) -> None:
        self.base = [*compose_command(), "-p", f"assistant-test-{uuid.uuid4().hex[:6]}",
                     "-f", str(ROOT / "deploy" / "compose.yaml"),
                     "-f", str(STANDINS / "compose.yaml"), "--env-file", str(env_file)]

    def __call__(self, *args: Text, timeout: float = 300) -> subprocess.CompletedProcess:
        # Only the env file sets the compose file's variables: this process has every
        # setting's default in its environment (the .pth `make setup` writes), and
        # compose prefers the environment's (empty) values to the file's.
        return subprocess.run([*self.base, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT,
                              env={name: os.environ[name] for name in ("PATH", "HOME")
                                   if name in os.environ})

    def containers(self) -> List[Text]:
        return self("ps", "-q").stdout.split()

    def wait_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        states: Dict[Text, Text] = {}
        while time.monotonic() < deadline:
            states = {c: docker("inspect", "-f", "{{.Name}} {{.State.Status}}/"
                                "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                                c).stdout.strip() for c in self.containers()}
            if len(states) == 8 and all(s.endswith("running/healthy") for s in states.values()):
                return
            time.sleep(3)
        raise AssertionError(f"not healthy: {json.dumps(states, indent=1)}\n"
                             f"{self('logs', '--tail', '20').stdout[-6000:]}")


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> Iterator[Dict[Text, Text]]:
    needs_images((5005, 8000))  # what compose publishes
    for name in ("postgres", "redis"):
        built = docker("build", "-q", "-f", str(STANDINS / f"{name}.Dockerfile"),
                       "-t", f"standin/{name}:{'16' if name == 'postgres' else '7.4'}",
                       str(STANDINS), timeout=900)
        if built.returncode and "debian:bookworm-slim" in built.stderr:
            pytest.skip("debian:bookworm-slim is not here for the stand-ins")
        assert built.returncode == 0, built.stderr[-2000:]
    # deploy/.env made as docs/deploying.md says: `make secrets`.
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    made = subprocess.run([sys.executable, "-m", "apps.cli.secrets", str(env_file)],
                          cwd=ROOT, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    values = {name: value for name, _, value in (
        line.partition("=") for line in env_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")) if value}
    run = Compose(env_file)
    try:
        started = run("up", "-d", "--no-build", timeout=600)
        assert started.returncode == 0, started.stderr[-3000:]
        run.wait_healthy(600)
        indexed = run("run", "--rm", "-v", f"{ROOT / 'knowledge'}:/documents:ro", "worker",
                      "python", "-m", "apps.cli.ingest", "/documents", "--prune", timeout=600)
        assert indexed.returncode == 0, indexed.stdout[-2000:] + indexed.stderr[-2000:]
        yield {"run": run, **values}
    finally:
        run("down", "-v", "--remove-orphans", timeout=300)


@pytest.mark.slow
def test_only_rasa_and_the_api_are_published_on_loopback(compose):
    published = []
    for container in compose["run"].containers():
        ports = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Ports}}",
                                  container).stdout or "{}") or {}
        for bindings in ports.values():
            published += [(b["HostIp"], b["HostPort"]) for b in bindings or []]
    assert sorted(published) == [("127.0.0.1", "5005"), ("127.0.0.1", "8000")]


@pytest.mark.slow
def test_a_question_through_rasa_and_through_the_api_is_answered_with_sources(compose):
    ask_rasa("compose")

    made = compose["run"]("exec", "-T", "api", "python", "-m", "apps.cli.api_keys", "create",
                          "--name", "me", "--scope", "admin", "--scope", "chat")
    assert made.returncode == 0, made.stderr
    key = made.stdout.split()[0]
    response = requests.post("http://127.0.0.1:8000/v1/chat", timeout=180,
                             headers={"Authorization": f"Bearer {key}"},
                             json={"message": "年假有几天?"})
    assert response.status_code == 200, response.text
    answered = next(m for m in response.json()["messages"] if m["sources"])
    assert answered["sources"][0]["source"] == "zh/hr-annual-leave.md"
    assert requests.post("http://127.0.0.1:8000/v1/chat", json={"message": "hi"},
                         timeout=30).status_code == 401
