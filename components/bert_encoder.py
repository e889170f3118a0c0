"""A BERT-family encoder that turns pre-tokenized words into aligned vectors.

The encoder is the part of the featurizer that knows about PyTorch and Hugging Face
transformers; `bert_featurizer.BertFeaturizer` wraps it as a Rasa graph component.
It never downloads anything: it loads a local model directory only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Text, Tuple

import numpy as np

from assistant.encoders import (  # noqa: F401  (re-exported for callers)
    PACKAGED_ENCODERS,
    EncoderLoadError,
    check_model_dir,
    resolve_model,
    vocab_is_lower_case,
)

logger = logging.getLogger(__name__)

SENTENCE_POOLINGS = ("mean", "cls")
TOKEN_POOLINGS = ("mean", "first")


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
            lowercase = not tokenizer_lowercases and vocab_is_lower_case(
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
