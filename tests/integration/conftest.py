"""Fixtures that train the project's model once and run it behind real servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Text

import pytest
import requests
import yaml

from bilingual_assistant.encryption import new_key_entry
from tests.fakes.open_meteo import FakeOpenMeteo
from tests.fakes.platforms import FakeSlack, FakeTelegram, FakeWeCom

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "integration-secret"
LLM_KEY = "integration-llm-key"
RASA_TOKEN = "integration-rasa-token"
METRICS_TOKEN = "integration-metrics-token"
SOURCE_BASE_URL = "https://docs.example.com/kb"
# A folder of documents for the `hr` group only (its `.access.yml`), indexed beside
# the sample documents.
RESTRICTED = "tests/integration/restricted"


def env_python(variable: Text, target: Text) -> Path:
    """A process environment's Python: `make test` passes it in `variable`; else
    `make -s <target>` names the folder."""
    configured = os.environ.get(variable)
    if not configured:
        folder = subprocess.run(["make", "-s", target], cwd=PROJECT,
                                capture_output=True, text=True, check=True).stdout.strip()
        configured = str(Path(folder) / "bin" / "python")
    if not Path(configured).is_file():
        pytest.fail(f"An environment is missing ({configured}): run `make setup`.")
    return Path(configured)


# Conversations of the tests' Rasa processes: their own encrypted SQLite file and
# key, never the project's `.data/`.
CONVERSATIONS = Path(tempfile.mkdtemp(prefix="integration-conversations-"))
CONVERSATION_KEY = new_key_entry("integration")


def rasa_env(**extra: Text) -> Dict[Text, Text]:
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(PROJECT),
        CONVERSATIONS_DB_URL=f"sqlite:///{CONVERSATIONS / 'conversations.db'}",
        CONVERSATION_KEYS=CONVERSATION_KEY,
    )
    env.update(extra)
    return env


def run_rasa(args: List[Text], tmp: Path, **env: Text) -> subprocess.CompletedProcess:
    """Runs a `rasa` command in the project folder; output goes to a log file."""
    log = tmp / f"rasa-{args[0]}-{int(time.time() * 1000)}.log"
    with log.open("w") as out:
        result = subprocess.run(
            [str(BIN / "rasa"), *args],
            cwd=PROJECT,
            env=rasa_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=1200,
        )
    result.stdout = log.read_text(errors="replace")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: Text, process: subprocess.Popen, log: Path, seconds: int,
                  **request: Any) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2, **request).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds}s:\n{log.read_text()[-3000:]}")


class Processes:
    """Processes a fixture starts, each logging to `<logs>/<name>.log`; `stop` ends
    them all (terminate, then kill after `grace` seconds)."""

    def __init__(self, logs: Path, cwd: Path, grace: float = 30) -> None:
        self.logs, self.cwd, self.grace = logs, cwd, grace
        self.running: List[subprocess.Popen] = []
        self._files: List[Any] = []

    def start(self, name: Text, command: List[Text], env: Dict[Text, Text]
              ) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("a")
        self._files.append(log)
        process = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(self.grace)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self._files:
            log.close()


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("integration")


@pytest.fixture(scope="session")
def trained_model(work_dir: Path) -> Path:
    """Trains the project's model from scratch (own empty training cache), or, while
    developing a test, uses the model file `INTEGRATION_MODEL` names (with its
    training cache beside it, if any)."""
    reused = os.environ.get("INTEGRATION_MODEL")
    if reused:
        (work_dir / "models").mkdir(exist_ok=True)
        copy = work_dir / "models" / "test.tar.gz"
        shutil.copyfile(reused, copy)
        cache = Path(reused).parent.parent / "cache"
        if cache.is_dir():
            shutil.copytree(cache, work_dir / "cache", dirs_exist_ok=True)
        return copy
    out = work_dir / "models"
    result = run_rasa(
        ["train", "--out", str(out), "--fixed-model-name", "test"],
        work_dir,
        RASA_CACHE_DIRECTORY=str(work_dir / "cache"),
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return out / "test.tar.gz"


# A configuration that trains in about a minute and a half and parses in
# milliseconds (character n-grams into DIET, memoisation and rules): for tests about
# what surrounds the model (retraining, replicas), not about the model.
SMALL_CONFIG = {
    "recipe": "default.v1", "assistant_id": "small-test", "language": "zh",
    "pipeline": [{"name": "bilingual_assistant.components.bilingual_tokenizer."
                          "BilingualJiebaTokenizer", "dictionary_path": "data/dictionaries"},
                 {"name": "CountVectorsFeaturizer", "analyzer": "char_wb",
                  "min_ngram": 1, "max_ngram": 3},
                 {"name": "DIETClassifier", "epochs": 40, "random_seed": 1,
                  "entity_recognition": False}],
    "policies": [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}],
}


@pytest.fixture(scope="session")
def small_model(work_dir: Path) -> Path:
    """The project's data and domain trained with `SMALL_CONFIG`, once per session."""
    folder = work_dir / "small"
    folder.mkdir(exist_ok=True)
    config = folder / "config.yml"
    config.write_text(yaml.safe_dump(SMALL_CONFIG), encoding="utf-8")
    trained = run_rasa(["train", "--out", str(folder), "--fixed-model-name", "small",
                        "--config", str(config), "--domain", str(PROJECT / "domain.yml"),
                        "--data", str(PROJECT / "data")], work_dir)
    assert trained.returncode == 0, trained.stdout[-3000:]
    return folder / "small.tar.gz"


