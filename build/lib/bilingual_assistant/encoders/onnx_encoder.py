"""The encoder on ONNX Runtime: export a (fine-tuned) `BertEncoder` to ONNX, quantise
its weights to INT8, and encode words with the quantised copy.

`export_quantized` runs where the model is trained (it needs PyTorch, `onnx` and
ONNX Runtime's quantisation tools); `OnnxEncoder` needs only ONNX Runtime and the
tokenizer, and produces features of the same shapes and pooling as `BertEncoder`
(it shares its input preparation and pooling, `WordPieceEncoder`).

The exported graph takes `input_ids` and `attention_mask` (int64, batch × pieces,
both axes dynamic) and returns the last hidden state (batch × pieces × hidden);
pooling into word and sentence vectors stays outside the graph, in numpy, with the
same weights the PyTorch path uses.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Sequence, Text

import numpy as np

from bilingual_assistant.encoders.torch_encoder import (
    BertEncoder,
    EncodedBatch,
    WordPieceEncoder,
)
from bilingual_assistant.errors import EncoderLoadError

logger = logging.getLogger(__name__)

ONNX_FILE = "encoder.int8.onnx"
OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "last_hidden_state"
# What `export_quantized` can leave in float32 (`BertFeaturizer`'s `onnx_keep_float`).
KEEP_FLOAT = ("none", "ffn_output")


def ffn_output_matmuls(model: Any) -> List[Text]:
    """The names of a BERT-like graph's feed-forward output MatMuls (the down-projection
    of every layer, intermediate size → hidden size).

    Found by shape, not by name, so that it does not depend on how the exporter names
    a model's modules: a MatMul whose second input is a constant weight matrix of
    shape (intermediate, hidden) with intermediate > hidden, hidden being the width of
    the graph's output. In a BERT (or XLM-R) encoder only the feed-forward output has
    more rows than columns (queries, keys, values and the attention output are square,
    the feed-forward input widens).

    Args:
        model: an `onnx.ModelProto` (the float32 export).

    Returns:
        The node names, in graph order.
    """
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    [output] = model.graph.output
    hidden = output.type.tensor_type.shape.dim[-1].dim_value
    names = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or len(node.input) != 2:
            continue
        shape = weights.get(node.input[1])
        if shape and len(shape) == 2 and shape[1] == hidden and shape[0] > hidden:
            names.append(node.name)
    return names


def export_quantized(encoder: BertEncoder, target: Path, keep_float: Text = "none") -> Path:
    """Exports the encoder's model to ONNX and writes its INT8 dynamic quantisation.

    The float32 graph (TorchScript exporter, opset 17, dynamic batch and sequence
    axes) goes to a temporary folder; `onnxruntime.quantization.quantize_dynamic`
    turns every MatMul's and the embeddings' (Gather) weights into int8, one scale
    per output channel; activations are quantised on the fly at run time.
    Per channel, measured on multilingual-e5-small (30 project-like messages, mean
    pooled): cosine to PyTorch's sentence vector 0.997 mean, 0.995 lowest; one
    scale per tensor gave 0.990 and 0.988, at the same speed and size.

    With `keep_float="ffn_output"` the feed-forward output MatMuls (one per layer,
    `ffn_output_matmuls`) keep their float32 weights (`quantize_dynamic`'s
    `nodes_to_exclude`): measured on the SMP-ECDT-tuned multilingual-e5-small, sentence
    vectors' cosine to PyTorch's 0.998 mean / 0.989 1st percentile instead of 0.994 /
    0.971, for a 139 MB file instead of 118 and a slower forward pass (see the
    docs/benchmarks/nlu.md's ONNX section).

    Args:
        encoder: the (fine-tuned) encoder; left unchanged, in evaluation mode.
        target: the quantised model file to write.
        keep_float: `none` (every MatMul in INT8) or `ffn_output` (see above).

    Returns:
        `target`.

    Raises:
        EncoderLoadError: if `onnx` or ONNX Runtime is missing, the export fails, or
            `keep_float` is unknown or finds no node to keep.
    """
    import torch

    if keep_float not in KEEP_FLOAT:
        raise EncoderLoadError(f"unknown keep_float {keep_float!r}: one of {KEEP_FLOAT}")

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:
        raise EncoderLoadError(
            "runtime 'onnx' needs onnxruntime and onnx in Rasa's environment "
            "(requirements.txt pins them): pip install onnxruntime onnx."
        ) from error

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              return_dict=False)[0]

    # The wrapper must be in evaluation mode too: the exporter puts the module it
    # exports back in that module's own mode afterwards, recursively, and a new
    # module is in training mode (the encoder would then run with dropout on).
    wrapper = LastHiddenState(encoder.model.eval()).eval()
    example = encoder.prepare([["hello", "world"], ["明天", "北京", "天气"]])
    inputs = (torch.from_numpy(example.input_ids), torch.from_numpy(example.attention))
    axes = {"input_ids": {0: "batch", 1: "pieces"},
            "attention_mask": {0: "batch", 1: "pieces"},
            OUTPUT: {0: "batch", 1: "pieces"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "encoder.fp32.onnx"
        try:
            with torch.inference_mode():
                torch.onnx.export(
                    wrapper, inputs, str(plain),
                    input_names=list(INPUTS), output_names=[OUTPUT],
                    dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True,
                    dynamo=False,
                )
            excluded = float_nodes(plain, keep_float)
            quantize_dynamic(str(plain), str(target), weight_type=QuantType.QInt8,
                             per_channel=True, nodes_to_exclude=excluded)
        except EncoderLoadError:
            raise
        except Exception as e:  # the exporter and the quantiser raise many types
            raise EncoderLoadError(f"Exporting the encoder to ONNX failed: {e}") from e
        finally:
            encoder.model.eval()
    return target


def float_nodes(plain: Path, keep_float: Text) -> List[Text]:
    """The nodes of the float32 export at `plain` to leave out of quantisation."""
    if keep_float == "none":
        return []
    import onnx

    model = onnx.load(str(plain), load_external_data=False)
    matmuls = sum(1 for n in model.graph.node if n.op_type == "MatMul")
    nodes = ffn_output_matmuls(model)
    if not nodes:
        raise EncoderLoadError(
            f"keep_float {keep_float!r}: no feed-forward output MatMul found among the "
            f"exported graph's {matmuls} MatMuls; use 'none' for this encoder.")
    logger.info(f"Keeping {len(nodes)} feed-forward output MatMuls in float32.")
    return nodes


class OnnxEncoder(WordPieceEncoder):
    """Encodes words with an exported, INT8-quantised encoder on ONNX Runtime."""

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        lowercase: bool,
        max_length: int,
        dim: int,
        sentence_pooling: Text = "mean",
        token_pooling: Text = "mean",
    ) -> None:
        """Wraps an open `onnxruntime.InferenceSession`; use `from_files` to open one."""
        super().__init__(tokenizer, lowercase, max_length, dim, sentence_pooling,
                         token_pooling)
        self.session = session

    @classmethod
    def from_files(
        cls,
        onnx_file: Path,
        tokenizer_dir: Text,
        lowercase: bool,
        max_length: int,
        threads: Optional[int] = 1,
        sentence_pooling: Text = "mean",
        token_pooling: Text = "mean",
    ) -> OnnxEncoder:
        """Opens the quantised model on the CPU.

        Args:
            onnx_file: the file `export_quantized` wrote.
            tokenizer_dir: the folder holding the model's tokenizer files.
            lowercase: as the model was trained.
            max_length: as the model was trained.
            threads: ONNX Runtime's intra-op threads (None: its default, one per
                core); one inter-op thread, operators run in sequence.
            sentence_pooling, token_pooling: see `WordPieceEncoder`.

        Raises:
            EncoderLoadError: if ONNX Runtime is missing or the file cannot be opened.
        """
        try:
            import onnxruntime as ort
            from transformers import AutoTokenizer
        except ImportError as error:
            raise EncoderLoadError(
                "runtime 'onnx' needs onnxruntime and transformers (for the tokenizer): "
                "pip install onnxruntime transformers."
            ) from error
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(str(onnx_file), options,
                                           providers=["CPUExecutionProvider"])
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True,
                                                      use_fast=True)
        except Exception as e:  # onnxruntime raises its own unrelated types
            raise EncoderLoadError(
                f"Could not open the ONNX encoder '{onnx_file}': {e}") from e
        [output] = session.get_outputs()
        dim = output.shape[-1]
        if not isinstance(dim, int):
            raise EncoderLoadError(f"'{onnx_file}' does not say its hidden size.")
        return cls(session, tokenizer, lowercase, max_length, dim, sentence_pooling,
                   token_pooling)

    def encode(self, batch: Sequence[Sequence[Text]]) -> EncodedBatch:
        """Runs one forward pass over pre-tokenized texts (see `BertEncoder.encode`)."""
        prepared = self.prepare(batch)
        [hidden] = self.session.run(
            [OUTPUT], {"input_ids": prepared.input_ids,
                       "attention_mask": prepared.attention})
        hidden = hidden.astype(np.float32, copy=False)
        sentence = np.matmul(prepared.sentence_weights[:, None, :], hidden)[:, 0]
        words = np.matmul(prepared.word_weights, hidden)
        return self.pooled(sentence, words, prepared)
