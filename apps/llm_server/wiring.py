"""The LLM server's composition root: the model file, the engine and the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from apps.llm_server.app import create_app
from apps.llm_server.engine import Engine, LlamaEngine
from bilingual_assistant.config import LocalLLMSettings, PathSettings
from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.llm.local_models import MODELS, ensure_model


def model_file(local: LocalLLMSettings, paths: PathSettings,
               progress: Callable[[str], None]) -> Path:
    """The configured model's file, written from its packages on first use."""
    return ensure_model(local.model, local.file(paths), progress)


def build_app(local: LocalLLMSettings, model: Path, engine: Optional[Engine] = None) -> Any:
    """The HTTP app serving `model` (or `engine`), behind `LOCAL_LLM_API_KEY`.

    Raises:
        ConfigurationError: without an API key.
    """
    if not local.api_key.strip():
        raise ConfigurationError(
            "LOCAL_LLM_API_KEY is empty: the embedded LLM server does not run without a "
            "key. Set it, and LLM_API_KEY to the same value for the action server "
            "(`make run` and `make shell` make one)."
        )
    if engine is None:
        engine = LlamaEngine(model, local.threads, MODELS[local.model].chat_format)
    return create_app(engine, local.api_key)
