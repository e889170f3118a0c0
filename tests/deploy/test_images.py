"""The Dockerfiles (deploy/docker), the compose file and the secrets example,
checked as text: a numeric non-root user, the pinned requirement files installed
with --no-deps as the Makefile installs them, a health check, no telemetry or hub
downloads, no secret anywhere, only Rasa and the API published."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml

from tests.deploy.rules import (
    DEPLOY,
    KNOWN,
    ROOT,
    STORE_VARIABLES,
    URL_WITH_PASSWORD,
    example_lines,
    is_secret,
    secrets_example,
)

DOCKER = DEPLOY / "docker"
# Each process's image and the requirement files its environment is made of, as
# the Makefile makes it (RASA_ENV without the dev list, ACTIONS_REQ, LLM_REQ).
IMAGES = {
    "rasa": ["requirements.txt"],
    "action-server": ["apps/action_server/requirements.txt"],
    "api": ["apps/api/requirements.txt"],
    "worker": ["apps/api/requirements.txt"],
    "llm": ["apps/llm_server/requirements.txt"],
}
PORTS = {"rasa": 5005, "action-server": 5055, "api": 8000, "llm": 8088}
# Variables an image sets that are not the project's settings: Python's, pip's,
# the shell's, and Rasa's training cache (used while the image trains its model).
IMAGE_VARIABLES = {"PATH", "PYTHONPATH", "PYTHONUNBUFFERED", "HOME", "PIP_NO_CACHE_DIR",
                   "PIP_DISABLE_PIP_VERSION_CHECK", "RASA_CACHE_DIRECTORY",
                   # build arguments: where PyTorch's CPU build comes from
                   "TORCH_INDEX_URL", "PIP_TRUSTED_HOST"}
# Rasa's image takes torch, at requirements.txt's pin, from PyTorch's CPU index first.
TORCH_FROM_THE_LIST = "torch==$(sed -n 's/^torch==//p' /tmp/requirements/requirements.txt)"


def instructions(path: Path) -> List[Tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage(steps: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def env_assignments(arguments: str) -> Dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(arguments))


def image_problems(name: str, steps: List[Tuple[str, str]]) -> List[str]:
    """What keeps a Dockerfile from the project's rules."""
    problems = []
    if not all(args.split()[0] == "python:3.11-slim" for word, args in steps
               if word == "FROM"):
        problems.append("not python:3.11-slim")
    final = final_stage(steps)
    users = [args for word, args in final if word == "USER"]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        problems.append("no numeric non-root USER")
    if not any(word == "HEALTHCHECK" for word, _ in final):
        problems.append("no HEALTHCHECK")
    env: Dict[str, str] = {}
    for word, args in final:
        if word == "ENV":
            env.update(env_assignments(args))
    if env.get("RASA_TELEMETRY_ENABLED") != "false" or env.get("HF_HUB_OFFLINE") != "1":
        problems.append("telemetry or hub downloads not off")
    for word, args in steps:
        if word in ("ENV", "ARG"):
            names = env_assignments(args) if word == "ENV" else {args.split("=")[0]: ""}
            for variable in names:
                if is_secret(variable):
                    problems.append(f"secret {variable} in the image")
                elif variable not in KNOWN | IMAGE_VARIABLES:
                    problems.append(f"{variable} is not a setting")
            if URL_WITH_PASSWORD.search(args):
                problems.append("a URL with a password")
    installed = []
    for word, args in steps:
        if word == "RUN" and "pip install" in args:
            for command in args.split("&&"):
                if "pip install" not in command:
                    continue
                words = shlex.split(command)
                if "--no-deps" not in words:
                    problems.append(f"pip install without --no-deps: {command.strip()}")
                files = [words[i + 1] for i, w in enumerate(words) if w == "-r"]
                pins = [w for w in words if "==" in w]
                if not files and pins != [TORCH_FROM_THE_LIST]:
                    problems.append(f"installs more than the pinned files: {command.strip()}")
                installed.extend(f.removeprefix("/tmp/requirements/") for f in files)
    if installed != IMAGES[name]:
        problems.append(f"installs {installed}, not {IMAGES[name]}")
    if name == "rasa" and "--ignore-requires-python" not in " ".join(a for _, a in steps):
        problems.append("Rasa's list without --ignore-requires-python")
    return problems


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_each_dockerfile_follows_the_rules(name):
    path = DOCKER / f"{name}.Dockerfile"
    steps = instructions(path)
    assert image_problems(name, steps) == []
    for word, args in steps:
        if word == "COPY" and "--from=" not in args:
            for source in shlex.split(args)[:-1]:
                assert (ROOT / source).exists(), source
    exposed = [args for word, args in final_stage(steps) if word == "EXPOSE"]
    assert exposed == ([str(PORTS[name])] if name in PORTS else [])


def test_the_image_checks_catch_a_root_user_and_a_resolver_install():
    steps = instructions(DOCKER / "action-server.Dockerfile")
    steps = [(w, "0" if w == "USER" else a) for w, a in steps]
    steps = [(w, a.replace("--no-deps ", "")) for w, a in steps]
    steps.append(("ENV", "ACTION_SERVER_TOKEN=abc"))
    steps.append(("RUN", "/opt/venv/bin/pip install --no-deps requests==2.32.0"))
    assert image_problems("action-server", steps) == [
        "no numeric non-root USER",
        "secret ACTION_SERVER_TOKEN in the image",
        "pip install without --no-deps: /opt/venv/bin/pip install "
        "-r /tmp/requirements/apps/action_server/requirements.txt",
        "installs more than the pinned files: /opt/venv/bin/pip install --no-deps "
        "requests==2.32.0",
    ]


