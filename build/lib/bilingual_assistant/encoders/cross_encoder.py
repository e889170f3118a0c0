"""A cross-encoder "verifier": reads a question and a candidate sentence together and
scores whether the sentence answers the question (issue #25 item 4).

A bi-encoder (the sentence ranking of `bilingual_assistant.answers.extractive`) embeds the
question and each sentence apart and compares the vectors, so "医生证明要交给谁?"
looks as close to "短期病假不需要医生证明。" as to the sentence saying where the
certificate goes. A cross-encoder attends across both texts at once: the encoder
(multilingual-e5-small, fine-tuned) reads `query: <question>` and
`passage: <sentence>` as one pair of word-piece sequences, its output is pooled
(mean over the pair's pieces, or the first piece) and a linear head gives one
logit; the probability is its sigmoid.

Two halves with different needs:

- `train_cross_encoder` (PyTorch and transformers, imported inside the function):
  fine-tunes the encoder and the head on labelled pairs (binary cross-entropy,
  AdamW, a fixed seed), saves the PyTorch copy, and exports an INT8 ONNX graph
  (dynamic quantisation, as `onnx_encoder.export_quantized`), the tokenizer's
  `tokenizer.json` and a small settings file into one folder.
- `OnnxCrossEncoder` needs only ONNX Runtime, numpy and the `tokenizers` library
  (no torch, no transformers): what the action server can run.

`TorchCrossEncoder` scores with the PyTorch copy (for measuring the ONNX copy
against it). All three turn pairs into model inputs with `encode_pairs`, so the
word pieces are the same whichever runs.

The folder (`VerifierFiles`):
    verifier.int8.onnx   inputs `input_ids`, `attention_mask` (int64, batch × pieces,
                         both axes dynamic); output `logits` (float32, batch)
    tokenizer.json       the base encoder's fast tokenizer
    verifier.json        `VerifierSettings` and the training report
    torch/               the fine-tuned encoder (transformers folder) and `head.pt`
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np

from bilingual_assistant.errors import EncoderLoadError

logger = logging.getLogger(__name__)

ONNX_FILE = "verifier.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
SETTINGS_FILE = "verifier.json"
TORCH_DIR = "torch"
HEAD_FILE = "head.pt"
FORMAT = 1  # of `SETTINGS_FILE`; raise it when the folder's layout changes
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "logits"
POOLINGS = ("mean", "first")
KEEP_FLOAT = ("none", "ffn_output")
# e5's instructions: questions as "query: ", texts to find as "passage: ".
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# What installs the ONNX half into an environment without torch.
RUNTIME_REQUIREMENT = "onnxruntime==1.31.1 tokenizers"
FIX = "train it with `python -m apps.cli.verifier --out <folder>` (Rasa's environment)"


@dataclass(frozen=True)
class Pair:
    """A labelled training pair: 1.0 when the sentence answers the question."""

    question: Text
    sentence: Text
    label: float


@dataclass(frozen=True)
class VerifierSettings:
    """How pairs become model inputs, stored with the model (`SETTINGS_FILE`).

    Attributes:
        max_length: word pieces per pair, special pieces included; the longer of the
            two texts is cut first (the question rarely is).
        query_prefix: put before the question ("" for none).
        passage_prefix: put before the sentence ("" for none).
        lowercase: lower-case both texts first (for a lower-case vocabulary whose
            tokenizer does not do it itself, `torch_encoder.lowercases`).
        pad_id: the padding piece's id.
        pooling: `mean` over the pair's pieces or the `first` piece's vector.
    """

    max_length: int = 160
    query_prefix: Text = QUERY_PREFIX
    passage_prefix: Text = PASSAGE_PREFIX
    lowercase: bool = False
    pad_id: int = 0
    pooling: Text = "mean"


@dataclass
class TrainingOptions:
    """How to fine-tune (see `train_cross_encoder`)."""

    epochs: int = 1
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    batch_size: int = 16
    max_length: int = 160
    prefixes: bool = True
    pooling: Text = "mean"
    warmup_fraction: float = 0.1
    frozen_layers: int = 0  # the lowest encoder layers left as pre-trained
    keep_float: Text = "none"  # or `ffn_output`, as `onnx_encoder.export_quantized`
    threads: int = 2
    seed: int = 42


@dataclass
class TrainingReport:
    """What a training run did, stored in `SETTINGS_FILE` for provenance."""

    pairs: int
    positives: int
    epochs: int
    batches_per_epoch: int
    epoch_seconds: List[float] = field(default_factory=list)
    epoch_losses: List[float] = field(default_factory=list)
    export_seconds: float = 0.0
    onnx_bytes: int = 0
    keep_float: Text = "none"
    frozen_layers: int = 0
    base_model: Text = ""


# Called after every batch: (epoch, epochs, batch, batches, mean loss so far).
Progress = Callable[[int, int, int, int, float], None]


def encode_pairs(tokenizer: Any, settings: VerifierSettings, question: Text,
                 sentences: Sequence[Text]) -> Tuple[np.ndarray, np.ndarray]:
    """The model inputs of (question, sentence) pairs, padded to the longest.

    Args:
        tokenizer: a `tokenizers.Tokenizer` prepared by `pair_tokenizer`.
        settings: prefixes, lower-casing and the padding id.
        question: asked once, paired with each sentence (first in each pair).
        sentences: the candidates.

    Returns:
        `input_ids` and `attention_mask`, int64 arrays of shape (sentences, pieces).
    """
    query = settings.query_prefix + question
    texts = [settings.passage_prefix + s for s in sentences]
    if settings.lowercase:
        query, texts = query.lower(), [t.lower() for t in texts]
    rows = [e.ids for e in tokenizer.encode_batch([(query, t) for t in texts])]
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), width), settings.pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def pair_tokenizer(path: Path, max_length: int) -> Any:
    """A `tokenizers.Tokenizer` from `tokenizer.json`, cutting pairs to `max_length`
    (the longer text first) and padding nothing (`encode_pairs` pads).

    Raises:
        EncoderLoadError: if `tokenizers` is missing or the file cannot be read.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError as error:
        raise EncoderLoadError(
            f"The verifier needs the `tokenizers` library: pip install "
            f"{RUNTIME_REQUIREMENT}.") from error
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as e:  # the Rust side raises plain Exceptions
        raise EncoderLoadError(f"Could not read the tokenizer '{path}': {e}") from e
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    return tokenizer


