"""HandoffPolicy (issue #28): while a person handles the conversation, its messages
go to them and the assistant keeps quiet; "never mind" ends it; the API's triggered
intents reach their actions."""

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bilingual_assistant.components.handoff_policy import HandoffPolicy
from tests.components.helpers import context

DOMAIN = Domain.from_dict({
    "intents": ["greet", "ask_question", "request_human", "cancel_handoff", "agent_reply",
                "handoff_ended"],
    "slots": {"handoff": {"type": "text", "influence_conversation": False,
                          "mappings": [{"type": "custom"}]}},
    "responses": {"utter_greet": [{"text": "hi"}]},
    "actions": ["action_answer_question", "action_request_human", "action_forward_to_agent",
                "action_cancel_handoff", "action_relay_agent_reply", "action_handoff_ended"],
})


def policy(tmp_path, **config) -> HandoffPolicy:
    return HandoffPolicy.create({**HandoffPolicy.get_default_config(), **config},
                                LocalModelStorage(tmp_path), Resource("handoff"),
                                context("handoff"))


def predicted(tmp_path, *events, handoff=None) -> str:
    opened = [SlotSet("handoff", handoff)] if handoff else []
    tracker = DialogueStateTracker.from_events("u", [*opened, *events], slots=DOMAIN.slots)
    prediction = policy(tmp_path).predict_action_probabilities(tracker, DOMAIN)
    if max(prediction.probabilities) == 0:
        return ""
    return DOMAIN.action_names_or_texts[prediction.probabilities.index(1.0)]


def said(intent, text="x"):
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": intent})]


@pytest.mark.parametrize("intent", ["ask_question", "greet", "request_human"])
def test_during_a_handoff_every_message_goes_to_the_agent(tmp_path, intent):
    assert predicted(tmp_path, *said(intent), handoff="h-1") == "action_forward_to_agent"


def test_never_mind_ends_the_handoff_and_each_action_is_followed_by_listening(tmp_path):
    assert predicted(tmp_path, *said("cancel_handoff", "算了"), handoff="h-1") == \
        "action_cancel_handoff"
    for action in ("action_forward_to_agent", "action_cancel_handoff",
                   "action_relay_agent_reply"):
        assert predicted(tmp_path, *said("greet"), ActionExecuted(action),
                         handoff="h-1") == "action_listen"


@pytest.mark.parametrize("handoff", [None, "h-1"])
def test_the_apis_triggered_intents_reach_their_actions(tmp_path, handoff):
    assert predicted(tmp_path, *said("agent_reply"), handoff=handoff) == \
        "action_relay_agent_reply"
    assert predicted(tmp_path, *said("handoff_ended"), handoff=handoff) == \
        "action_handoff_ended"


def test_without_a_handoff_it_leaves_the_conversation_to_the_others(tmp_path):
    assert predicted(tmp_path, *said("ask_question")) == ""
    assert predicted(tmp_path, *said("cancel_handoff")) == ""
    assert predicted(tmp_path) == ""
    assert predicted(tmp_path, *said("greet"), ActionExecuted("utter_greet"),
                     handoff="h-1") == ""


@pytest.mark.parametrize("config, named", [({"slot": "nope"}, "slot 'nope'"),
                                           ({"forward_action": "action_x"}, "action_x"),
                                           ({"cancel_intents": ["bye_bye"]}, "bye_bye")])
def test_a_domain_without_what_it_needs_stops_training(tmp_path, config, named):
    with pytest.raises(InvalidConfigException, match=named):
        policy(tmp_path, **config).train([], DOMAIN)
    policy(tmp_path).train([], DOMAIN)