@pytest.mark.parametrize("requirements", sorted({f for fs in IMAGES.values() for f in fs}))
def test_the_images_requirement_files_pin_every_package(requirements):
    for line in (ROOT / requirements).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r "):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9_.+\-]+", line), line


def test_the_build_context_leaves_out_secrets_and_local_data():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for entry in (".git", ".env", "**/.env", ".data", ".run", "models"):
        assert entry in ignored, entry


COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
OUR_SERVICES = {n: s for n, s in COMPOSE["services"].items()
                if s["image"].startswith("bilingual-assistant/")}
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(:\?[^}]*|:-)?\}")


def compose_problems(compose: Dict) -> List[str]:
    problems = []
    for name, service in compose["services"].items():
        ours = service["image"].startswith("bilingual-assistant/")
        for variable, value in (service.get("environment") or {}).items():
            allowed = KNOWN if ours else STORE_VARIABLES
            if variable not in allowed:
                problems.append(f"{name}: {variable} is not a setting")
            reference = INTERPOLATION.fullmatch(str(value))
            if is_secret(variable) and not reference:
                problems.append(f"{name}: {variable} is not read from deploy/.env")
            if URL_WITH_PASSWORD.search(str(value)):
                problems.append(f"{name}: {variable} holds a password")
        if ours and not (service.get("read_only") and service.get("cap_drop") == ["ALL"]
                         and "no-new-privileges:true" in service.get("security_opt", [])):
            problems.append(f"{name}: not hardened")
        if not ours and (service.get("user", "0").split(":")[0] in ("0", "root")):
            problems.append(f"{name}: runs as root")
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:") or name not in ("rasa", "api"):
                problems.append(f"{name}: publishes {port}")
        if "env_file" in service:
            problems.append(f"{name}: takes every secret (env_file)")
    return problems


def test_the_compose_file_follows_the_rules():
    assert compose_problems(COMPOSE) == []
    assert set(OUR_SERVICES) == {"rasa", "action-server", "api", "worker", "llm", "milvus",
                                 "init"}
    # The embedded LLM is a profile, on by default in deploy/.env; the action server
    # takes a hosted endpoint from deploy/.env, else the LLM container's.
    assert COMPOSE["services"]["llm"]["profiles"] == ["embedded-llm"]
    assert example_lines()["COMPOSE_PROFILES"] == "embedded-llm"
    assert COMPOSE["services"]["action-server"]["environment"]["LLM_BASE_URL"] == (
        "${LLM_BASE_URL:-http://llm:8088/v1}")
    # The init step indexes and makes the first admin key before anyone signs in.
    init = COMPOSE["services"]["init"]
    assert init["command"][:3] == ["python", "-m", "apps.cli.bootstrap"]
    assert init["restart"] == "no"
    for name, service in OUR_SERVICES.items():
        dockerfile = ROOT / service["build"]["dockerfile"]
        assert dockerfile.is_file(), name
        assert (DEPLOY / service["build"]["context"]).resolve() == ROOT, name
        assert dockerfile.stem == service["image"].split("/")[1].split(":")[0], name
    published = {n: s["ports"] for n, s in COMPOSE["services"].items() if "ports" in s}
    assert published == {"rasa": ["127.0.0.1:5005:5005"], "api": ["127.0.0.1:8000:8000"]}


def test_the_compose_checks_catch_a_literal_secret_and_an_open_port():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    compose["services"]["rasa"]["environment"]["RASA_AUTH_TOKEN"] = "abc"
    compose["services"]["worker"]["environment"]["SERVICES_DB_URL"] = "postgresql://a:b@db/x"
    compose["services"]["redis"]["ports"] = ["6379:6379"]
    compose["services"]["postgres"]["user"] = "0"
    assert compose_problems(compose) == [
        "postgres: runs as root",
        "redis: publishes 6379:6379",
        "rasa: RASA_AUTH_TOKEN is not read from deploy/.env",
        "worker: SERVICES_DB_URL is not read from deploy/.env",
        "worker: SERVICES_DB_URL holds a password",
    ]


def test_the_secrets_example_holds_names_only():
    example = secrets_example()
    assert example and all(value == "" for value in example.values()), example
    referenced = {m.group(1) for s in COMPOSE["services"].values()
                  for v in (s.get("environment") or {}).values()
                  for m in [INTERPOLATION.fullmatch(str(v))] if m}
    assert referenced <= set(example), referenced - set(example)


def test_no_file_in_deploy_holds_a_password_or_a_key():
    key_material = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|xox[bp]-[0-9A-Za-z-]+|"
                              r"\b[0-9]{8,10}:[A-Za-z0-9_-]{35}\b")
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not URL_WITH_PASSWORD.search(text), path
            assert not key_material.search(text), path


def test_no_password_is_an_argument_that_ps_would_show():
    """Issue #27 item 7: Redis's password reaches it as configuration on its
    standard input, in compose and in the single-node overlay."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    manifests = [d for d in yaml.safe_load_all(
        (ROOT / "deploy/k8s/overlays/single-node/redis.yaml").read_text(encoding="utf-8"))
        if d and d.get("kind") == "StatefulSet"]
    commands = [compose["services"]["redis"]["command"],
                manifests[0]["spec"]["template"]["spec"]["containers"][0]["command"]]
    for command in commands:
        script = command[-1]
        assert "--requirepass" not in " ".join(command)
        assert "requirepass" in script and script.endswith("| exec redis-server -")
    assert "args" not in manifests[0]["spec"]["template"]["spec"]["containers"][0]
