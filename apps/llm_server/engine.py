"""The model behind the LLM server: llama.cpp in this process, through xllamacpp.

`Engine` is the seam the HTTP app talks to; `LlamaEngine` is llama.cpp's server
loop (xllamacpp's prebuilt wheel: nothing compiled here). Its own HTTP listener,
which xllamacpp always opens, is a Unix socket in a private folder (mode 0700),
behind a random key that is never shared: no TCP port at all (a random loopback
port could take one another service was about to bind), and requests arrive
through `apps.llm_server.app`.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Protocol, Text

from bilingual_assistant.llm.plain_format import (
    PLAIN_CHAT_FORMAT,
    chat_as_completion,
    completion_as_chat,
)

Result = Dict[Text, Any]
OnChunk = Callable[[Result], None]

# The name the action server asks for (`LLM_MODEL`'s default).
MODEL_ALIAS = "local"
CONTEXT_TOKENS = 2048
# llama.cpp keeps finished prompts in RAM for reuse, 8 GiB by default; the
# grounded prompts here share little beyond the system prompt.
PROMPT_CACHE_MIB = 256
# llama.cpp's log levels: 1 errors, 2 warnings, 3 information (a line per request).
LOG_VERBOSITY = 2


class Engine(Protocol):
    """Runs OpenAI-shaped requests. Blocking: call from a worker thread.

    Each method returns the response body, or `{"error": {"code", "message",
    "type"}}`; streaming calls `on_chunk` for every chunk and returns None.
    Raises ValueError for a request the model cannot read.
    """

    def chat(self, request: Result, on_chunk: Optional[OnChunk] = None) -> Optional[Result]:
        ...

    def complete(self, request: Result,
                 on_chunk: Optional[OnChunk] = None) -> Optional[Result]:
        ...


class LlamaEngine:
    """llama.cpp serving one GGUF file as `MODEL_ALIAS`."""

    def __init__(self, model: Path, threads: int, chat_format: Optional[Text] = None,
                 server: Any = None) -> None:
        """Loads the model (a few seconds).

        Args:
            model: the GGUF file.
            threads: CPU threads for prompt processing and generation.
            chat_format: `plain` for a base model; None uses the file's template.
            server: an xllamacpp `Server` already made (tests); one is made otherwise.
        """
        self.plain = chat_format == PLAIN_CHAT_FORMAT
        if server is None:
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(model)
            params.model_alias = {MODEL_ALIAS}
            params.n_ctx = CONTEXT_TOKENS
            params.n_parallel = 1
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            params.cache_ram_mib = PROMPT_CACHE_MIB
            params.verbosity = LOG_VERBOSITY
            private = tempfile.mkdtemp(prefix="llm-")  # 0700: this user only
            atexit.register(shutil.rmtree, private, True)
            params.hostnames = [str(Path(private) / "llama.sock")]
            params.port = 0
            params.api_keys = [secrets.token_urlsafe(32)]
            params.ui = False
            params.endpoint_slots = False
            params.endpoint_metrics = False
            params.endpoint_props = False
            server = xllamacpp.Server(params)
        self.server = server

    def chat(self, request: Result, on_chunk: Optional[OnChunk] = None) -> Optional[Result]:
        """A chat completion (`POST /v1/chat/completions`)."""
        if not self.plain:
            return self._call(self.server.handle_chat_completions, request, on_chunk)
        streamed = on_chunk is not None
        converted = None if on_chunk is None else (
            lambda chunk: on_chunk(completion_as_chat(chunk, streamed=True)))
        result = self._call(self.server.handle_completions, chat_as_completion(request),
                            converted)
        return None if result is None else completion_as_chat(result, streamed=streamed)

    def complete(self, request: Result,
                 on_chunk: Optional[OnChunk] = None) -> Optional[Result]:
        """A text completion (`POST /v1/completions`)."""
        return self._call(self.server.handle_completions, request, on_chunk)

    @staticmethod
    def _call(handler: Any, request: Result, on_chunk: Optional[OnChunk]) -> Optional[Result]:
        body = {**request, "model": MODEL_ALIAS}
        if on_chunk is None:
            body["stream"] = False
            return handler(body)
        body["stream"] = True
        handler(body, on_chunk)
        return None
