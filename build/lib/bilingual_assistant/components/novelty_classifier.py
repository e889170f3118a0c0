"""Sends messages unlike every training example to `nlu_fallback`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

VECTORS_FILE = "vectors.npy"
SETTINGS_FILE = "novelty.json"
# Part of the training fingerprint: bump it when what `train` stores changes, or
# Rasa's training cache restores a resource in the old layout.
STORAGE_VERSION = "2"
# Intents that already say "not something I handle": left as they are.
OUT_OF_SCOPE_INTENTS = frozenset({DEFAULT_NLU_FALLBACK_INTENT_NAME, "out_of_scope"})
# Added to the parse result, so a fallback can be explained.
SIMILARITY_KEY = "nearest_training_similarity"


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """The rows scaled to length 1 (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def leave_one_out_similarities(vectors: np.ndarray, texts: List[Text]) -> np.ndarray:
    """Each example's cosine similarity to its nearest other example.

    Examples with the same text (case-insensitive; the same sentence taught under
    two intents or in two files) do not count as each other's neighbours, or they
    would score 1.0 and raise the threshold.

    Args:
        vectors: one row per example, length 1.
        texts: the examples' texts, in the same order.

    Returns:
        One similarity per example (-1.0 when it has no other example).
    """
    similarities = vectors @ vectors.T
    keys = np.array([t.strip().lower() for t in texts])
    similarities[keys[:, None] == keys[None, :]] = -1.0
    return similarities.max(axis=1) if len(texts) > 1 else np.full(len(texts), -1.0)


def sentence_vector(message: Message) -> Optional[np.ndarray]:
    """The message's dense sentence features (every dense featurizer's), or None."""
    _, sentence = message.get_dense_features(TEXT)
    if sentence is None:
        return None
    return np.asarray(sentence.features, dtype=np.float32).reshape(-1)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class NoveltyClassifier(GraphComponent, IntentClassifier):
    """Predicts `nlu_fallback` for a message unlike every training example.

    DIET normalises its similarities over the known intents, so a message unlike
    all of them still gets one with a high confidence and FallbackClassifier's
    threshold does not fire. This component keeps the training examples' sentence
    vectors (from the dense featurizer before it: the fine-tuned encoder) and
    measures how close a message comes to the nearest one. Below `threshold`, the
    message is unfamiliar and its intent becomes `nlu_fallback` (the rules look it
    up in the documents, which say so when they hold nothing on it).

    The threshold is calibrated on the training data itself unless it is set: each
    example's similarity to its nearest other example (leave one out), and the
    `percentile`-th percentile of these. Predictions of `exempt_intents` (answers
    the dialogue checks itself, such as a city name) are left alone. Place the
    component after the intent classifier and FallbackClassifier.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """A dense featurizer must give the messages sentence vectors."""
        return [DenseFeaturizer]

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """The stored layout's version, so a cached older resource is not reused."""
        return STORAGE_VERSION

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`percentile` of the training examples' leave-one-out similarities, or a
        fixed `threshold` (a cosine similarity) instead of the calibration;
        predictions of `exempt_intents` are never replaced."""
        return {"percentile": 5.0, "threshold": None, "exempt_intents": []}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Checks the options and raises an error that says how to fix them."""
        name = cls.__name__
        percentile = config.get("percentile")
        if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) \
                or not 0 <= percentile <= 100:
            raise InvalidConfigException(
                f"{name}: 'percentile' must be a number from 0 to 100 (for example "
                f"5), got {percentile!r}."
            )
        threshold = config.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float))
            or not -1 <= threshold <= 1
        ):
            raise InvalidConfigException(
                f"{name}: 'threshold' must be empty (calibrate it from the training "
                f"data) or a cosine similarity from -1 to 1, got {threshold!r}."
            )
        exempt = config.get("exempt_intents")
        if not isinstance(exempt, list) or not all(isinstance(i, str) for i in exempt):
            raise InvalidConfigException(
                f"{name}: 'exempt_intents' must be a list of intent names, got {exempt!r}."
            )

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectors: Optional[np.ndarray] = None,
        threshold: Optional[float] = None,
    ) -> None:
        """Stores the config and what training learnt (nothing before training)."""
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectors = vectors
        self._threshold = threshold

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NoveltyClassifier:
        """Creates an untrained component."""
        cls.validate_config(config)
        return cls(config, model_storage, resource)

    @property
    def threshold(self) -> Optional[float]:
        """The similarity below which a message falls back (None before training)."""
        return self._threshold

    def train(self, training_data: TrainingData) -> Resource:
        """Keeps the examples' sentence vectors and calibrates the threshold.

        Args:
            training_data: featurized training examples.

        Returns:
            The resource holding the vectors and the threshold.

        Raises:
            InvalidConfigException: if no example has dense sentence features.
        """
        rows, texts = [], []
        for message in training_data.intent_examples:
            vector = sentence_vector(message)
            if vector is not None:
                rows.append(vector)
                texts.append(message.get(TEXT))
        if not rows:
            raise InvalidConfigException(
                f"{self.__class__.__name__}: no training example has dense sentence "
                f"features. Put a dense featurizer (BertFeaturizer) before it."
            )
        vectors = unit_rows(np.stack(rows))
        nearest = leave_one_out_similarities(vectors, texts)
        calibrated = float(np.percentile(nearest, self._config["percentile"]))
        configured = self._config["threshold"]
        threshold = calibrated if configured is None else float(configured)
        logger.info(
            f"{self.__class__.__name__}: {len(texts)} examples; nearest-neighbour "
            f"similarity percentile {self._config['percentile']} = {calibrated:.3f} "
            f"(median {np.median(nearest):.3f}); threshold {threshold:.3f}."
        )
        with self._model_storage.write_to(self._resource) as directory:
            np.save(Path(directory) / VECTORS_FILE, vectors)
            settings = {
                "threshold": threshold,
                "calibrated_threshold": calibrated,
                "percentile": self._config["percentile"],
                "examples": len(texts),
                "median_nearest_similarity": float(np.median(nearest)),
                # What the threshold would be at another percentile (the benchmark).
                "nearest_similarities": [round(float(x), 4) for x in np.sort(nearest)],
            }
            (Path(directory) / SETTINGS_FILE).write_text(json.dumps(settings))
        self._vectors, self._threshold = vectors, threshold
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NoveltyClassifier:
        """Loads the vectors and the threshold that `train` stored."""
        try:
            with model_storage.read_from(resource) as directory:
                vectors = np.load(Path(directory) / VECTORS_FILE)
                settings = json.loads((Path(directory) / SETTINGS_FILE).read_text())
        except (ValueError, FileNotFoundError, KeyError) as e:
            raise InvalidConfigException(
                f"{cls.__name__}: the trained model holds no training vectors "
                f"(resource '{resource.name}'): {e}. Retrain the model."
            ) from e
        return cls(config, model_storage, resource, vectors, float(settings["threshold"]))

    def nearest_similarity(self, message: Message) -> Optional[float]:
        """The message's cosine similarity to its nearest training example, or None
        when it has no sentence features or the component is untrained."""
        vector = sentence_vector(message)
        if vector is None or self._vectors is None:
            return None
        if vector.shape[0] != self._vectors.shape[1]:
            raise InvalidConfigException(
                f"{self.__class__.__name__}: messages have {vector.shape[0]} sentence "
                f"features but training had {self._vectors.shape[1]}. Retrain the model."
            )
        return float((self._vectors @ unit_rows(vector[None, :])[0]).max())

    def process(self, messages: List[Message]) -> List[Message]:
        """Replaces the intent of unfamiliar messages by `nlu_fallback`.

        Args:
            messages: parsed messages.

        Returns:
            The same messages, each with its nearest similarity in the output;
            those below the threshold (and not already out of scope, nor of an
            exempt intent) now have the intent `nlu_fallback` first in the
            ranking. Entities are kept, as FallbackClassifier keeps them.
        """
        for message in messages:
            similarity = self.nearest_similarity(message)
            if similarity is None or self._threshold is None:
                continue
            message.set(SIMILARITY_KEY, round(similarity, 4), add_to_output=True)
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            if (similarity >= self._threshold or intent in OUT_OF_SCOPE_INTENTS
                    or intent in self._config["exempt_intents"]):
                continue
            fallback = {
                INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                PREDICTED_CONFIDENCE_KEY: 1.0,
            }
            message.set(INTENT, fallback, add_to_output=True)
            ranking = message.get(INTENT_RANKING_KEY) or []
            message.set(INTENT_RANKING_KEY, [dict(fallback), *ranking], add_to_output=True)
        return messages
