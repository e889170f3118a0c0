"""PyTorch encoders: the one offline loader, `WordPieceEncoder` (what every runtime
shares: words to model inputs, model output to aligned vectors) and `BertEncoder`,
which runs the model with PyTorch (`onnx_encoder.OnnxEncoder` runs an exported,
quantised copy with ONNX Runtime).

`bilingual_assistant/components/bert_featurizer.BertFeaturizer` wraps `BertEncoder` as a Rasa graph
component; the knowledge store's `TransformerEmbedder` uses `load_local_model`.
Nothing is ever downloaded: only local model folders are loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Text, Tuple

import numpy as np

from bilingual_assistant.encoders.registry import check_model_dir, vocab_is_lower_case
from bilingual_assistant.errors import EncoderLoadError

logger = logging.getLogger(__name__)

SENTENCE_POOLINGS = ("mean", "cls")
TOKEN_POOLINGS = ("mean", "first")
SENTENCEPIECE_BOUNDARY = "\u2581"  # "▁"


def load_local_model(path: Text) -> Tuple[Any, Any]:
    """Loads a transformers encoder and its fast tokenizer from a local folder.

    Args:
        path: a folder with `config.json`, weights and a tokenizer.

    Returns:
        (model in evaluation mode, tokenizer).

    Raises:
        EncoderLoadError: if the folder is incomplete, transformers (or torch) is
            not installed, or the files cannot be loaded.
    """
    directory = check_model_dir(path)
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise EncoderLoadError(
            f"Loading the encoder in '{directory}' needs PyTorch and transformers, which "
            "this environment does not install: pip install torch==2.13.0 transformers."
        ) from error
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(directory), local_files_only=True, use_fast=True
        )
        model = AutoModel.from_pretrained(str(directory), local_files_only=True)
    except Exception as e:  # transformers raises many unrelated types
        raise EncoderLoadError(f"Could not load the encoder in '{directory}': {e}") from e
    if not tokenizer.is_fast:
        raise EncoderLoadError(
            f"The tokenizer in '{directory}' has no fast (Rust) version; "
            f"add a tokenizer.json or vocab.txt for a BERT WordPiece tokenizer."
        )
    return model.eval(), tokenizer


def lowercases(tokenizer: Any) -> bool:
    """Whether text must be lower-cased before this tokenizer: its vocabulary is
    lower-case but it does not lower-case itself (m3e-small's quirk)."""
    if getattr(tokenizer, "do_lower_case", False):
        return False
    return vocab_is_lower_case(tokenizer.get_vocab())


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


@dataclass
class PreparedBatch:
    """Model inputs for a batch of pre-tokenized texts.

    Attributes (numpy arrays):
        input_ids: word-piece ids with [CLS] and [SEP], padded (texts, pieces), int64.
        attention: 1 for real pieces, 0 for padding (texts, pieces), int64.
        word_weights: pools pieces into words (texts, words, pieces), float32.
        sentence_weights: pools pieces into the sentence vector (texts, pieces),
            float32.
        word_counts: the number of words of each text.
        truncated: for each text, True if it was cut to the model's maximum length.
    """

    input_ids: Any
    attention: Any
    word_weights: Any
    sentence_weights: Any
    word_counts: List[int]
    truncated: List[bool]


class WordPieceEncoder:
    """What every runtime shares: words to word pieces, pieces to model inputs and
    pooling weights, and the pooling of the model's output into word and sentence
    vectors. `BertEncoder` runs the model with PyTorch; `onnx_encoder.OnnxEncoder`
    with ONNX Runtime."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,  # type: ignore[name-defined] # noqa: F821
        lowercase: bool,
        max_length: int,
        dim: int,
        sentence_pooling: Text = "mean",
        token_pooling: Text = "mean",
    ) -> None:
        """Args:
            tokenizer: the model's fast tokenizer.
            lowercase: lower-case text before tokenizing (for lower-case vocabularies
                whose tokenizer does not do it itself).
            max_length: maximum number of word pieces per text, special tokens
                included.
            dim: the model's hidden size.
            sentence_pooling: `mean` over word pieces or the `cls` vector.
            token_pooling: how the pieces of one word become its vector.
        """
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.max_length = max_length
        self.dim = dim
        self.sentence_pooling = sentence_pooling
        self.token_pooling = token_pooling
        boundary = tokenizer.convert_tokens_to_ids(SENTENCEPIECE_BOUNDARY)
        self._boundary_id = None if boundary == tokenizer.unk_token_id else boundary

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
        # SentencePiece (XLM-R) marks each word's start; a Chinese word then gets
        # a piece of its own, "▁", that it never has inside a sentence: drop it.
        boundary = self._boundary_id
        return [
            ids[1:] if len(ids) > 1 and ids[0] == boundary else ids if ids else [unk]
            for ids in pieces
        ]

    def prepare(self, batch: Sequence[Sequence[Text]]) -> PreparedBatch:
        """Turns pre-tokenized texts into model inputs and pooling weights.

        Args:
            batch: for each text, its words (as the Rasa tokenizer split them).

        Returns:
            Padded word-piece ids, the attention mask and the weights that pool
            word pieces into words and into the sentence, as numpy arrays (no
            torch: the ONNX runtime uses them too).
        """
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
        most_words = max((len(s) for s in spans), default=0)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = np.full((len(rows), width), pad, dtype=np.int64)
        attention = np.zeros((len(rows), width), dtype=np.int64)
        word_weights = np.zeros((len(rows), most_words, width), dtype=np.float32)
        sentence_weights = np.zeros((len(rows), width), dtype=np.float32)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = r
            attention[i, : len(r)] = 1
            if self.sentence_pooling == "cls":
                sentence_weights[i, 0] = 1.0
            else:
                sentence_weights[i, : len(r)] = 1.0 / len(r)
            for w, (start, end) in enumerate(spans[i]):
                # +1 skips [CLS]; pieces past the budget were cut off
                start, end = start + 1, min(end, budget) + 1
                if start >= end:
                    continue  # the word was cut off: a zero vector
                if self.token_pooling == "first":
                    word_weights[i, w, start] = 1.0
                else:
                    word_weights[i, w, start:end] = 1.0 / (end - start)
        word_counts = [len(s) for s in spans]
        return PreparedBatch(
            input_ids, attention, word_weights, sentence_weights, word_counts, truncated
        )

    def encode(self, batch: Sequence[Sequence[Text]]) -> EncodedBatch:
        """Sentence and per-word features of pre-tokenized texts (one forward pass)."""
        raise NotImplementedError

    @staticmethod
    def pooled(
        sentence: np.ndarray, words: np.ndarray, prepared: PreparedBatch
    ) -> EncodedBatch:
        """Splits pooled batch arrays into each text's features.

        Args:
            sentence: sentence vectors (texts, dim).
            words: word vectors (texts, words, dim).
            prepared: the batch they were computed from.
        """
        return EncodedBatch(
            [sentence[i : i + 1].copy() for i in range(len(prepared.word_counts))],
            [words[i, :count].copy() for i, count in enumerate(prepared.word_counts)],
            prepared.truncated,
        )


class BertEncoder(WordPieceEncoder):
    """Encodes words with a local BERT-family model (PyTorch), one vector per word."""

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
            lowercase, max_length, sentence_pooling, token_pooling: see
                `WordPieceEncoder`.
        """
        super().__init__(tokenizer, lowercase, max_length, int(model.config.hidden_size),
                         sentence_pooling, token_pooling)
        self.model = model

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
        model, tokenizer = load_local_model(path)
        if lowercase is None:
            lowercase = lowercases(tokenizer)
        model_limit = int(getattr(model.config, "max_position_embeddings", 512))
        if max_length is None or max_length > model_limit:
            max_length = model_limit
        return cls(
            model, tokenizer, lowercase, max_length, sentence_pooling, token_pooling
        )

    def save(self, path: Text) -> None:
        """Writes the model (float16 safetensors) and its tokenizer to `path`.

        float16 halves the trained model (multilingual-e5-small: 470 → 235 MB). The
        weights in memory are rounded the same way, so features computed after
        saving are those the saved model computes when loaded (as float32).
        """
        self.model.half()
        try:
            self.model.save_pretrained(path, safe_serialization=True)
        finally:
            self.model.float()
        self.tokenizer.save_pretrained(path)

    def forward(
        self, prepared: PreparedBatch
    ) -> Tuple[torch.Tensor, torch.Tensor]:  # type: ignore[name-defined] # noqa: F821
        """Runs the model; differentiable, so fine-tuning uses it too.

        Args:
            prepared: the output of `prepare`.

        Returns:
            Sentence vectors (texts, dim) and word vectors (texts, words, dim);
            rows past a text's last word are zero.
        """
        import torch

        hidden = self.model(
            input_ids=torch.from_numpy(prepared.input_ids),
            attention_mask=torch.from_numpy(prepared.attention),
        )[0]
        sentence_weights = torch.from_numpy(prepared.sentence_weights)
        sentence = torch.bmm(sentence_weights.unsqueeze(1), hidden).squeeze(1)
        words = torch.bmm(torch.from_numpy(prepared.word_weights), hidden)
        return sentence, words

    def encode(self, batch: Sequence[Sequence[Text]]) -> EncodedBatch:
        """Runs one forward pass, without gradients, over pre-tokenized texts.

        Args:
            batch: for each text, its words (as the Rasa tokenizer split them).

        Returns:
            Sentence and per-word features; words beyond the model's maximum length
            get zero vectors and the text is flagged as truncated.
        """
        import torch

        prepared = self.prepare(batch)
        with torch.inference_mode():
            sentence, words = self.forward(prepared)
        return self.pooled(sentence.float().numpy(), words.float().numpy(), prepared)