def probabilities(logits: np.ndarray) -> List[float]:
    """The sigmoid of each logit, without overflow for large magnitudes."""
    x = np.asarray(logits, dtype=np.float64).reshape(-1)
    return [float(v) for v in 0.5 * (1.0 + np.tanh(0.5 * x))]


def _read_settings(folder: Path) -> Tuple[VerifierSettings, Dict[Text, Any]]:
    """The folder's settings and the whole settings file."""
    try:
        stored = json.loads((folder / SETTINGS_FILE).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise EncoderLoadError(
            f"Could not read the verifier's settings '{folder / SETTINGS_FILE}': {e}; "
            f"{FIX}.") from e
    if stored.get("format") != FORMAT:
        raise EncoderLoadError(
            f"The verifier in '{folder}' has format {stored.get('format')!r}, this code "
            f"reads format {FORMAT}: {FIX}.")
    known = VerifierSettings.__dataclass_fields__
    return VerifierSettings(**{k: v for k, v in stored["settings"].items()
                               if k in known}), stored


def missing_files(folder: Path, torch_copy: bool = False) -> List[Text]:
    """The files of a verifier folder that are not there."""
    wanted = [ONNX_FILE, TOKENIZER_FILE, SETTINGS_FILE]
    if torch_copy:
        wanted = [TOKENIZER_FILE, SETTINGS_FILE, f"{TORCH_DIR}/config.json",
                  f"{TORCH_DIR}/{HEAD_FILE}"]
    return [name for name in wanted if not (folder / name).is_file()]


def _check_folder(folder: Path, torch_copy: bool = False) -> None:
    if not folder.is_dir():
        raise EncoderLoadError(f"The verifier folder '{folder}' does not exist: {FIX}.")
    missing = missing_files(folder, torch_copy)
    if missing:
        raise EncoderLoadError(
            f"The verifier folder '{folder}' is incomplete (missing "
            f"{', '.join(missing)}): {FIX}.")


class OnnxCrossEncoder:
    """Scores (question, sentence) pairs with the INT8 ONNX verifier.

    Needs only ONNX Runtime, numpy and `tokenizers`. Loads on first use; thread-safe
    (the session and the tokenizer are only read once loaded). Dynamic quantisation
    scales activations per batch, so a sentence's score moves slightly (about 1e-3
    on probabilities) with the sentences batched with it.
    """

    def __init__(self, folder: Path, threads: Optional[int] = 1, batch_size: int = 32) -> None:
        """Remembers what to load.

        Args:
            folder: what `train_cross_encoder` wrote.
            threads: ONNX Runtime's intra-op threads (None: one per core).
            batch_size: pairs per forward pass.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1.")
        self.folder = Path(folder).expanduser()
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._settings = VerifierSettings()

    @property
    def settings(self) -> VerifierSettings:
        """How pairs are encoded (loads the verifier)."""
        self._load()
        return self._settings

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            _check_folder(self.folder)
            settings, _ = _read_settings(self.folder)
            tokenizer = pair_tokenizer(self.folder / TOKENIZER_FILE, settings.max_length)
            try:
                import onnxruntime as ort
            except ImportError as error:
                raise EncoderLoadError(
                    f"The verifier needs ONNX Runtime: pip install {RUNTIME_REQUIREMENT}."
                ) from error
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or 0
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            path = self.folder / ONNX_FILE
            try:
                session = ort.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime raises its own unrelated types
                raise EncoderLoadError(
                    f"Could not open the verifier '{path}': {e}; {FIX}.") from e
            self._tokenizer, self._settings = tokenizer, settings
            self._session = session
            logger.info("verifier.loaded", extra={"folder": str(self.folder)})

    def logits(self, question: Text, sentences: Sequence[Text]) -> np.ndarray:
        """The head's logit for each sentence (float32, one per sentence)."""
        self._load()
        out = []
        for start in range(0, len(sentences), self.batch_size):
            ids, mask = encode_pairs(self._tokenizer, self._settings, question,
                                     sentences[start : start + self.batch_size])
            [logits] = self._session.run([OUTPUT], {"input_ids": ids,
                                                    "attention_mask": mask})
            out.append(np.asarray(logits, dtype=np.float32).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def scores(self, question: Text, sentences: Sequence[Text]) -> List[float]:
        """For each sentence, the probability that it answers the question."""
        if not sentences:
            return []
        return probabilities(self.logits(question, list(sentences)))


class TorchCrossEncoder:
    """Scores pairs with the PyTorch copy (`torch/` in the folder); thread-safe."""

    def __init__(self, folder: Path, threads: Optional[int] = None,
                 batch_size: int = 32) -> None:
        """Args:
        folder: what `train_cross_encoder` wrote.
        threads: torch's intra-op threads while scoring (None: leave as set).
        batch_size: pairs per forward pass.
        """
        self.folder = Path(folder).expanduser()
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._module: Any = None
        self._tokenizer: Any = None
        self._settings = VerifierSettings()

    def _load(self) -> None:
        with self._lock:
            if self._module is not None:
                return
            _check_folder(self.folder, torch_copy=True)
            import torch

            from bilingual_assistant.encoders.torch_encoder import load_local_model

            settings, _ = _read_settings(self.folder)
            encoder, _ = load_local_model(str(self.folder / TORCH_DIR))
            module = _scoring_module(encoder, settings.pooling)
            head = torch.load(str(self.folder / TORCH_DIR / HEAD_FILE), weights_only=True)
            module.head.load_state_dict(head)
            self._tokenizer = pair_tokenizer(self.folder / TOKENIZER_FILE,
                                             settings.max_length)
            self._settings = settings
            self._module = module.eval()

    def logits(self, question: Text, sentences: Sequence[Text]) -> np.ndarray:
        """The head's logit for each sentence."""
        import torch

        self._load()
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        out = []
        try:
            with torch.inference_mode():
                for start in range(0, len(sentences), self.batch_size):
                    ids, mask = encode_pairs(self._tokenizer, self._settings, question,
                                             sentences[start : start + self.batch_size])
                    logits = self._module(torch.from_numpy(ids), torch.from_numpy(mask))
                    out.append(logits.float().numpy().reshape(-1))
        finally:
            torch.set_num_threads(previous)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def scores(self, question: Text, sentences: Sequence[Text]) -> List[float]:
        """For each sentence, the probability that it answers the question."""
        if not sentences:
            return []
        return probabilities(self.logits(question, list(sentences)))


def reexport(folder: Path, keep_float: Text = "none") -> int:
    """Exports the folder's PyTorch copy to its ONNX file again (say with another
    `keep_float`) and records that in its settings.

    Returns:
        The ONNX file's size in bytes.

    Raises:
        EncoderLoadError: if the PyTorch copy is missing or the export fails.
    """
    folder = Path(folder).expanduser()
    scorer = TorchCrossEncoder(folder)
    scorer._load()
    hidden = int(scorer._module.encoder.config.hidden_size)
    export_onnx(scorer._module, scorer._tokenizer, scorer._settings, folder / ONNX_FILE,
                keep_float, hidden)
    _, stored = _read_settings(folder)
    size = (folder / ONNX_FILE).stat().st_size
    stored.setdefault("options", {})["keep_float"] = keep_float
    stored.setdefault("training", {}).update(keep_float=keep_float, onnx_bytes=size)
    (folder / SETTINGS_FILE).write_text(
        json.dumps(stored, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return size


def _scoring_module(encoder: Any, pooling: Text) -> Any:
    """The encoder with the pooling and a one-logit linear head, as one torch module
    taking `input_ids` and `attention_mask` and returning a logit per row."""
    import torch

    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}: one of {POOLINGS}")

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(int(encoder.config.hidden_size), 1)

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  return_dict=False)[0]
            if pooling == "first":
                pooled = hidden[:, 0]
            else:
                weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled)).squeeze(-1)

    return CrossEncoder()