class Servers:
    """Rasa, the action server (Milvus Lite, sample knowledge base), the embedded
    LLM, a fake Open-Meteo and fake Slack, Telegram and WeCom APIs, all local."""

    def __init__(self, work_dir: Path, model: Path) -> None:
        self.weather = FakeOpenMeteo().start()
        self.slack = FakeSlack().start()
        self.telegram = FakeTelegram().start()
        self.wecom = FakeWeCom().start()
        self.llm_port, self.action_port, self.rasa_port = free_port(), free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.processes: Dict[Text, subprocess.Popen] = {}
        self.log_files: List[Any] = []
        self.logs = work_dir
        # Settings a test gives the action server on its next start (ANSWER_STYLE).
        self.actions_settings: Dict[Text, Text] = {}
        self.actions_python = env_python("ACTIONS_PYTHON", "actions-env-path")
        self.llm_python = env_python("LLM_PYTHON", "llm-env-path")
        try:
            self._start_all(work_dir, model)
        except BaseException:
            self.stop()  # no server may outlive a failed start
            raise

    def _actions_env(self) -> Dict[Text, Text]:
        return dict(
            PYTHONPATH=str(PROJECT),
            ACTION_SERVER_TOKEN=TOKEN,
            METRICS_TOKEN=METRICS_TOKEN,
            MILVUS_LITE_PATH=str(self.logs / "knowledge.db"),
            SERVICES_DB_URL=f"sqlite:///{self.logs / 'api.db'}",
            LLM_BASE_URL=f"http://127.0.0.1:{self.llm_port}/v1",
            LLM_API_KEY=LLM_KEY,
            LLM_TIMEOUT_SECONDS="40",
            OPEN_METEO_GEOCODING_URL=self.weather.geocoding_url,
            OPEN_METEO_FORECAST_URL=self.weather.forecast_url,
            **self.actions_settings,
        )

    def channel_env(self) -> Dict[Text, Text]:
        """The chat platforms' variables, as an operator sets them, pointing at the fakes."""
        return dict(
            SLACK_BOT_TOKEN=self.slack.token,
            SLACK_SIGNING_SECRET=self.slack.signing_secret,
            SLACK_API_URL=self.slack.api_url,
            TELEGRAM_ACCESS_TOKEN=self.telegram.token,
            TELEGRAM_WEBHOOK_URL=f"{self.rasa_url}/webhooks/telegram/webhook",
            TELEGRAM_API_URL=self.telegram.url,
            WECOM_CORP_ID=self.wecom.corp_id,
            WECOM_AGENT_ID=str(self.wecom.agent_id),
            WECOM_SECRET=self.wecom.secret,
            WECOM_TOKEN=self.wecom.token,
            WECOM_ENCODING_AES_KEY=self.wecom.encoding_aes_key,
            WECOM_API_URL=self.wecom.url,
            SOURCE_BASE_URL=SOURCE_BASE_URL,
        )

    def _start_all(self, work_dir: Path, model: Path) -> None:
        python = str(self.actions_python)
        llm = self._start("llm", [str(self.llm_python), "-m", "apps.llm_server",
                                  "--port", str(self.llm_port)],
                          **rasa_env(LOCAL_LLM_API_KEY=LLM_KEY))
        for folder in ("knowledge", RESTRICTED):  # the sample documents, and hr's
            subprocess.run([python, "-m", "apps.cli.ingest", folder], cwd=PROJECT,
                           env={**os.environ, **self._actions_env()}, check=True,
                           capture_output=True, timeout=600)
        wait_until_up(f"http://127.0.0.1:{self.llm_port}/v1/models", llm,
                      work_dir / "llm.log", 180,
                      headers={"Authorization": f"Bearer {LLM_KEY}"})
        self.start_actions()
        credentials = work_dir / "credentials.yml"
        subprocess.run(
            [sys.executable, "-m", "apps.cli.credentials", "credentials.yml",
             str(credentials)],
            cwd=PROJECT, env=rasa_env(**self.channel_env()), check=True,
        )
        self.model, self.credentials = model, credentials
        self.start_rasa()

    def start_rasa(self, name: Text = "rasa", port: Optional[int] = None,
                   **extra: Text) -> Text:
        """Starts (or restarts) Rasa as `make run` does (scripts/rasa-run.sh), with
        `extra` settings; `name` and `port` start another one beside it. Returns its
        URL."""
        model, credentials, work_dir = self.model, self.credentials, self.logs
        port = port or self.rasa_port
        url = f"http://127.0.0.1:{port}"
        rasa = self._start(
            name,
            ["scripts/rasa-run.sh", str(BIN / "rasa"), "run", "--model", str(model),
             "--credentials", str(credentials)],
            **rasa_env(ACTION_SERVER_URL=f"http://127.0.0.1:{self.action_port}/webhook",
                       ACTION_SERVER_TOKEN=TOKEN, RASA_AUTH_TOKEN=RASA_TOKEN,
                       METRICS_TOKEN=METRICS_TOKEN,
                       RASA_HOST="127.0.0.1", RASA_PORT=str(port),
                       RASA_CORS_ORIGINS="", **{**self.channel_env(), **extra}),
        )
        wait_until_up(f"{url}/status", rasa, work_dir / f"{name}.log", 240,
                      params={"token": RASA_TOKEN})
        return url

    def start_actions(self, **extra: Text) -> None:
        """Starts (or restarts) the action server, with `extra` settings, and waits
        for its health check."""
        actions = self._start(
            "actions",
            [str(self.actions_python), "-m", "apps.action_server",
             "--port", str(self.action_port)],
            **{**os.environ, **self._actions_env(), **extra},
        )
        wait_until_up(f"http://127.0.0.1:{self.action_port}/health", actions,
                      self.logs / "actions.log", 180)

    def stop_rasa(self, name: Text = "rasa") -> None:
        """Stops Rasa (to start it again), or the other one called `name`."""
        process = self.processes.pop(name)
        process.terminate()
        process.wait(timeout=30)

    def stop_actions(self, kill: bool = False) -> None:
        """Stops the action server (to test Rasa without it); `kill`: SIGKILL, as
        the kernel's out-of-memory killer or a lost node ends it."""
        process = self.processes.pop("actions")
        process.kill() if kill else process.terminate()
        process.wait(timeout=20)

    def _start(self, name: Text, command: List[Text], **env: Text) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("a")
        self.log_files.append(log)
        process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=env or rasa_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def say(self, sender: Text, text: Text) -> List[Text]:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        return [m.get("text", "") for m in response.json()]

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.log_files:
            log.close()
        for fake in (self.weather, self.slack, self.telegram, self.wecom):
            fake.stop()


