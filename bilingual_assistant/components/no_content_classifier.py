"""Sends messages without any word or number to `nlu_fallback`."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bilingual_assistant.text import has_content


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class NoContentClassifier(GraphComponent, IntentClassifier):
    """Predicts `nlu_fallback` for messages made only of punctuation, symbols or emoji.

    A classifier trained on words has nothing to go on in "!!!???" or "😀😀😀" and
    still picks an intent, often with a high confidence (DIET's similarities are
    normalised over the known intents). Such a message says nothing the assistant
    can act on, so this component replaces the prediction with `nlu_fallback`
    (confidence 1.0, no entities), which the rules answer by asking what the user
    would like to know. Place it after the intent classifier.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component has no options."""
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NoContentClassifier:
        """Creates the component (nothing to train or load)."""
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        """Replaces the intent of messages without content by `nlu_fallback`.

        Args:
            messages: parsed messages.

        Returns:
            The same messages; those without a letter or digit now have the intent
            `nlu_fallback` (first in the ranking) and no entities.
        """
        for message in messages:
            if has_content(message.get(TEXT)):
                continue
            fallback = {
                INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                PREDICTED_CONFIDENCE_KEY: 1.0,
            }
            message.set(INTENT, fallback, add_to_output=True)
            ranking = [
                r for r in message.get(INTENT_RANKING_KEY) or []
                if r.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME
            ]
            message.set(INTENT_RANKING_KEY, [dict(fallback), *ranking], add_to_output=True)
            message.set(ENTITIES, [], add_to_output=True)
        return messages
