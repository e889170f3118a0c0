"""Sends a task intent's prediction to `nlu_fallback` when the message does not read as it."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

# Added to the parse result when the gate replaced a prediction: the intent and
# confidence it replaced, so a fallback can be explained and benchmarked.
GATED_KEY = "gated_intent"


def cue_pattern(cues: Iterable[Text]) -> re.Pattern:
    """One pattern for a list of cues: Chinese cues match anywhere, cues in Latin
    letters as whole words (any case), so "hot" is not found in "hotel"."""
    parts = []
    for cue in sorted({c.strip() for c in cues if c.strip()}, key=len, reverse=True):
        escaped = re.escape(cue)
        parts.append(rf"\b{escaped}\b" if cue.isascii() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


def has_cue(text: Text, pattern: re.Pattern) -> bool:
    """Whether `text` holds one of the pattern's cues."""
    return bool(pattern.search(text or ""))


_UNIT = re.compile(r"[A-Za-z0-9]+|[\u3400-\u9fff]")


def units_besides_entities(text: Text, entities: Sequence[Mapping[Text, Any]]) -> int:
    """Words (Latin letters or digits) and Chinese characters outside the entities'
    spans: what a message says besides the city or day it names."""
    chars = list(text or "")
    for entity in entities:
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if isinstance(start, int) and isinstance(end, int):
            chars[max(0, start):max(0, end)] = " " * (max(0, end) - max(0, start))
    return len(_UNIT.findall("".join(chars)))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class CueGate(GraphComponent, IntentClassifier):
    """Keeps a task intent only when the message reads as that task.

    DIET learns the weather intent from questions that name a city and a day, so a
    question about the team's documents that names a place ("which river runs past
    the town?") can come out as a confident weather request, and the weather form
    asks for a city instead of the documents being searched (7 of 100 answerable
    public questions in #25), and a whole question that names a city can come out
    as `inform` (the answer to the form's "which city?"). For each intent in
    `cues`, a message that holds none of its cue words, and for each intent in
    `max_units`, one that says more than that many words or Chinese characters
    besides its entities, gets `nlu_fallback` instead (an intent in both is kept
    when either holds): the rules look it up in the documents and answer only
    when they clearly answer it, otherwise the out-of-scope reply says what the
    assistant can do. Place it after DIET and FallbackClassifier;
    `python -m benchmarks.routing` measures it.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`cues`: intent name to the words (either language) one of which a
        message must hold to keep that intent; `max_units`: intent name to the most
        words or Chinese characters a message of it says besides its entities."""
        return {"cues": {}, "max_units": {}}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Checks the options and raises an error that says how to fix them."""
        cues = config.get("cues")
        name = cls.__name__
        if not isinstance(cues, dict) or not all(
            isinstance(intent, str) and isinstance(words, list) and words
            and all(isinstance(w, str) and w.strip() for w in words)
            for intent, words in cues.items()
        ):
            raise InvalidConfigException(
                f"{name}: 'cues' must map each intent name to a non-empty list of "
                f"words, for example {{ask_weather: [天气, weather, rain]}}; got {cues!r}."
            )
        limits = config.get("max_units")
        if not isinstance(limits, dict) or not all(
            isinstance(intent, str) and isinstance(n, int) and not isinstance(n, bool)
            and n >= 0 for intent, n in limits.items()
        ):
            raise InvalidConfigException(
                f"{name}: 'max_units' must map each intent name to a whole number of "
                f"words or Chinese characters, for example {{inform: 4}}; got {limits!r}."
            )

    def __init__(self, cues: Mapping[Text, Sequence[Text]],
                 max_units: Optional[Mapping[Text, int]] = None) -> None:
        """Compiles one pattern per intent with cues."""
        self._patterns = {intent: cue_pattern(words) for intent, words in cues.items()}
        self._max_units = dict(max_units or {})

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CueGate:
        """Creates the component from its config (nothing to train)."""
        cls.validate_config(config)
        return cls(config["cues"], config.get("max_units"))

    def gated(self, intent: Optional[Text], text: Text,
              entities: Sequence[Mapping[Text, Any]] = ()) -> bool:
        """Whether a message predicted as `intent` loses it."""
        pattern = self._patterns.get(intent or "")
        limit = self._max_units.get(intent or "")
        if pattern is None and limit is None:
            return False
        if pattern is not None and has_cue(text, pattern):
            return False
        return limit is None or units_besides_entities(text, entities) > limit

    def process(self, messages: List[Message]) -> List[Message]:
        """Replaces a gated intent without a cue by `nlu_fallback`.

        Args:
            messages: parsed messages.

        Returns:
            The same messages; a gated one has the intent `nlu_fallback` (first in
            the ranking, at the replaced confidence) and `GATED_KEY` in its output.
            Entities stay: a follow-up may still use them.
        """
        for message in messages:
            intent = message.get(INTENT) or {}
            if not self.gated(intent.get(INTENT_NAME_KEY), message.get(TEXT) or "",
                              message.get(ENTITIES) or []):
                continue
            confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
            message.set(GATED_KEY, {INTENT_NAME_KEY: intent.get(INTENT_NAME_KEY),
                                    PREDICTED_CONFIDENCE_KEY: confidence},
                        add_to_output=True)
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                        PREDICTED_CONFIDENCE_KEY: confidence}
            message.set(INTENT, fallback, add_to_output=True)
            ranking = [
                r for r in message.get(INTENT_RANKING_KEY) or []
                if r.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME
            ]
            message.set(INTENT_RANKING_KEY, [dict(fallback), *ranking], add_to_output=True)
        return messages
