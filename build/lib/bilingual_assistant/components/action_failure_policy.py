"""A dialogue policy that apologises when a custom action failed to reply."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT,
    is_trainable=True,
)
class ActionFailurePolicy(Policy):
    """Replies with an apology when an action that always answers said nothing.

    When the action server is down or fails, Rasa logs the error, records the
    action as run with no events, and carries on: the user would get no reply at
    all. After one of the configured actions, if no bot message followed the
    user's latest message (one that came through a channel), this policy predicts
    the apology response, then `action_listen`. Its priority is above the Rule
    policy's so that it wins the tie with the rule that would listen.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the default config."""
        return {
            **Policy.get_default_config(),
            # Custom actions that always send a message when they work.
            "actions": ["action_answer_question", "action_weather", "action_ask_city"],
            # The response sent instead.
            "response": "utter_action_failed",
            "priority": 7,
        }

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Checks that the domain has the response and the actions; nothing to learn."""
        response = self.config["response"]
        if response not in domain.responses:
            raise InvalidConfigException(
                f"{self.__class__.__name__}: the domain has no response '{response}'."
            )
        unknown = [a for a in self.config["actions"] if a not in domain.action_names_or_texts]
        if unknown:
            raise InvalidConfigException(
                f"{self.__class__.__name__}: actions not in the domain: {', '.join(unknown)}."
            )
        return self._resource

    def _failed_silently(self, tracker: DialogueStateTracker) -> Optional[Text]:
        """The last action's name if it is watched and nothing was said since the user.

        Only for messages that came through a channel (`input_channel` set): test
        stories replay actions without their messages, so there is nothing to
        apologise for.
        """
        last_action: Optional[Text] = None
        for event in reversed(tracker.events):
            if isinstance(event, BotUttered):
                return None
            if isinstance(event, UserUttered):
                return last_action if event.input_channel else None
            if isinstance(event, ActionExecuted) and last_action is None:
                if event.action_name not in self.config["actions"]:
                    return None
                last_action = event.action_name
        return None

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts the apology after a silent failure, then listening."""
        probabilities = self._default_predictions(domain)
        response = self.config["response"]
        if tracker.latest_action_name == response:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        elif self._failed_silently(tracker) and response in domain.action_names_or_texts:
            probabilities[domain.index_for_action(response)] = 1.0
        return self._prediction(probabilities)
