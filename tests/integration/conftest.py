"""Fixtures that train the project's model once and run it behind real servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Text

import pytest
import requests

from tests.fakes.open_meteo import FakeOpenMeteo

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def rasa_env(**extra: Text) -> Dict[Text, Text]:
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(PROJECT),
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


def wait_until_up(url: Text, process: subprocess.Popen, log: Path, seconds: int) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("integration")


@pytest.fixture(scope="session")
def trained_model(work_dir: Path) -> Path:
    """Trains the project's model from scratch (own empty training cache)."""
    out = work_dir / "models"
    result = run_rasa(
        ["train", "--out", str(out), "--fixed-model-name", "test"],
        work_dir,
        RASA_CACHE_DIRECTORY=str(work_dir / "cache"),
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return out / "test.tar.gz"


class Servers:
    """The Rasa server, the action server and a fake Open-Meteo, all local."""

    def __init__(self, work_dir: Path, model: Path) -> None:
        self.weather = FakeOpenMeteo().start()
        self.action_port, self.rasa_port = free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.processes: List[subprocess.Popen] = []
        self.log_files: List[Any] = []
        self.logs = work_dir
        try:
            self._start_all(work_dir, model)
        except BaseException:
            self.stop()  # no server may outlive a failed start
            raise

    def _start_all(self, work_dir: Path, model: Path) -> None:
        self.actions = self._start(
            "actions",
            ["run", "actions", "--port", str(self.action_port)],
            OPEN_METEO_GEOCODING_URL=self.weather.geocoding_url,
            OPEN_METEO_FORECAST_URL=self.weather.forecast_url,
        )
        wait_until_up(
            f"http://127.0.0.1:{self.action_port}/health",
            self.actions,
            work_dir / "actions.log",
            120,
        )
        credentials = work_dir / "credentials.yml"
        subprocess.run(
            [sys.executable, "-m", "assistant.credentials", "credentials.yml",
             str(credentials)],
            cwd=PROJECT, env=rasa_env(), check=True,
        )
        self.rasa = self._start(
            "rasa",
            ["run", "--enable-api", "--model", str(model), "--port", str(self.rasa_port),
             "--credentials", str(credentials)],
            ACTION_SERVER_URL=f"http://127.0.0.1:{self.action_port}/webhook",
        )
        wait_until_up(f"{self.rasa_url}/status", self.rasa, work_dir / "rasa.log", 240)

    def _start(self, name: Text, args: List[Text], **env: Text) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        self.log_files.append(log)
        process = subprocess.Popen(
            [str(BIN / "rasa"), *args],
            cwd=PROJECT,
            env=rasa_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def say(self, sender: Text, text: Text) -> List[Text]:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return [m.get("text", "") for m in response.json()]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.log_files:
            log.close()
        self.weather.stop()


@pytest.fixture(scope="session")
def servers(work_dir: Path, trained_model: Path) -> Iterator[Servers]:
    running = Servers(work_dir, trained_model)
    yield running
    running.stop()