@pytest.fixture(scope="session")
def servers(work_dir: Path, trained_model: Path) -> Iterator[Servers]:
    running = Servers(work_dir, trained_model)
    yield running
    running.stop()


class Api:
    """The API service as a process (`api` fixture), with a key for chat and reading."""

    def __init__(self, url: Text, key: Text, env: Dict[Text, Text], python: Text) -> None:
        self.url, self.key, self.env, self.python = url, key, env, python

    def post(self, path: Text, key: Text = "", **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return requests.post(f"{self.url}{path}", headers=headers, timeout=120, **kwargs)

    def get(self, path: Text, key: Text = "", **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"} if key != "none" else {}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def new_key(self, name: Text, *scopes: Text, groups: Text = "") -> Text:
        """A new API key for a day, made as an administrator does (the CLI)."""
        made = subprocess.run(
            [self.python, "-m", "apps.cli.api_keys", "create", "--name", name, "--days", "1",
             *[arg for scope in scopes for arg in ("--scope", scope)],
             *(["--groups", groups] if groups else [])],
            cwd=PROJECT, env=self.env, check=True, capture_output=True, text=True,
            timeout=60)
        return made.stdout.splitlines()[0]


@pytest.fixture(scope="session")
def api(servers: Servers, work_dir: Path) -> Iterator[Api]:
    python = str(servers.actions_python)
    env = {**os.environ, "PYTHONPATH": str(PROJECT),
           # Its own Milvus Lite file: a file is open in one process only.
           "MILVUS_LITE_PATH": str(work_dir / "api-knowledge.db"),
           "SERVICES_DB_URL": f"sqlite:///{work_dir / 'api.db'}",
           "API_RASA_URL": servers.rasa_url, "API_LOCAL_USER": "off",
           "JOBS_BROKER_URL": f"sqla+sqlite:///{work_dir / 'jobs-broker.db'}",
           "METRICS_TOKEN": METRICS_TOKEN}
    subprocess.run([python, "-m", "apps.cli.ingest", "knowledge"], cwd=PROJECT, env=env,
                   check=True, capture_output=True, timeout=600)
    made = subprocess.run(
        [python, "-m", "apps.cli.api_keys", "create", "--name", "integration",
         "--scope", "chat", "--scope", "knowledge:read", "--days", "1"],
        cwd=PROJECT, env=env, check=True, capture_output=True, text=True, timeout=60)
    key = made.stdout.splitlines()[0]
    port = free_port()
    log = work_dir / "api.log"
    with log.open("a") as out:
        process = subprocess.Popen([python, "-m", "apps.api", "--port", str(port)],
                                   cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/health", process, log, 180)
        yield Api(f"http://127.0.0.1:{port}", key, env, python)
    finally:
        process.terminate()
        process.wait(timeout=20)
