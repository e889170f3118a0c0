"""A dialogue policy that keeps the assistant quiet while a person handles the
conversation (issue #28)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT,
    is_trainable=True,
)
class HandoffPolicy(Policy):
    """Routes the messages of a conversation handed to a person.

    While the `slot` is set (the handoff action sets it when an agent is to take
    the conversation), every user message goes to `forward_action` (which passes it
    to the agent and says nothing), and one of the `cancel_intents` ("算了", "never
    mind") to `cancel_action`. Intents the API triggers from outside (`relays`: an
    agent's reply, the agent handing back) go to their actions whatever the slot.
    After each of these actions, the assistant listens. Otherwise it abstains. Its
    priority is above every other policy's, so that no rule or story answers while
    a person does.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the default config."""
        return {
            **Policy.get_default_config(),
            "slot": "handoff",
            "forward_action": "action_forward_to_agent",
            "cancel_intents": ["cancel_handoff"],
            "cancel_action": "action_cancel_handoff",
            # Intent triggered by the API -> the action that handles it.
            "relays": {"agent_reply": "action_relay_agent_reply",
                       "handoff_ended": "action_handoff_ended"},
            "priority": 8,
        }

    def _actions(self) -> List[Text]:
        return [self.config["forward_action"], self.config["cancel_action"],
                *self.config["relays"].values()]

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Checks that the domain has the slot, the intents and the actions; nothing
        to learn."""
        name = self.__class__.__name__
        if self.config["slot"] not in {slot.name for slot in domain.slots}:
            raise InvalidConfigException(
                f"{name}: the domain has no slot '{self.config['slot']}'.")
        unknown = [a for a in self._actions() if a not in domain.action_names_or_texts]
        if unknown:
            raise InvalidConfigException(
                f"{name}: actions not in the domain: {', '.join(unknown)}.")
        intents = [*self.config["cancel_intents"], *self.config["relays"]]
        missing = [i for i in intents if i not in domain.intents]
        if missing:
            raise InvalidConfigException(
                f"{name}: intents not in the domain: {', '.join(missing)}.")
        return self._resource

    def _next(self, tracker: DialogueStateTracker) -> Optional[Text]:
        """The action to run now, or None to abstain."""
        latest = tracker.latest_action_name
        if latest in self._actions():
            return ACTION_LISTEN_NAME
        if latest != ACTION_LISTEN_NAME or tracker.latest_message is None:
            return None
        intent = tracker.latest_message.intent.get("name")
        if intent in self.config["relays"]:
            return str(self.config["relays"][intent])
        if not tracker.get_slot(self.config["slot"]):
            return None
        if intent in self.config["cancel_intents"]:
            return str(self.config["cancel_action"])
        return str(self.config["forward_action"])

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts forwarding, cancelling or relaying during a handoff, then
        listening; abstains otherwise."""
        probabilities = self._default_predictions(domain)
        action = self._next(tracker)
        if action is not None and action in domain.action_names_or_texts:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
