"""Training and evaluating with Rasa's own command line (`rasa train`, `rasa test`),
run in Rasa's environment as a child process, and loading a model into the running
Rasa server through its HTTP API (`PUT /model`)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Text

import httpx

from bilingual_assistant.errors import ConfigurationError, ServiceError
from bilingual_assistant.jobs.retrain import Evaluation

_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
_COMPONENT = re.compile(r"Starting to train component '(\w+)'")


class RasaCli:
    """`Trainer` with the `rasa` executable of Rasa's environment."""

    def __init__(self, rasa: Path, project: Path, models: Path, held_out: Path,
                 stories: Path, env: Optional[Dict[Text, Text]] = None,
                 timeout_seconds: float = 3600) -> None:
        """Args:
        rasa: Rasa's executable (`$(make -s env-path)/bin/rasa`).
        project: the project folder (config.yml, domain.yml, data/).
        models: where new models are written.
        held_out, stories: the held-out NLU set and the test stories.
        env: the child processes' environment.
        """
        self.rasa, self.project, self.models = rasa, project, models
        self.held_out, self.stories, self.env = held_out, stories, env
        self.timeout_seconds = timeout_seconds

    def _run(self, args: List[Text], report: Optional[Callable[[Text], None]] = None) -> Text:
        if not self.rasa.is_file():
            raise ConfigurationError(f"Rasa's executable {self.rasa} is missing: set "
                                     f"RASA_COMMAND to `$(make -s env-path)/bin/rasa`.")
        lines: List[Text] = []
        process = subprocess.Popen([str(self.rasa), *args], cwd=self.project, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, errors="replace")
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if report:
                report(line)
        if process.wait(timeout=self.timeout_seconds) != 0:
            tail = "".join(lines[-15:]).strip()
            raise ServiceError(f"`rasa {args[0]}` failed (exit {process.returncode}): "
                               f"{tail[-1500:]}")
        return "".join(lines)

    def train(self, report: Callable[[float, Text], None]) -> Path:
        name = f"retrained-{dt.datetime.now():%Y%m%d-%H%M%S}"
        stage = ["training"]  # the component being trained

        def watch(line: Text) -> None:
            component = _COMPONENT.search(line)
            if component:
                stage[0] = f"training {component.group(1)}"
                report(0.05, stage[0])
            epochs = _EPOCHS.findall(line)
            if epochs and stage[0].endswith("DIETClassifier"):
                report(0.3 + 0.6 * int(epochs[-1]) / 100, f"{stage[0]}: {epochs[-1]} %")

        report(0.0, "training a new model (a few minutes)")
        self._run(["train", "--out", str(self.models), "--fixed-model-name", name], watch)
        model = self.models / f"{name}.tar.gz"
        if not model.is_file():
            raise ServiceError(f"`rasa train` wrote no {model}.")
        return model

    def evaluate(self, model: Path) -> Evaluation:
        # One `rasa test` process for both sets: Rasa and the project's components
        # are imported once, not twice.
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            self._run(["test", "--model", str(model), "--nlu", str(self.held_out),
                       "--stories", str(self.stories), "--out", str(out)])
            intents = json.loads((out / "intent_report.json").read_text())
            stories = json.loads((out / "story_report.json").read_text())
        return Evaluation(float(intents["accuracy"]),
                          float(stories["conversation_accuracy"]["accuracy"]))

    def promote(self, model: Path) -> None:
        """Copies `model` over `models/current.tar.gz` (what `make run` loads),
        atomically."""
        current = self.models / "current.tar.gz"
        partial = self.models / ".current.tar.gz.partial"
        shutil.copyfile(model, partial)
        os.replace(partial, current)

    def find(self, name: Text) -> Optional[Path]:
        path = self.models / Path(name).name
        return path if path.is_file() else None


class RasaModelServer:
    """`ModelServer` over Rasa's HTTP API (its token: `RASA_AUTH_TOKEN`)."""

    def __init__(self, base_url: Text, token: Text,
                 transport: Optional[httpx.BaseTransport] = None) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token
        self._client = httpx.Client(base_url=self.base_url, timeout=600, transport=transport)

    def current(self) -> Optional[Text]:
        try:
            response = self._client.get("/status", params={"token": self.token}, timeout=10)
            response.raise_for_status()
            model = response.json().get("model_file")
        except (httpx.HTTPError, ValueError) as error:
            raise ServiceError(f"Rasa at {self.base_url} cannot say which model it serves "
                               f"({error.__class__.__name__}); is it running, with "
                               f"RASA_AUTH_TOKEN?") from None
        return str(model) if model else None

    def load(self, model: Path) -> None:
        try:
            response = self._client.put("/model", params={"token": self.token},
                                        json={"model_file": str(model.resolve())})
        except httpx.HTTPError as error:
            raise ServiceError(f"Rasa at {self.base_url} could not be asked to load the "
                               f"model ({error.__class__.__name__}).") from None
        if response.status_code != 204:
            raise ServiceError(f"Rasa refused to load {model.name} (HTTP "
                               f"{response.status_code}: {response.text[:300]}).")