def _batches(pairs: Sequence[Pair], lengths: Sequence[int], size: int,
             order: random.Random) -> List[List[int]]:
    """Indices of `pairs` in batches of similar length (less padding), in random order:
    shuffled, cut into chunks of 16 batches, each chunk sorted by length and cut."""
    indices = list(range(len(pairs)))
    order.shuffle(indices)
    chunk = size * 16
    batches = []
    for start in range(0, len(indices), chunk):
        part = sorted(indices[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[b : b + size] for b in range(0, len(part), size)]
    order.shuffle(batches)
    return batches


def train_cross_encoder(
    base_dir: Text,
    pairs: Sequence[Pair],
    out_dir: Path,
    epochs: int = 1,
    options: Optional[TrainingOptions] = None,
    progress: Optional[Progress] = None,
) -> TrainingReport:
    """Fine-tunes the encoder in `base_dir` with a one-logit head on labelled pairs and
    writes the verifier folder (see the module) into `out_dir`.

    The word-piece embedding table stays as pre-trained (as in
    `fine_tuning.fine_tune`: pieces the pairs never show keep consistent vectors, and
    its updates are the most expensive part of a step); with
    `options.frozen_layers`, so do the rest of the embeddings and that many of the
    lowest layers (the backward pass stops above them). Binary cross-entropy on the
    logit; AdamW, the head at its own (larger) rate since it starts from random
    weights; linear warm-up then linear decay; a fixed seed; `options.threads` torch
    threads.

    Args:
        base_dir: a local transformers encoder folder with a `tokenizer.json`.
        pairs: labelled pairs (label 1.0: the sentence answers the question).
        out_dir: the folder to write (created; files in it are replaced).
        epochs: passes over the pairs (overrides `options.epochs`).
        options: the rest of the settings.
        progress: optional callback after every batch.

    Returns:
        The report, also stored in `SETTINGS_FILE`.

    Raises:
        EncoderLoadError: if the base encoder cannot be loaded or the export fails.
        ValueError: if there are no pairs or only one label.
    """
    import torch

    from bilingual_assistant.encoders.registry import check_model_dir
    from bilingual_assistant.encoders.torch_encoder import load_local_model, lowercases

    options = replace(options or TrainingOptions(), epochs=epochs)
    if options.keep_float not in KEEP_FLOAT:
        raise ValueError(f"unknown keep_float {options.keep_float!r}: one of {KEEP_FLOAT}")
    labels = {p.label for p in pairs}
    if not pairs or len(labels) < 2:
        raise ValueError("training needs pairs with both labels (1.0 and 0.0).")
    base = check_model_dir(base_dir)
    if not (base / TOKENIZER_FILE).is_file():
        raise EncoderLoadError(f"The encoder folder '{base}' has no {TOKENIZER_FILE}: "
                               "the verifier reads pairs with the `tokenizers` library.")
    encoder, hf_tokenizer = load_local_model(str(base))
    pad_id = hf_tokenizer.pad_token_id
    settings = VerifierSettings(
        max_length=min(options.max_length,
                       int(getattr(encoder.config, "max_position_embeddings", 512))),
        query_prefix=QUERY_PREFIX if options.prefixes else "",
        passage_prefix=PASSAGE_PREFIX if options.prefixes else "",
        lowercase=lowercases(hf_tokenizer),
        pad_id=int(pad_id if pad_id is not None else 0),
        pooling=options.pooling,
    )
    tokenizer = pair_tokenizer(base / TOKENIZER_FILE, settings.max_length)

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    order = random.Random(options.seed)
    module = _scoring_module(encoder, settings.pooling)
    encoder.get_input_embeddings().weight.requires_grad_(False)
    if options.frozen_layers:
        # Nothing below the first trained layer needs gradients: no backward pass
        # through the frozen layers at all (the embeddings' norm included).
        getattr(encoder, "embeddings", encoder.get_input_embeddings()).requires_grad_(False)
        layers = getattr(getattr(encoder, "encoder", None), "layer", [])
        for layer in list(layers)[: options.frozen_layers]:
            layer.requires_grad_(False)
    encoder_parameters = [p for p in encoder.parameters() if p.requires_grad]
    head_parameters = list(module.head.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": encoder_parameters, "lr": options.learning_rate},
         {"params": head_parameters, "lr": options.head_learning_rate}],
        weight_decay=0.01)
    lengths = [len(settings.query_prefix + p.question) + len(p.sentence) for p in pairs]
    batches_per_epoch = math.ceil(len(pairs) / options.batch_size)
    total = batches_per_epoch * epochs
    warmup = max(1, int(total * options.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
    loss_function = torch.nn.BCEWithLogitsLoss()

    report = TrainingReport(pairs=len(pairs), positives=sum(p.label > 0.5 for p in pairs),
                            epochs=epochs, batches_per_epoch=batches_per_epoch,
                            keep_float=options.keep_float,
                            frozen_layers=options.frozen_layers, base_model=str(base))
    module.train()
    try:
        for epoch in range(epochs):
            started = time.perf_counter()
            running = 0.0
            for number, batch in enumerate(
                    _batches(pairs, lengths, options.batch_size, order), start=1):
                rows = [encode_pairs(tokenizer, settings, pairs[i].question,
                                     [pairs[i].sentence]) for i in batch]
                ids, mask = _stack(rows, settings.pad_id)
                target = torch.tensor([pairs[i].label for i in batch], dtype=torch.float32)
                logits = module(torch.from_numpy(ids), torch.from_numpy(mask))
                loss = loss_function(logits, target)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(encoder_parameters + head_parameters, 1.0)
                optimizer.step()
                scheduler.step()
                running += float(loss.detach())
                if progress is not None:
                    progress(epoch + 1, epochs, number, batches_per_epoch, running / number)
            report.epoch_seconds.append(round(time.perf_counter() - started, 1))
            report.epoch_losses.append(round(running / batches_per_epoch, 4))
            logger.info(f"Verifier epoch {epoch + 1}/{epochs}: loss "
                        f"{report.epoch_losses[-1]:.4f} in {report.epoch_seconds[-1]} s")
    finally:
        module.eval()
        module.zero_grad(set_to_none=True)
        encoder.requires_grad_(True)
        torch.set_num_threads(previous_threads)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch_dir = out_dir / TORCH_DIR
    encoder.save_pretrained(str(torch_dir))
    torch.save(module.head.state_dict(), str(torch_dir / HEAD_FILE))
    hf_tokenizer.save_pretrained(str(torch_dir))
    shutil.copyfile(base / TOKENIZER_FILE, out_dir / TOKENIZER_FILE)
    started = time.perf_counter()
    export_onnx(module, tokenizer, settings, out_dir / ONNX_FILE, options.keep_float,
                int(encoder.config.hidden_size))
    report.export_seconds = round(time.perf_counter() - started, 1)
    report.onnx_bytes = (out_dir / ONNX_FILE).stat().st_size
    (out_dir / SETTINGS_FILE).write_text(json.dumps(
        {"format": FORMAT, "settings": asdict(settings), "training": asdict(report),
         "options": asdict(options)}, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return report


def _stack(rows: Sequence[Tuple[np.ndarray, np.ndarray]],
           pad_id: int) -> Tuple[np.ndarray, np.ndarray]:
    """One padded batch from single-row `encode_pairs` results."""
    width = max(ids.shape[1] for ids, _ in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, (row_ids, row_mask) in enumerate(rows):
        ids[i, : row_ids.shape[1]] = row_ids[0]
        mask[i, : row_mask.shape[1]] = row_mask[0]
    return ids, mask


def ffn_output_matmuls(model: Any, hidden: int) -> List[Text]:
    """The feed-forward output MatMuls of a BERT-like graph whose hidden size is
    `hidden` (as `onnx_encoder.ffn_output_matmuls`, which reads the hidden size from
    the graph's output: here the output is one logit per row)."""
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    names = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or len(node.input) != 2:
            continue
        shape = weights.get(node.input[1])
        if shape and len(shape) == 2 and shape[1] == hidden and shape[0] > hidden:
            names.append(node.name)
    return names


def export_onnx(module: Any, tokenizer: Any, settings: VerifierSettings, target: Path,
                keep_float: Text = "none", hidden: int = 0) -> Path:
    """Exports the scoring module to ONNX and writes its INT8 dynamic quantisation.

    As `onnx_encoder.export_quantized`: TorchScript exporter, opset 17, dynamic batch
    and piece axes, then `quantize_dynamic` (int8 weights, one scale per output
    channel, activations quantised at run time); `keep_float="ffn_output"` leaves the
    feed-forward output MatMuls in float32.

    Raises:
        EncoderLoadError: if `onnx` or ONNX Runtime is missing or the export fails.
    """
    import torch

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:
        raise EncoderLoadError(
            "Exporting the verifier needs onnxruntime and onnx: pip install onnxruntime "
            "onnx.") from error

    module.eval()
    ids, mask = encode_pairs(tokenizer, settings, "明天北京天气怎么样?",
                             ["北京明天有雨。", "what is the weather in new york"])
    axes = {"input_ids": {0: "batch", 1: "pieces"},
            "attention_mask": {0: "batch", 1: "pieces"},
            OUTPUT: {0: "batch"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "verifier.fp32.onnx"
        try:
            with torch.inference_mode():
                torch.onnx.export(
                    module, (torch.from_numpy(ids), torch.from_numpy(mask)), str(plain),
                    input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=axes,
                    opset_version=OPSET, do_constant_folding=True, dynamo=False)
            excluded: List[Text] = []
            if keep_float == "ffn_output":
                import onnx

                excluded = ffn_output_matmuls(
                    onnx.load(str(plain), load_external_data=False), hidden)
                if not excluded:
                    raise EncoderLoadError("keep_float 'ffn_output': no feed-forward "
                                           "output MatMul found; use 'none'.")
            quantize_dynamic(str(plain), str(target), weight_type=QuantType.QInt8,
                             per_channel=True, nodes_to_exclude=excluded)
        except EncoderLoadError:
            raise
        except Exception as e:  # the exporter and the quantiser raise many types
            raise EncoderLoadError(f"Exporting the verifier to ONNX failed: {e}") from e
        finally:
            module.eval()
    return target
