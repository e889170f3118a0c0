"""The tokenizer drops Jieba's whitespace tokens and caps tokens per message."""

import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

from bilingual_assistant.components.bilingual_tokenizer import BilingualJiebaTokenizer
from tests.components.helpers import context, token_texts, tokenized


def test_english_words_without_space_tokens():
    [message] = tokenized(["what is the weather in New York"])
    assert token_texts(message) == ["what", "is", "the", "weather", "in", "New", "York"]


def test_a_huge_message_is_cut_to_max_tokens():
    config = {**BilingualJiebaTokenizer.get_default_config(), "max_tokens": 10}
    tokenizer = BilingualJiebaTokenizer.create(config, None, Resource("t"), context())
    [message] = tokenizer.process([Message(data={"text": "天气 " * 100_000})])
    assert len(token_texts(message)) == 10


@pytest.mark.parametrize("value", [0, "many", True])
def test_a_bad_cap_is_refused(value):
    config = {**BilingualJiebaTokenizer.get_default_config(), "max_tokens": value}
    with pytest.raises(InvalidConfigException, match="max_tokens"):
        BilingualJiebaTokenizer.create(config, None, Resource("t"), context())
