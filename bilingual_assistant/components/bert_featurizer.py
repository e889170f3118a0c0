"""Rasa graph component: dense features from a local BERT-family encoder (PyTorch, or
an INT8 copy of it on ONNX Runtime with `runtime: onnx`)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Text, Tuple, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ACTION_TEXT, ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bilingual_assistant.adapters.prometheus import shared_recorder
from bilingual_assistant.config import PathSettings, load
from bilingual_assistant.encoders.fine_tuning import (
    NO_ENTITY,
    TuningExample,
    TuningOptions,
    TuningReport,
    fine_tune,
)
from bilingual_assistant.encoders.onnx_encoder import (
    KEEP_FLOAT,
    ONNX_FILE,
    OnnxEncoder,
    export_quantized,
)
from bilingual_assistant.encoders.registry import check_model_dir, resolve_model
from bilingual_assistant.encoders.torch_encoder import (
    SENTENCE_POOLINGS,
    TOKEN_POOLINGS,
    BertEncoder,
    WordPieceEncoder,
)
from bilingual_assistant.errors import EncoderLoadError

logger = logging.getLogger(__name__)

SETTINGS_FILE = "bert_featurizer.json"
RUNTIMES = ("torch", "onnx")


class Option(NamedTuple):
    """One option of the featurizer, declared once: `get_default_config` and the
    README's table (`options_table`, written by cog) come from it."""

    name: Text
    default: Any
    doc: Text
    shown: Optional[Text] = None

    def shown_default(self) -> Text:
        """The default as the README shows it (YAML spelling)."""
        if self.shown is not None:
            return self.shown
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        return f"`{self.default}`"


OPTIONS: Tuple[Option, ...] = (
    Option(
        "runtime", "torch",
        "`torch`, or `onnx`: after fine-tuning, the encoder is exported to ONNX with "
        "its weights quantised to INT8 (ONNX Runtime's dynamic quantisation; but what "
        "`onnx_keep_float` keeps in float32); that copy "
        "featurizes the training data (so DIET learns on the features it is served) and "
        "every message, on ONNX Runtime with `inference_threads` threads; the model "
        "stores the `.onnx` file in place of the PyTorch weights. Measured against "
        "`torch`: see docs/benchmarks/nlu.md's ONNX table",
    ),
    Option(
        "onnx_keep_float", "ffn_output",
        "with `runtime: onnx`, the MatMuls left in float32: `ffn_output` (each layer's "
        "feed-forward output projection, found by its weight's shape, stays float32; "
        "the rest is INT8) or `none` (every MatMul and the embeddings in INT8: a smaller "
        "file and a faster forward pass, but intents further from PyTorch's). Measured "
        "in docs/benchmarks/nlu.md's ONNX tables",
    ),
    Option(
        "model", "multilingual-e5-small",
        "a packaged encoder's name (`multilingual-e5-small`, `m3e-small`, "
        "`all-minilm-l6-v2`) or a local model directory",
    ),
    Option(
        "sentence_pooling", "mean",
        "sentence features: `mean` of the word pieces or `cls`",
    ),
    Option(
        "token_pooling", "mean",
        "a Rasa token's vector from its word pieces: `mean` or `first`",
    ),
    Option(
        "lowercase", "auto",
        "lower-case text when the vocabulary is lower-case but the tokenizer does not "
        "lower-case (m3e-small's quirk)",
    ),
    Option(
        "max_length", None,
        "word pieces per message; longer messages are truncated with a warning at "
        "inference and rejected with a clear error in training",
        shown="model's limit",
    ),
    Option(
        "batch_size", 64,
        "messages per forward pass during training",
    ),
    Option(
        "num_threads", None,
        "torch CPU threads while featurizing training data (`runtime: torch`; with "
        "`onnx` the training data is featurized by the session that serves, with "
        "`inference_threads`)",
        shown="torch default",
    ),
    Option(
        "inference_threads", 1,
        "torch (or ONNX Runtime intra-op) CPU threads when parsing a message. Measured "
        "side by side with `benchmarks/parse_breakdown.py` (2 cores): on an idle CPU "
        "(300 SNIPS messages) 2 threads parse in 0.81 × the time of 1; while two other "
        "processes kept both cores busy (as the LLM server does next to Rasa in `make "
        "run`; 30 held-out messages), 2 threads took 11 × as long, their idle threads "
        "spinning on the cores TensorFlow needed. 1 is the safe default; set 2 when "
        "Rasa has the machine to itself",
    ),
    Option(
        "fine_tune_epochs", 0,
        "fine-tune the encoder on the training data's intents (and entity types) for "
        "this many epochs before featurizing; `0` keeps the pre-trained weights. "
        "Progress and loss are shown per batch",
    ),
    Option(
        "fine_tune_learning_rate", 5e-5,
        "AdamW learning rate (linear warm-up over the first 10 % of steps, then linear "
        "decay)",
        shown="`5e-5`",
    ),
    Option(
        "fine_tune_head_learning_rate", 3e-3,
        "learning rate of the two linear heads trained beside the encoder (same "
        "schedule). They start from random weights: at the encoder's 5e-5, Adam moves a "
        "weight by at most 5e-5 a step and they hardly learnt. Measured side by side "
        "(multilingual-e5-small): SMP-ECDT, 3 epochs, heads at 5e-5 / 1e-3 / 3e-3: "
        "training loss 2.99 → 1.86 / 2.64 → 0.93 / 2.34 → 0.47, accuracy 91.8 / 92.2 / "
        "93.0 %; the project, 5 epochs: 93.8 / 96.2 / 96.2 %, entity F1 94.7 / 94.7 / "
        "97.3",
        shown="`3e-3`",
    ),
    Option(
        "fine_tune_batch_size", 32,
        "messages per optimisation step",
    ),
    Option(
        "fine_tune_entities", True,
        "also learn each token's entity type, so word features separate entities for "
        "DIET's tagger",
    ),
    Option(
        "random_seed", 42,
        "seed of the fine-tuning (heads, dropout, example order): the same data gives "
        "the same model",
    ),
)


