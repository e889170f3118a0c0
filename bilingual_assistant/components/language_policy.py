"""A dialogue policy that keeps the `language` slot in step with the user."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import InvalidConfigException

from bilingual_assistant.text import detect_language


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT,
    is_trainable=True,
)
class LanguagePolicy(Policy):
    """Sets the `language` slot to the language of the latest user message.

    It never votes for an action (all its probabilities are zero); Rasa applies the
    events of every policy's prediction, so the slot is set before the next action
    runs, and responses with a `language` condition answer in the user's language.
    Messages with no Chinese or English letters (emoji, digits) keep the slot as it
    is. Works without the action server.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the default config."""
        return {
            **Policy.get_default_config(),
            # The categorical slot to fill with "zh" or "en".
            "slot": "language",
            "priority": 0,
        }

    def train(
        self,
        training_trackers: List[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        """Checks the domain has the slot; nothing to learn."""
        slot = self.config["slot"]
        if not any(s.name == slot for s in domain.slots):
            raise InvalidConfigException(
                f"{self.__class__.__name__}: the domain has no slot '{slot}'. "
                f"Add a categorical slot '{slot}' with values zh and en."
            )
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts no action; emits `SlotSet` when the user's language changed."""
        slot = self.config["slot"]
        events = []
        language = detect_language(tracker.latest_message.text)
        if (
            language is not None
            and any(s.name == slot for s in domain.slots)
            and tracker.get_slot(slot) != language
        ):
            events.append(SlotSet(slot, language))
        return self._prediction(self._default_predictions(domain), events=events)
