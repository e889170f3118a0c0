"""Jieba tokenizer for Chinese, English and mixed text."""

from __future__ import annotations

from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class BilingualJiebaTokenizer(JiebaTokenizer):
    """Rasa's `JiebaTokenizer` without the whitespace tokens Jieba emits.

    Jieba returns every space between English words as a token of its own, which
    doubles the length of English messages and puts meaningless tokens in front of
    the featurizers and DIET. Everything else, including the user dictionary that is
    stored with the trained model, is Rasa's `JiebaTokenizer` unchanged.
    """

    @staticmethod
    def supported_languages() -> None:
        """Chinese, English and mixed text (the parent allows Chinese only)."""
        return None

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes with Jieba and drops whitespace-only tokens."""
        tokens = super().tokenize(message, attribute)
        return [t for t in tokens if t.text.strip()]
