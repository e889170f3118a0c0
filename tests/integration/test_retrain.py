"""Learning from feedback, end to end: a message Rasa misunderstands gets a
thumbs-down through the API, an administrator corrects its intent (a training
example in the project's reviewed file), a retrain job trains and tests a new model
with Rasa's own commands, loads it into the running Rasa without a restart, and the
message is understood."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Text

import pytest
import requests
import yaml

from tests.integration.conftest import (
    BIN,
    PROJECT,
    RASA_TOKEN,
    Servers,
    free_port,
    wait_until_up,
)

pytestmark = pytest.mark.slow

MESSAGE = "摸鱼时间到了吗"  # "is it slacking-off time yet?": no intent's example


class Api:
    def __init__(self, url: Text, project: Path) -> None:
        self.url, self.project = url, project

    def post(self, path: Text, **body: Any) -> Dict[Text, Any]:
        response = requests.post(f"{self.url}{path}", json=body or None, timeout=120)
        assert response.status_code < 300, response.text
        return response.json()

    def job(self, job_id: Text, seconds: float) -> Dict[Text, Any]:
        deadline = time.time() + seconds
        while time.time() < deadline:
            job = requests.get(f"{self.url}/v1/jobs/{job_id}", timeout=10).json()
            if job["state"] in ("succeeded", "failed"):
                return job
            time.sleep(2)
        raise AssertionError(f"the job did not finish in {seconds} s: {job}")


def parse(servers: Servers, text: Text) -> Dict[Text, Any]:
    response = requests.post(f"{servers.rasa_url}/model/parse", params={"token": RASA_TOKEN},
                             json={"text": text}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["intent"]


@pytest.fixture(scope="module")
def api(servers: Servers, trained_model: Path, work_dir: Path) -> Iterator[Api]:
    """The API and a worker in a copy of the project (the reviewed examples and new
    models are written there), in front of the tests' Rasa, which keeps the new
    model (this module runs last: conftest.py)."""
    project = work_dir / "retrain-project"
    shutil.rmtree(project, ignore_errors=True)
    for name in ("config.yml", "domain.yml", "data", "tests/nlu", "tests/test_stories.yml"):
        copy = shutil.copytree if (PROJECT / name).is_dir() else shutil.copyfile
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        copy(PROJECT / name, project / name)
    (project / "models").mkdir()
    # The model Rasa serves, where the retrain finds it to compare the new one with.
    shutil.copyfile(trained_model, project / "models" / trained_model.name)
    python, port = str(servers.actions_python), free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "API_LOCAL_USER": "on",
           "DATABASE_URL": f"sqlite:///{project / 'api.db'}",
           "JOBS_BROKER_URL": f"sqla+sqlite:///{project / 'broker.db'}", "REDIS_URL": "",
           "API_RASA_URL": servers.rasa_url, "RASA_AUTH_TOKEN": RASA_TOKEN,
           "RASA_COMMAND": str(BIN / "rasa"),
           # The training cache of the tests' first model: what the correction
           # does not change (the dialogue policies) is not trained again.
           "RASA_CACHE_DIRECTORY": str(work_dir / "cache")}
    processes, logs = [], []
    for name, command, store in (
            ("retrain-worker", [python, "-m", "apps.worker", "--name", "retrain"], "w"),
            ("retrain-api", [python, "-m", "apps.api", "--port", str(port)], "a")):
        log = (work_dir / f"{name}.log").open("a")
        logs.append(log)
        processes.append(subprocess.Popen(
            command, cwd=project, stdout=log, stderr=subprocess.STDOUT,
            env={**env, "MILVUS_LITE_PATH": str(project / f"knowledge-{store}.db")}))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/health", processes[1],
                      work_dir / "retrain-api.log", 180)
        yield Api(f"http://127.0.0.1:{port}", project)
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        for log in logs:
            log.close()


def test_a_corrected_message_is_understood_after_the_retrain(api, servers):
    before = parse(servers, MESSAGE)
    target = "goodbye" if before["name"] != "goodbye" else "thank"

    replies = api.post("/v1/chat", message=MESSAGE, conversation="retrain")["messages"]
    rated = api.post("/v1/feedback", conversation="retrain", rating=-1,
                     reason="misunderstood", message=MESSAGE,
                     reply=replies[0]["text"] if replies else "(none)")
    assert rated["intent"] == before["name"]  # the queue shows what Rasa understood
    api.post(f"/v1/feedback/{rated['id']}/intent", intent=target)
    reviewed = yaml.safe_load((api.project / "data/nlu/reviewed.yml").read_text("utf-8"))
    assert [e["intent"] for e in reviewed["nlu"]] == [target]
    assert MESSAGE in reviewed["nlu"][0]["examples"]
    assert not (PROJECT / "data/nlu/reviewed.yml").exists()  # the copy, not the project

    job = api.post("/v1/model/retrain")["job"]
    done = api.job(job["id"], seconds=1500)
    assert done["state"] == "succeeded", done
    assert done["message"].startswith("loaded retrained-"), done["message"]

    after = parse(servers, MESSAGE)
    assert after["name"] == target, after
    status = requests.get(f"{servers.rasa_url}/status", params={"token": RASA_TOKEN},
                          timeout=10).json()
    assert Path(status["model_file"]).name.startswith("retrained-")
    assert (api.project / "models" / "current.tar.gz").is_file()  # what a restart loads
