"""The retrain job: a new model is loaded only when it is not worse than the one
being served, on the held-out messages and the test stories."""

import pytest

from bilingual_assistant.errors import ServiceError
from bilingual_assistant.jobs.retrain import Evaluation, RetrainJob
from bilingual_assistant.jobs.service import Jobs, Worker
from tests.fakes.in_memory import InMemoryJobStore, RecordingQueue


class FakeTrainer:
    def __init__(self, tmp, scores, fail=False):
        self.tmp, self.scores, self.fail = tmp, scores, fail
        self.promoted = []

    def train(self, report):
        report(0.5, "training DIETClassifier: 50 %")
        if self.fail:
            raise ServiceError("`rasa train` failed (exit 1): bad domain")
        model = self.tmp / "new.tar.gz"
        model.write_text("model")
        return model

    def evaluate(self, model):
        return self.scores[model.name]

    def promote(self, model):
        self.promoted.append(model.name)

    def find(self, name):
        path = self.tmp / name
        return path if path.is_file() else None


class FakeServer:
    def __init__(self, current):
        self.served, self.loaded = current, []

    def current(self):
        return self.served

    def load(self, model):
        self.loaded.append(model.name)


def run(tmp_path, scores, current="old.tar.gz", fail=False):
    if current:
        (tmp_path / current).write_text("old")
    trainer = FakeTrainer(tmp_path, scores, fail)
    server = FakeServer(current)
    store = InMemoryJobStore()
    jobs = Jobs(store, RecordingQueue())
    job = jobs.submit("retrain", {}, "admin")
    done = Worker(store, {"retrain": RetrainJob(trainer, server)}, "w",
                  heartbeat_seconds=0.05).run(job.id)
    return done, trainer, server, store


def test_a_model_that_is_not_worse_is_loaded_and_kept_for_restarts(tmp_path):
    done, trainer, server, store = run(tmp_path, {
        "new.tar.gz": Evaluation(0.97, 1.0), "old.tar.gz": Evaluation(0.96, 1.0)})
    assert done.state == "succeeded" and "loaded new.tar.gz" in done.message
    assert server.loaded == ["new.tar.gz"] and trainer.promoted == ["new.tar.gz"]
    assert store.locks == {}


@pytest.mark.parametrize("new", [Evaluation(0.95, 1.0), Evaluation(0.99, 0.9)])
def test_a_worse_model_is_not_loaded(tmp_path, new):
    done, trainer, server, _ = run(tmp_path, {"new.tar.gz": new,
                                              "old.tar.gz": Evaluation(0.96, 1.0)})
    assert done.state == "succeeded" and "kept the model being served" in done.message
    assert server.loaded == [] and trainer.promoted == []


def test_without_a_served_model_the_new_one_is_loaded(tmp_path):
    done, _, server, _ = run(tmp_path, {"new.tar.gz": Evaluation(0.5, 0.5)}, current=None)
    assert done.state == "succeeded" and server.loaded == ["new.tar.gz"]


def test_a_served_model_that_cannot_be_found_is_not_replaced_blindly(tmp_path):
    trainer = FakeTrainer(tmp_path, {"new.tar.gz": Evaluation(0.97, 1.0)})
    store = InMemoryJobStore()
    job = Jobs(store, RecordingQueue()).submit("retrain", {}, "admin")
    server = FakeServer("elsewhere.tar.gz")
    done = Worker(store, {"retrain": RetrainJob(trainer, server)}, "w",
                  heartbeat_seconds=0.05).run(job.id)
    assert done.state == "failed" and "elsewhere.tar.gz" in done.error
    assert "models/" in done.error and server.loaded == [] and trainer.promoted == []
    assert not (tmp_path / "new.tar.gz").exists()  # refused before training


def test_a_failed_training_fails_the_job_with_rasas_words(tmp_path):
    done, _, server, _ = run(tmp_path, {}, fail=True)
    assert done.state == "failed" and "bad domain" in done.error and server.loaded == []


def test_evaluations_compare_both_measures():
    assert Evaluation(0.9, 1.0).not_worse_than(Evaluation(0.9, 1.0))
    assert not Evaluation(0.91, 0.8).not_worse_than(Evaluation(0.9, 1.0))
    assert str(Evaluation(0.9, 1.0)) == "held-out intents 90.0%, test stories 100.0%"
