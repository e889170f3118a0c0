"""Jieba tokenizer for Chinese, English and mixed text, with a cap on tokens."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class BilingualJiebaTokenizer(JiebaTokenizer):
    """Rasa's `JiebaTokenizer` without the whitespace tokens Jieba emits, and with
    at most `max_tokens` tokens per message.

    Jieba returns every space between English words as a token of its own, which
    doubles the length of English messages and puts meaningless tokens in front of
    the featurizers and DIET. Every component after the tokenizer works per token,
    so the cap bounds what one message can cost them: a message of a million
    characters is read as its first `max_tokens` tokens. Everything else, including
    the user dictionary stored with the trained model, is Rasa's `JiebaTokenizer`.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa's Jieba options and `max_tokens`."""
        return {
            **JiebaTokenizer.get_default_config(),
            # Tokens kept per message; the rest are dropped with a warning. Far above
            # any training example or question (the longest here have about 40).
            "max_tokens": 256,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Checks `max_tokens`."""
        value = config.get("max_tokens")
        if isinstance(value, bool) or not isinstance(value, int) or value < 8:
            raise InvalidConfigException(
                f"{cls.__name__}: 'max_tokens' must be an integer >= 8, got {value!r}.")

    @classmethod
    def create(cls, config: Dict[Text, Any], *args: Any, **kwargs: Any) -> JiebaTokenizer:
        """Checks the options, then creates the tokenizer as Rasa's does."""
        cls.validate_config(config)
        return super().create(config, *args, **kwargs)

    @staticmethod
    def supported_languages() -> None:
        """Chinese, English and mixed text (the parent allows Chinese only)."""
        return None

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes with Jieba, drops whitespace-only tokens, keeps `max_tokens`."""
        tokens = [t for t in super().tokenize(message, attribute) if t.text.strip()]
        limit = self._config["max_tokens"]
        if len(tokens) > limit:
            logger.warning(f"A message of {len(tokens)} tokens was cut to its first {limit}.")
            tokens = tokens[:limit]
        return tokens