def options_table() -> Text:
    """The README's table of the featurizer's options."""
    rows = [f"| `{o.name}` | {o.shown_default()} | {o.doc} |" for o in OPTIONS]
    return "\n".join(["| option | default | meaning |", "|---|---|---|", *rows]) + "\n"


def source_model(name_or_path: Text) -> Text:
    """The folder of the configured encoder (converted encoders under
    `ASSISTANT_CACHE_DIR`)."""
    return resolve_model(name_or_path, load(PathSettings).encoders_dir)


def use_threads(count: Optional[int]) -> None:
    """Sets torch's CPU thread count (process-wide) unless it is None or already set.

    Args:
        count: the number of threads, or None to leave torch's setting alone.
    """
    if count is None:
        return
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class BertFeaturizer(DenseFeaturizer, GraphComponent):
    """Sentence and per-token features from a BERT-family encoder.

    Training copies the encoder (weights as safetensors, tokenizer and the settings
    it was trained with) into the model, so a trained model is self-contained and
    does not need the encoder's package where it is served. The encoder itself is
    `bilingual_assistant.encoders.torch_encoder.BertEncoder`; errors of the library become
    Rasa's `InvalidConfigException` here, with the library's message.

    With `runtime: onnx`, `train` fine-tunes with PyTorch as above, then stores the
    tokenizer and an INT8 ONNX export (`bilingual_assistant.encoders.onnx_encoder`) in place
    of the weights; `load` opens an ONNX Runtime session on it. Rasa featurizes the
    training data with the loaded component (its `run_` node), so DIET is trained
    on the quantised encoder's features, the ones it is served.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that must come before this one in the pipeline."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        """Python packages this component needs."""
        return ["torch", "transformers"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the default config: Rasa's dense featurizer options and `OPTIONS`."""
        return {
            **DenseFeaturizer.get_default_config(),
            **{option.name: option.default for option in OPTIONS},
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Checks every option and raises an error that says how to fix it."""
        name = cls.__name__

        def fail(message: Text) -> None:
            raise InvalidConfigException(f"{name}: {message}")

        runtime = config.get("runtime")
        if runtime not in RUNTIMES:
            fail(f"unknown 'runtime' {runtime!r}: set 'runtime: torch' (PyTorch, the "
                 f"default) or 'runtime: onnx' (the encoder quantised to INT8 on ONNX "
                 f"Runtime) in config.yml.")
        keep_float = config.get("onnx_keep_float")
        if keep_float not in KEEP_FLOAT:
            fail(f"unknown 'onnx_keep_float' {keep_float!r}: set 'onnx_keep_float: "
                 f"ffn_output' (the feed-forward output MatMuls in float32, the default) "
                 f"or 'onnx_keep_float: none' (every MatMul in INT8) in config.yml.")
        model = config.get("model")
        if not isinstance(model, str) or not model.strip():
            fail("'model' must be a packaged encoder name or a model directory path.")
        if config.get("sentence_pooling") not in SENTENCE_POOLINGS:
            fail(f"'sentence_pooling' must be one of {list(SENTENCE_POOLINGS)}.")
        if config.get("token_pooling") not in TOKEN_POOLINGS:
            fail(f"'token_pooling' must be one of {list(TOKEN_POOLINGS)}.")
        if config.get("lowercase") not in ("auto", True, False):
            fail("'lowercase' must be 'auto', true or false.")
        limits = (("batch_size", 1), ("max_length", 8), ("num_threads", 1),
                  ("inference_threads", 1), ("fine_tune_epochs", 0),
                  ("fine_tune_batch_size", 1), ("random_seed", 0))
        optional = ("max_length", "num_threads", "inference_threads")
        for key, minimum in limits:
            value = config.get(key)
            if value is None and key in optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                fail(f"'{key}' must be an integer >= {minimum}, got {value!r}.")
        for key, example in (("fine_tune_learning_rate", "5e-5"),
                             ("fine_tune_head_learning_rate", "3e-3")):
            rate = config.get(key)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1:
                fail(f"'{key}' must be a number between 0 and 1 "
                     f"(for example {example}), got {rate!r}.")
        if not isinstance(config.get("fine_tune_entities"), bool):
            fail("'fine_tune_entities' must be true or false.")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        encoder: Optional[WordPieceEncoder] = None,
    ) -> None:
        """Stores the config; the encoder is loaded by `train` or `load`."""
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._encoder = encoder

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> BertFeaturizer:
        """Creates an untrained featurizer; fails early if the model is missing."""
        cls.validate_config(config)
        try:
            check_model_dir(source_model(config["model"]))
        except EncoderLoadError as e:
            raise InvalidConfigException(f"{cls.__name__}: {e}") from e
        return cls(config, model_storage, resource, execution_context)

    def _load_source_encoder(self) -> BertEncoder:
        lowercase = self._config["lowercase"]
        try:
            return BertEncoder.from_directory(
                source_model(self._config["model"]),
                lowercase=None if lowercase == "auto" else bool(lowercase),
                max_length=self._config["max_length"],
                sentence_pooling=self._config["sentence_pooling"],
                token_pooling=self._config["token_pooling"],
            )
        except EncoderLoadError as e:
            raise InvalidConfigException(f"{self.__class__.__name__}: {e}") from e

    @property
    def encoder(self) -> WordPieceEncoder:
        """The encoder; loaded from the configured model if not loaded yet."""
        if self._encoder is None:
            self._encoder = self._load_source_encoder()
        return self._encoder

    def _trainable_encoder(self) -> BertEncoder:
        """The PyTorch encoder that `train` fine-tunes and stores."""
        encoder = self.encoder
        if not isinstance(encoder, BertEncoder):
            raise InvalidConfigException(
                f"{self.__class__.__name__}: a trained (ONNX) featurizer cannot be "
                f"trained again; train from the configured model.")
        return encoder

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tunes the encoder if configured, then stores it in the model.

        Args:
            training_data: tokenized training examples; their intents and entities
                are what fine-tuning learns (with `fine_tune_epochs` > 0).

        Returns:
            The resource holding the encoder and its settings.

        Raises:
            InvalidConfigException: if fine-tuning meets a training example longer
                than the encoder allows.
        """
        encoder = self._trainable_encoder()
        report = self._fine_tune(training_data) if self._config["fine_tune_epochs"] else None
        runtime = self._config["runtime"]
        with self._model_storage.write_to(self._resource) as directory:
            if runtime == "onnx":
                # The tokenizer and the quantised graph only: no PyTorch weights.
                encoder.tokenizer.save_pretrained(str(directory))
                self._export_onnx(encoder, Path(directory) / ONNX_FILE)
            else:
                encoder.save(str(directory))
            settings = {
                "lowercase": encoder.lowercase,
                "max_length": encoder.max_length,
                "source": self._config["model"],
                "runtime": runtime,
                "onnx_keep_float": self._config["onnx_keep_float"] if runtime == "onnx"
                else None,
                "fine_tuned": asdict(report) if report else None,
            }
            (Path(directory) / SETTINGS_FILE).write_text(json.dumps(settings))
        return self._resource

    def _export_onnx(self, encoder: BertEncoder, target: Path) -> None:
        began = time.perf_counter()
        try:
            export_quantized(encoder, target, self._config["onnx_keep_float"])
        except EncoderLoadError as e:
            raise InvalidConfigException(f"{self.__class__.__name__}: {e}") from e
        logger.info(f"Exported the encoder to ONNX and quantised it to INT8 "
                    f"(float32 kept: {self._config['onnx_keep_float']}) "
                    f"({target.stat().st_size / 1e6:.0f} MB) in "
                    f"{time.perf_counter() - began:.0f}s.")

    def _fine_tune(self, training_data: TrainingData) -> Optional[TuningReport]:
        """Fine-tunes the encoder on the training data's intents and entities."""
        examples = []
        for message in training_data.intent_examples:
            tokens = message.get(TOKENS_NAMES[TEXT])
            if not tokens:
                continue
            words = [t.text for t in tokens]
            if self._piece_count(words) > self.encoder.max_length - 2:
                self._reject_long_example(message.get(TEXT))
            examples.append(
                TuningExample(words, message.get(INTENT),
                              entity_tags(tokens, message.get(ENTITIES) or []))
            )
        options = TuningOptions(
            epochs=self._config["fine_tune_epochs"],
            learning_rate=float(self._config["fine_tune_learning_rate"]),
            head_learning_rate=float(self._config["fine_tune_head_learning_rate"]),
            batch_size=self._config["fine_tune_batch_size"],
            entities=self._config["fine_tune_entities"],
            seed=self._config["random_seed"],
        )
        use_threads(self._config["num_threads"])
        from rasa.shared.utils.io import is_logging_disabled
        from tqdm import tqdm

        with tqdm(desc="Fine-tuning the encoder", unit="batch",
                  disable=is_logging_disabled()) as bar:

            def progress(epoch: int, epochs: int, batch: int, batches: int,
                         loss: float) -> None:
                bar.total = epochs * batches
                bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{loss:.3f}",
                                refresh=False)
                bar.update(1)

            report = fine_tune(self._trainable_encoder(), examples, options, progress)
        if report:
            logger.info(
                f"Fine-tuned the encoder on {report.examples} examples "
                f"({report.intents} intents, {report.entity_types} entity types) in "
                f"{report.seconds:.0f}s: loss {report.first_epoch_loss:.3f} → "
                f"{report.last_epoch_loss:.3f}."
            )
        return report

    def _piece_count(self, words: List[Text]) -> int:
        return sum(len(p) for p in self.encoder.word_piece_ids(words))

    def _reject_long_example(self, text: Text) -> None:
        raise InvalidConfigException(
            f"{self.__class__.__name__}: training example '{text[:40]}...' "
            f"({len(text)} characters) is longer than the encoder's limit of "
            f"{self.encoder.max_length} word pieces. Shorten it or raise 'max_length'."
        )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BertFeaturizer:
        """Loads the encoder that `train` stored in the model: the PyTorch weights, or
        with `runtime: onnx` an ONNX Runtime session on the quantised graph."""
        try:
            with model_storage.read_from(resource) as directory:
                settings = json.loads((Path(directory) / SETTINGS_FILE).read_text())
                stored = settings.get("runtime", "torch")
                if stored != config["runtime"]:
                    raise ValueError(f"it was trained with runtime '{stored}', the "
                                     f"config says '{config['runtime']}'")
                encoder: WordPieceEncoder
                if stored == "onnx":
                    encoder = OnnxEncoder.from_files(
                        Path(directory) / ONNX_FILE,
                        str(directory),
                        lowercase=settings["lowercase"],
                        max_length=settings["max_length"],
                        threads=config["inference_threads"],
                        sentence_pooling=config["sentence_pooling"],
                        token_pooling=config["token_pooling"],
                    )
                else:
                    encoder = BertEncoder.from_directory(
                        str(directory),
                        lowercase=settings["lowercase"],
                        max_length=settings["max_length"],
                        sentence_pooling=config["sentence_pooling"],
                        token_pooling=config["token_pooling"],
                    )
        except (EncoderLoadError, ValueError, FileNotFoundError, KeyError) as e:
            raise InvalidConfigException(
                f"{cls.__name__}: the trained model holds no usable encoder "
                f"(resource '{resource.name}'): {e}. Retrain the model."
            ) from e
        return cls(config, model_storage, resource, execution_context, encoder)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes all training examples in batches of `batch_size` (one at a
        time with `runtime: onnx`).

        Raises:
            InvalidConfigException: if an example is longer than the encoder allows.
        """
        began = time.perf_counter()
        batch_size = self._config["batch_size"]
        if isinstance(self.encoder, OnnxEncoder):
            # One message at a time, as messages are served: dynamic quantisation
            # scales each activation tensor by its own range, so a message padded in
            # a batch gets slightly different features (up to 2e-4 here), and DIET
            # must learn on exactly the features it will be given.
            batch_size = 1
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            examples = [
                m
                for m in training_data.training_examples
                if m.get(attribute) and m.get(TOKENS_NAMES[attribute]) is not None
            ]
            for start in range(0, len(examples), batch_size):
                batch = examples[start : start + batch_size]
                self._featurize(batch, attribute, training=True)
        logger.info(f"Featurized {len(training_data.training_examples)} training "
                    f"examples in {time.perf_counter() - began:.0f}s.")
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Featurizes messages at inference; over-long text is truncated. The time
        per message goes to Rasa's `/metrics` (`assistant_nlu_encode_seconds`)."""
        for message in messages:
            started = time.perf_counter()
            for attribute in (TEXT, ACTION_TEXT):
                tokens = message.get(TOKENS_NAMES[attribute])
                if message.get(attribute) and tokens is not None:
                    self._featurize([message], attribute, training=False)
            shared_recorder("rasa").observe("assistant_nlu_encode_seconds",
                                            time.perf_counter() - started,
                                            runtime=self._config["runtime"])
        return messages

    def _featurize(
        self, messages: List[Message], attribute: Text, training: bool
    ) -> None:
        if isinstance(self.encoder, BertEncoder):  # an ONNX session has its own
            use_threads(self._config["num_threads" if training else "inference_threads"])
        words = [[t.text for t in m.get(TOKENS_NAMES[attribute])] for m in messages]
        encoded = self.encoder.encode(words)
        for message, sentence, sequence, cut in zip(
            messages, encoded.sentence, encoded.sequence, encoded.truncated, strict=True
        ):
            if cut:
                text = message.get(attribute)
                if training:
                    self._reject_long_example(text)
                logger.warning(
                    f"'{text[:40]}...' ({len(text)} characters) is longer than the "
                    f"encoder's limit of {self.encoder.max_length} word pieces; "
                    f"tokens past the limit get zero features."
                )
            self.add_features_to_message(sequence, sentence, attribute, message)


def entity_tags(tokens: List[Any], entities: List[Dict[Text, Any]]) -> List[Text]:
    """The entity type of each token (`NO_ENTITY` outside entities).

    Args:
        tokens: Rasa tokens with character offsets.
        entities: the message's entity annotations (`start`, `end`, `entity`).

    Returns:
        One tag per token; a token overlapping an entity's span takes its type.
    """
    tags = []
    for token in tokens:
        tag = NO_ENTITY
        for entity in entities:
            if token.start < entity["end"] and token.end > entity["start"]:
                tag = entity["entity"]
                break
        tags.append(tag)
    return tags
