"""ActionFailurePolicy: an apology when an action server action said nothing."""

from pathlib import Path

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bilingual_assistant.components.action_failure_policy import ActionFailurePolicy
from tests.components.helpers import context

DOMAIN = Domain.load(str(Path(__file__).parents[2] / "domain.yml"))


def policy(tmp_path, **config) -> ActionFailurePolicy:
    return ActionFailurePolicy.create(
        {**ActionFailurePolicy.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("failure"),
        context("failure"),
    )


def predicted(tmp_path, *events, channel="rest") -> str:
    tracker = DialogueStateTracker.from_events(
        "u",
        [ActionExecuted("action_listen"), UserUttered("年假有几天", input_channel=channel),
         *events],
        slots=DOMAIN.slots,
    )
    prediction = policy(tmp_path).predict_action_probabilities(tracker, DOMAIN)
    if max(prediction.probabilities) == 0:
        return ""
    return DOMAIN.action_names_or_texts[prediction.probabilities.index(1.0)]


def test_apologises_after_a_silent_action(tmp_path):
    assert predicted(tmp_path, ActionExecuted("action_answer_question")) == "utter_action_failed"


def test_listens_after_the_apology(tmp_path):
    events = [ActionExecuted("action_answer_question"), ActionExecuted("utter_action_failed"),
              BotUttered("sorry")]
    assert predicted(tmp_path, *events) == "action_listen"


@pytest.mark.parametrize(
    "events",
    [
        [],  # nothing ran yet
        [ActionExecuted("action_answer_question"), BotUttered("15 days [1]")],
        [ActionExecuted("utter_greet"), BotUttered("hi")],
        [ActionExecuted("validate_weather_form")],  # not a watched action
    ],
)
def test_stays_silent_otherwise(tmp_path, events):
    assert predicted(tmp_path, *events) == ""


def test_test_stories_are_not_failures(tmp_path):
    # `rasa test` replays stories without the actions' messages or a channel.
    assert predicted(tmp_path, ActionExecuted("action_answer_question"), channel=None) == ""


def test_training_checks_the_domain(tmp_path):
    with pytest.raises(InvalidConfigException, match="no response 'utter_nope'"):
        policy(tmp_path, response="utter_nope").train([], DOMAIN)
    with pytest.raises(InvalidConfigException, match="action_missing"):
        policy(tmp_path, actions=["action_missing"]).train([], DOMAIN)
    assert policy(tmp_path).train([], DOMAIN) == Resource("failure")
