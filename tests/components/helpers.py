"""Builders for components under test."""

from pathlib import Path
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bilingual_assistant.components.bert_featurizer import BertFeaturizer
from bilingual_assistant.components.bilingual_tokenizer import BilingualJiebaTokenizer


def tokenizer() -> BilingualJiebaTokenizer:
    config = {**BilingualJiebaTokenizer.get_default_config()}
    return BilingualJiebaTokenizer(config, None, Resource("tokenizer"))  # type: ignore


def tokenized(texts: List[Text]) -> List[Message]:
    messages = [Message(data={TEXT: t}) for t in texts]
    return tokenizer().process(messages)


def context(name: Text = "bert") -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def featurizer_config(model: Text, **overrides: Any) -> Dict[Text, Any]:
    return {**BertFeaturizer.get_default_config(), "model": model, **overrides}


def create_featurizer(
    storage_dir: Path, model: Text, **overrides: Any
) -> BertFeaturizer:
    storage = LocalModelStorage(storage_dir)
    return BertFeaturizer.create(
        featurizer_config(model, **overrides), storage, Resource("bert"), context()
    )


def dense(message: Message, attribute: Text = TEXT):
    """(sequence, sentence) dense feature arrays of a message."""
    seq, sent = message.get_dense_features(attribute)
    return seq.features, sent.features


def token_texts(message: Message) -> List[Text]:
    return [t.text for t in message.get(TOKENS_NAMES[TEXT])]
