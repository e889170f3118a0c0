"""LanguagePolicy: sets the `language` slot, never votes for an action."""

from pathlib import Path

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bilingual_assistant.components.language_policy import LanguagePolicy
from tests.components.helpers import context

DOMAIN = Domain.load(str(Path(__file__).parents[2] / "domain.yml"))


def policy(tmp_path, **config) -> LanguagePolicy:
    return LanguagePolicy.create(
        {**LanguagePolicy.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("language"),
        context("language"),
    )


def tracker(*texts, language=None) -> DialogueStateTracker:
    events = [] if language is None else [SlotSet("language", language)]
    for text in texts:
        events += [ActionExecuted("action_listen"), UserUttered(text)]
    return DialogueStateTracker.from_events("u", events, slots=DOMAIN.slots)


@pytest.mark.parametrize(
    "texts, before, expected",
    [
        (["你好"], None, [SlotSet("language", "zh")]),
        (["hello"], None, [SlotSet("language", "en")]),
        (["hello"], "zh", [SlotSet("language", "en")]),
        (["明天北京天气"], "zh", []),
        (["😀"], "zh", []),
        (["😀"], None, []),
    ],
)
def test_sets_the_language_slot_only_when_it_changes(tmp_path, texts, before, expected):
    prediction = policy(tmp_path).predict_action_probabilities(
        tracker(*texts, language=before), DOMAIN
    )
    assert prediction.events == expected
    assert max(prediction.probabilities) == 0.0  # never wins over a real policy


def test_training_checks_the_slot_exists(tmp_path):
    with pytest.raises(InvalidConfigException, match="no slot 'lang'"):
        policy(tmp_path, slot="lang").train([], DOMAIN)
    assert policy(tmp_path).train([], DOMAIN) == Resource("language")
