"""The retrain job: train a candidate model on the current data (with the reviewed
examples), check it against the held-out NLU set and the test stories beside the
model Rasa is serving, and load it into the running Rasa only if it is not worse."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Protocol, Text

from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.jobs.service import Progress

logger = logging.getLogger(__name__)

LOCK = "model"


@dataclass(frozen=True)
class Evaluation:
    """How a model does on data it was not trained on."""

    intent_accuracy: float  # on the held-out NLU set
    story_accuracy: float  # share of test stories passed

    def not_worse_than(self, other: Evaluation) -> bool:
        """Whether this model may replace `other`: neither measure lower."""
        return (self.intent_accuracy >= other.intent_accuracy
                and self.story_accuracy >= other.story_accuracy)

    def __str__(self) -> str:
        return (f"held-out intents {self.intent_accuracy:.1%}, "
                f"test stories {self.story_accuracy:.1%}")


class Trainer(Protocol):
    """Trains and evaluates models (`rasa train` / `rasa test` in the services)."""

    def train(self, report: Callable[[float, Text], None]) -> Path:
        """A new model file; `report(fraction, message)` while it trains."""

    def evaluate(self, model: Path) -> Evaluation:
        """The model on the held-out NLU set and the test stories."""

    def promote(self, model: Path) -> None:
        """Makes `model` the one a restart loads."""

    def find(self, name: Text) -> Optional[Path]:
        """The model file called `name` among the trainer's models, or None."""


class ModelServer(Protocol):
    """The running Rasa server's model."""

    def current(self) -> Optional[Text]:
        """The file name of the model it serves (Rasa says no more), or None."""

    def load(self, model: Path) -> None:
        """Makes it serve `model` (without a restart)."""


class RetrainJob:
    """The `retrain` job's handler."""

    def __init__(self, trainer: Trainer, server: ModelServer) -> None:
        self.trainer, self.server = trainer, server

    def __call__(self, params: Dict[Text, Any], progress: Progress) -> Text:
        with progress.exclusive(LOCK, ttl=600):
            served = self.server.current()
            current = None
            if served:
                current = self.trainer.find(served)
                if current is None:  # said before minutes of training, not after
                    raise ConfigurationError(
                        f"Rasa serves {served}, which is not among the models a new one "
                        f"is compared with, so none would be loaded. Serve a model from "
                        f"the project's models/ folder (make run serves "
                        f"models/current.tar.gz) and retry.")
            # The served model is tested while the new one trains, not after it.
            with ThreadPoolExecutor(max_workers=1) as pool:
                served_result = pool.submit(self.trainer.evaluate, current) if current \
                    else None
                candidate = self.trainer.train(lambda f, m: progress(0.8 * f, m))
                progress(0.8, "checking the new model on the held-out messages and test "
                              "stories")
                new = self.trainer.evaluate(candidate)
                old = served_result.result() if served_result else None
            if old is not None and not new.not_worse_than(old):
                logger.warning("retrain.kept", extra={"new": str(new), "old": str(old)})
                return (f"kept the model being served: the new one is worse ({new}; "
                        f"served: {old}); {candidate.name} was not loaded")
            progress(0.95, "loading the new model into Rasa")
            self.server.load(candidate)
            self.trainer.promote(candidate)
            logger.info("retrain.loaded", extra={"model": candidate.name, "new": str(new)})
            return f"loaded {candidate.name} ({new}" + (f"; was: {old})" if old else ")")
