"""Every setting, declared once; the only module that reads the environment.

A setting is a field of one of the frozen dataclasses below, declared with
`setting(ENV_VARIABLE, default, doc)`. From that one declaration come:
- the default that library constructors use (`RetrievalSettings.top_k` is 4);
- `load(Section)` / `load_settings()`, which read the environment and raise a
  `ConfigurationError` naming the variable and what it accepts;
- the README's configuration table (`markdown_table()`, written by cog and checked
  by `make lint`).

Standard library only: the Rasa environment (pydantic 1) and the action server's
(pydantic 2) both import this module, so pydantic-settings cannot be used here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    MutableMapping,
    Optional,
    Text,
    Tuple,
    Type,
    TypeVar,
)

from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.text import LANGUAGES

logger = logging.getLogger(__name__)

S = TypeVar("S")
Parser = Callable[[Text], Any]

# Embedded models (`LOCAL_LLM`); their files are described in
# bilingual_assistant/llm/local_models.py.
LOCAL_MODELS = ("qwen2.5-coder-1.5b", "gemma3-270m")
# Embedded models whose Chinese answers are unreliable: answered extractively.
ENGLISH_ONLY_MODELS = ("gemma3-270m",)

# Variables of third-party libraries that every process of the project gets unless
# they are set: no telemetry, no downloads from a model hub, quiet TensorFlow.
PROCESS_DEFAULTS: Dict[Text, Text] = {
    "RASA_TELEMETRY_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    # Gradio (the web UI) would report usage and check for new versions online.
    "GRADIO_ANALYTICS_ENABLED": "False",
}


# --- value parsers: each raises ValueError with what the variable accepts ----------


def text(raw: Text) -> Text:
    """Any text."""
    return raw


def path(raw: Text) -> Text:
    """A file or folder path; `~` is expanded."""
    return str(Path(raw).expanduser())


def url(raw: Text) -> Text:
    """An http(s) URL without a trailing slash."""
    if not re.match(r"^https?://[^/\s]+", raw):
        raise ValueError(f"must be an http:// or https:// URL, got {raw!r}")
    return raw.rstrip("/")


def secret_of(minimum: int) -> Parser:
    """A secret of at least `minimum` characters (a one-letter token is guessed)."""

    def parse(raw: Text) -> Text:
        if len(raw.strip()) < minimum:
            raise ValueError(
                f"has {len(raw.strip())} characters; a secret needs at least {minimum}. "
                f"Make one with `python -c \"import secrets; "
                f"print(secrets.token_urlsafe(32))\"` (`make secrets` for deploy/.env)")
        return raw.strip()

    parse.__doc__ = f"A secret of at least {minimum} characters."
    return parse


def positive_number(raw: Text) -> float:
    """A number above zero."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"must be positive, got {raw!r}")
    return value


def whole_number(minimum: int) -> Parser:
    """A whole number of at least `minimum`."""

    def parse(raw: Text) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {raw!r}")
        return value

    parse.__doc__ = f"A whole number >= {minimum}."
    return parse


def similarity(raw: Text) -> float:
    """A cosine similarity between -1 and 1."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"is a cosine similarity between -1 and 1, got {value}")
    return value


def optional_similarity(raw: Text) -> Optional[float]:
    """A cosine similarity between -1 and 1, or `none`."""
    return None if raw.strip().lower() == "none" else similarity(raw)


def one_of(*choices: Text) -> Parser:
    """One of the given words."""

    def parse(raw: Text) -> Text:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    return parse


def switch(raw: Text) -> bool:
    """`on`/`off` (also `true`/`false`, `1`/`0`, `yes`/`no`)."""
    value = raw.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"must be on or off, got {raw!r}")


def languages(raw: Text) -> Tuple[Text, ...]:
    """A comma-separated list of `zh` and `en`."""
    values = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [value for value in values if value not in LANGUAGES]
    if unknown:
        raise ValueError(f"takes zh and/or en, got {', '.join(unknown)}")
    return values


# --- declarations ------------------------------------------------------------------


NEEDS = ("required", "production", "optional")


def setting(
    env: Text,
    default: Any,
    doc: Text,
    parse: Parser = text,
    secret: bool = False,
    shown: Optional[Text] = None,
    need: Text = "optional",
    replaces: Text = "",
) -> Any:
    """Declares one setting (a dataclass field).

    Args:
        env: the environment variable that sets it.
        default: its value when the variable is unset or empty.
        doc: one line for the README's table.
        parse: turns the variable's text into the value; raises ValueError.
        secret: never shown in full (tokens, keys, URLs with passwords).
        shown: how the README shows the default, when it is computed.
        need: `required` (a process does not start without it; `make run` makes a
            fresh one), `production` (set it before colleagues use the assistant:
            docs/checklist.md) or `optional`.
        replaces: the variable's former name, still read (with a warning) when the
            new one is unset.
    """
    if need not in NEEDS:
        raise ValueError(f"{env}: need must be one of {NEEDS}, got {need!r}")
    return field(
        default=default,
        metadata={"env": env, "doc": doc, "parse": parse, "secret": secret, "shown": shown,
                  "need": need, "replaces": replaces},
    )


def _default_cache_dir() -> Text:
    return str(Path.home() / ".cache" / "bilingual-assistant")


@dataclass(frozen=True)
class PathSettings:
    """Files"""

    cache_dir: Text = setting(
        "ASSISTANT_CACHE_DIR", _default_cache_dir(),
        "where converted encoders and the embedded LLM's model file are kept",
        path, shown="`~/.cache/bilingual-assistant`",
    )

    @property
    def encoders_dir(self) -> Path:
        """Packaged encoders converted into model folders."""
        return Path(self.cache_dir) / "encoders"

    @property
    def models_dir(self) -> Path:
        """Model files (the embedded LLM's GGUF)."""
        return Path(self.cache_dir) / "models"


@dataclass(frozen=True)
class KnowledgeSettings:
    """Knowledge store and ingestion"""

    documents_dir: Text = setting(
        "KNOWLEDGE_DIR", "knowledge", "the folder `make index` reads documents from", path
    )
    milvus_uri: Text = setting(
        "MILVUS_URI", "",
        "a Milvus standalone or cluster (`http://host:19530`); unset: Milvus Lite in "
        "`MILVUS_LITE_PATH`", url, shown="unset",
    )
    milvus_token: Text = setting(
        "MILVUS_TOKEN", "", "the Milvus server's token (`user:password`)", secret=True
    )
    milvus_lite_path: Text = setting(
        "MILVUS_LITE_PATH", ".data/knowledge.db",
        "the Milvus Lite file (one process at a time); `make run` serves it to the "
        "action server, the API and the worker on `MILVUS_LITE_PORT`", path,
    )
    milvus_lite_port: int = setting(
        "MILVUS_LITE_PORT", 19530,
        "`make run`: the loopback port of the Milvus Lite server it starts when "
        "`MILVUS_URI` is unset", whole_number(1),
    )
    collection: Text = setting(
        "MILVUS_COLLECTION", "knowledge", "the collection of chunks (versions in `<name>_meta`)"
    )
    embedding_model: Text = setting(
        "EMBEDDING_MODEL", "use-multilingual",
        "`use-multilingual`, `e5-small`, `m3e-small`, `all-minilm-l6-v2` or a local model "
        "folder; re-index and retrain the answerability model after a change",
    )
    chunk_size: int = setting(
        "CHUNK_SIZE", 200, "passage length in units (a Chinese character or an English word)",
        whole_number(20),
    )
    chunk_overlap: int = setting(
        "CHUNK_OVERLAP", 40, "units repeated at the start of the next passage; below "
        "`CHUNK_SIZE`", whole_number(0),
    )

    def __post_init__(self) -> None:
        if self.chunk_overlap >= self.chunk_size:
            raise ConfigurationError(
                f"CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than CHUNK_SIZE "
                f"({self.chunk_size})."
            )

    @property
    def uri(self) -> Text:
        """Where pymilvus connects: the server if `MILVUS_URI` is set, else the Lite file."""
        return self.milvus_uri or self.milvus_lite_path


@dataclass(frozen=True)
class RetrievalSettings:
    """Retrieval"""

    top_k: int = setting("RETRIEVAL_TOP_K", 4, "passages returned by a search", whole_number(1))
    min_score: float = setting(
        "RETRIEVAL_MIN_SCORE", 0.22,
        "cosine similarity of the best passage below which the answer is \"not in the "
        "documents\" (measured: see the retrieval benchmark)", similarity,
    )


@dataclass(frozen=True)
class LLMSettings:
    """LLM client"""

    base_url: Text = setting(
        "LLM_BASE_URL", "http://127.0.0.1:8088/v1",
        "any OpenAI-compatible endpoint: OpenAI, DeepSeek (`https://api.deepseek.com/v1`), "
        "Qwen/DashScope (`https://dashscope.aliyuncs.com/compatible-mode/v1`), vLLM, Ollama "
        "(`http://localhost:11434/v1`); the default is the embedded server", url,
    )
    model: Text = setting("LLM_MODEL", "local", "the model name sent to the endpoint")
    api_key: Text = setting("LLM_API_KEY", "", "sent as a bearer token; never logged",
                            secret=True)
    timeout_seconds: float = setting(
        "LLM_TIMEOUT_SECONDS", 20.0,
        "overall deadline of one answer, retries included (Rasa's action timeout is longer)",
        positive_number,
    )
    max_retries: int = setting(
        "LLM_MAX_RETRIES", 2, "retries after a 429, a 5xx or a connection error",
        whole_number(0),
    )
    max_tokens: int = setting("LLM_MAX_TOKENS", 160, "the answer's length cap in tokens",
                              whole_number(1))
    concurrency: int = setting(
        "LLM_CONCURRENCY", 1,
        "requests the endpoint serves at once per action server (the embedded llama.cpp "
        "server: one); more wait their turn", whole_number(1),
    )
    max_waiting: int = setting(
        "LLM_QUEUE", 8,
        "questions that may wait for the model; a question that cannot get it in time is "
        "answered extractively at once, and waiting never opens the circuit",
        whole_number(0),
    )
    breaker_failures: int = setting(
        "LLM_BREAKER_FAILURES", 3, "failed calls in a row after which the circuit opens",
        whole_number(1),
    )
    breaker_reset_seconds: float = setting(
        "LLM_BREAKER_RESET_SECONDS", 30.0, "how long an open circuit waits before one try",
        positive_number,
    )


@dataclass(frozen=True)
class AnswerSettings:
    """Answers"""

    llm_languages: Optional[Tuple[Text, ...]] = setting(
        "LLM_LANGUAGES", None,
        "languages the LLM answers; questions in others get extractive answers",
        languages, shown="`zh,en` (`en` with `LOCAL_LLM=gemma3-270m`)",
    )

    answer_style: Optional[Text] = setting(
        "ANSWER_STYLE", None,
        "`quote`: the LLM says whether the passages answer the question and the reply "
        "quotes their best sentences; `generate`: the LLM writes the answer. With the "
        "embedded 1.5B model the quote was right more often (see Answer accuracy)",
        one_of("generate", "quote"),
        shown="`quote` with the embedded LLM, `generate` with a hosted one",
    )

    clear_match: Optional[float] = setting(
        "CLEAR_MATCH_SCORE", 0.35,
        "when the LLM says the documents do not answer but the best passage is at least "
        "this similar to the question (cosine), its best sentences are quoted anyway; "
        "`none` trusts the LLM's refusals (measured: see Answer accuracy)",
        optional_similarity,
    )

    answerability_model: Text = setting(
        "ANSWERABILITY_MODEL", "models/answerability.json",
        "the calibrated model that decides between an answer, \"not sure\" and \"not in "
        "the documents\" (`make answerability` trains it; `make setup` does once); "
        "missing: the LLM's refusal and `CLEAR_MATCH_SCORE` decide, and off-topic "
        "messages are not looked up", path,
    )

    verifier_dir: Text = setting(
        "VERIFIER_DIR", "",
        "the cross-encoder that reads the question with each candidate sentence "
        "(`make verifier` trains it); the answer service uses it when the answerability "
        "model was trained with it", path, shown="`ASSISTANT_CACHE_DIR/verifier`",
    )

    def style_for(self, hosted: bool) -> Text:
        """The configured answer style, or the one measured best for the LLM in use."""
        if self.answer_style is not None:
            return self.answer_style
        return "generate" if hosted else "quote"

    def languages_for(self, local_model: Text, hosted: bool) -> Tuple[Text, ...]:
        """The configured languages, or those the LLM in use answers well."""
        if self.llm_languages is not None:
            return self.llm_languages
        if local_model in ENGLISH_ONLY_MODELS and not hosted:
            return ("en",)
        return LANGUAGES


@dataclass(frozen=True)
class LocalLLMSettings:
    """Embedded LLM server"""

    model: Text = setting(
        "LOCAL_LLM", "qwen2.5-coder-1.5b",
        "`qwen2.5-coder-1.5b`, or `gemma3-270m` (English only, light)", one_of(*LOCAL_MODELS),
    )
    model_path: Text = setting(
        "LOCAL_LLM_MODEL_PATH", "", "the GGUF file, written from its packages once", path,
        shown="`$ASSISTANT_CACHE_DIR/models/<LOCAL_LLM>.gguf`",
    )
    host: Text = setting("LOCAL_LLM_HOST", "127.0.0.1", "the address it listens on")
    port: int = setting("LOCAL_LLM_PORT", 8088, "its port", whole_number(1))
    api_key: Text = setting(
        "LOCAL_LLM_API_KEY", "",
        "the key every request must carry (`Authorization: Bearer`); the action server "
        "sends `LLM_API_KEY`", secret_of(16), secret=True,
        shown="a random key per `make run` / `make shell`", need="required"
    )
    threads: int = setting("LOCAL_LLM_THREADS", 2, "CPU threads for generation",
                           whole_number(1))

    def file(self, paths: PathSettings) -> Path:
        """The model file: `model_path`, or one named after the model in the cache."""
        return Path(self.model_path) if self.model_path else (
            paths.models_dir / f"{self.model}.gguf")


@dataclass(frozen=True)
class CacheSettings:
    """Answer cache"""

    redis_url: Text = setting(
        "REDIS_URL", "",
        "Redis, shared by every replica (`redis://host:6379/0`); unset: an in-process LRU",
        secret=True, shown="unset", need="production"
    )
    max_entries: int = setting("ANSWER_CACHE_SIZE", 1024, "entries of the in-process LRU",
                               whole_number(1))
    ttl_seconds: int = setting("ANSWER_CACHE_TTL_SECONDS", 86400, "how long an answer is kept",
                               whole_number(1))


@dataclass(frozen=True)
class WeatherSettings:
    """Weather"""

    enabled: bool = setting(
        "WEATHER_ENABLED", True,
        "the weather skill; `off`: weather questions are told it is turned off, the "
        "help leaves it out and Open-Meteo is never called (action server)", switch,
        shown="`on`")
    geocoding_url: Text = setting(
        "OPEN_METEO_GEOCODING_URL", "https://geocoding-api.open-meteo.com/v1/search",
        "Open-Meteo's geocoding API (no key)", url,
    )
    forecast_url: Text = setting(
        "OPEN_METEO_FORECAST_URL", "https://api.open-meteo.com/v1/forecast",
        "Open-Meteo's forecast API (no key)", url,
    )
    timeout_seconds: float = setting("WEATHER_TIMEOUT_SECONDS", 5.0, "per request",
                                     positive_number)


@dataclass(frozen=True)
class HandoffSettings:
    """Handing a conversation to a person"""

    contact: Text = setting(
        "HANDOFF_CONTACT", "", "who people should contact when they ask for a person "
        "and no colleague can take the conversation (`the IT helpdesk, ext. 8000`), "
        "named in the reply in their language", shown="the team in charge")
    ticket_url: Text = setting(
        "HANDOFF_TICKET_URL", "", "a helpdesk's webhook (Zammad, Jira Service Management, "
        "an e-mail gateway) that gets a signed ticket with the conversation so far when "
        "someone asks for a person and no colleague can take over (`docs/limitations.md`)",
        url, shown="unset")
    ticket_secret: Text = setting(
        "HANDOFF_TICKET_SECRET", "", "signs each ticket (`X-Assistant-Signature: "
        "sha256=HMAC(secret, timestamp.body)`); required with HANDOFF_TICKET_URL",
        secret_of(16), secret=True, shown="–")


@dataclass(frozen=True)
class ActionServerSettings:
    """Action server"""

    token: Text = setting(
        "ACTION_SERVER_TOKEN", "",
        "the secret Rasa sends (`endpoints.yml`) and the action server checks; calls "
        "without it get 401", secret_of(16), secret=True,
        shown="a random secret per `make run` / `make shell`", need="required"
    )
    host: Text = setting("ACTION_SERVER_HOST", "127.0.0.1", "the address it listens on")
    port: int = setting("ACTION_SERVER_PORT", 5055, "its port", whole_number(1))


@dataclass(frozen=True)
class ConversationStoreSettings:
    """Conversations at rest (Rasa's tracker store)"""

    db_url: Text = setting(
        "CONVERSATIONS_DB_URL", "sqlite:///.data/conversations.db",
        "where Rasa keeps conversations: a SQLite file, or PostgreSQL "
        "(`postgresql://user:password@host:5432/db`), shared by every replica",
        secret=True, shown="`sqlite:///.data/conversations.db`", need="production",
        replaces="DB_URL",
    )
    keys: Text = setting(
        "CONVERSATION_KEYS", "",
        "AES-256 keys that encrypt conversations: `id:base64key` entries, comma "
        "separated, the current one first; unset: the key file", secret=True, shown="unset",
        need="production",
    )
    key_file: Text = setting(
        "CONVERSATION_KEY_FILE", ".data/conversation.keys",
        "the key file used when `CONVERSATION_KEYS` is unset; made (mode 600) on first "
        "start", path,
    )
    retention_days: int = setting(
        "RETENTION_DAYS", 0,
        "delete what people wrote after this many days: Rasa's events, chat turns, "
        "feedback and hit tests older than that (the job worker, hourly); 0 keeps them",
        whole_number(0), need="production",
    )


@dataclass(frozen=True)
class LockSettings:
    """Conversation locks (Rasa's lock store, shared by replicas)"""

    url: Text = setting(
        "LOCK_STORE_URL", "",
        "Redis that holds the locks of several Rasa replicas (`redis://host:6379/1`); "
        "unset: `REDIS_URL`, else locks inside the one Rasa process",
        secret=True, shown="`REDIS_URL`, else in-process",
    )
    lifetime_seconds: float = setting(
        "LOCK_LIFETIME_SECONDS", 15.0,
        "a ticket's life without renewal: the replica processing a message renews it "
        "every third of this (an action may take longer), so a crashed replica's "
        "conversations are free again within it", positive_number,
    )
    wait_seconds: float = setting(
        "LOCK_WAIT_SECONDS", 60.0,
        "how long a message waits for its conversation's earlier messages before it "
        "fails with an error", positive_number,
    )


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus metrics (`/metrics` on every process)"""

    token: Text = setting(
        "METRICS_TOKEN", "",
        "the bearer token `/metrics` requires (Prometheus' `authorization`); unset: "
        "`/metrics` answers loopback clients only",
        secret_of(16), secret=True, shown="unset: loopback only", need="production"
    )
    worker_host: Text = setting(
        "WORKER_METRICS_HOST", "127.0.0.1",
        "the address the job worker serves `/metrics` on (it has no other port); "
        "`0.0.0.0` in a container, with `METRICS_TOKEN` set",
    )
    worker_port: int = setting(
        "WORKER_METRICS_PORT", 9464,
        "the job worker's metrics port; 0: no metrics server", whole_number(0),
    )


@dataclass(frozen=True)
class RasaServerSettings:
    """Rasa's HTTP server (`make run`, `make shell`)"""

    host: Text = setting(
        "RASA_HOST", "127.0.0.1",
        "the address Rasa listens on (channels and HTTP API); `0.0.0.0` to serve others",
    )
    port: int = setting("RASA_PORT", 5005, "its port", whole_number(1))
    auth_token: Text = setting(
        "RASA_AUTH_TOKEN", "",
        "the token Rasa's HTTP API requires (`?token=`); written to `.run/rasa-api-token`",
        secret_of(16), secret=True, shown="a random token per `make run`", need="required"
    )
    rest_channel_secret: Text = setting(
        "REST_CHANNEL_SECRET", "",
        "signs the REST channel's senders: set, every message needs `Authorization: "
        "Bearer <token>` signed with it (the API signs its own) and its conversation "
        "comes from the token, never the body; unset: the REST channel takes the body's "
        "`sender` and Rasa refuses to start on an address but loopback. At least 32 "
        "characters; the same value for Rasa and the API", secret_of(32), secret=True,
        shown="unset",
        need="production")
    session_secret: Text = setting(
        "SOCKETIO_SESSION_SECRET", "",
        "signs the socket.io channel's session tokens (a client resumes only its own "
        "session); unset: a random one per start, so sessions end with Rasa",
        secret_of(16), secret=True, shown="unset",
    )
    max_request_bytes: int = setting(
        "RASA_MAX_REQUEST_BYTES", 1024 * 1024,
        "the largest request body Rasa reads (413 beyond; Sanic's own default is 100 MB)",
        whole_number(1024),
    )
    cors_origins: Text = setting(
        "RASA_CORS_ORIGINS", "",
        "web origins allowed to call Rasa from a browser, comma separated "
        "(`https://chat.example.com`); unset: none", shown="unset",
    )


@dataclass(frozen=True)
class RasaSettings:
    """Rasa, from `endpoints.yml` and `credentials.yml`"""

    action_server_url: Text = setting(
        "ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook", "where Rasa calls the actions"
    )


@dataclass(frozen=True)
class ChannelSettings:
    """Chat platforms (`credentials.yml`): a channel is on when its secrets are set"""

    slack_bot_token: Text = setting(
        "SLACK_BOT_TOKEN", "", "Slack: the bot token (`xoxb-…`)", secret=True, shown="–")
    slack_signing_secret: Text = setting(
        "SLACK_SIGNING_SECRET", "", "Slack: the app's signing secret (requests are "
        "verified with it)", secret=True, shown="–")
    slack_api_url: Text = setting(
        "SLACK_API_URL", "https://slack.com/api", "Slack: the Web API's address", url)
    telegram_access_token: Text = setting(
        "TELEGRAM_ACCESS_TOKEN", "", "Telegram: the bot token from @BotFather",
        secret=True, shown="–")
    telegram_webhook_url: Text = setting(
        "TELEGRAM_WEBHOOK_URL", "", "Telegram: the public HTTPS address of "
        "`/webhooks/telegram/webhook`, registered with Telegram at start-up", shown="–")
    telegram_webhook_secret: Text = setting(
        "TELEGRAM_WEBHOOK_SECRET", "", "Telegram: the secret Telegram sends with every "
        "update (`A-Z a-z 0-9 _ -`); unset: derived from the bot token",
        secret=True, shown="derived")
    telegram_api_url: Text = setting(
        "TELEGRAM_API_URL", "https://api.telegram.org", "Telegram: the Bot API's address", url)
    wecom_corp_id: Text = setting("WECOM_CORP_ID", "", "WeCom: the company's CorpID", shown="–")
    wecom_agent_id: Text = setting(
        "WECOM_AGENT_ID", "", "WeCom: the self-built application's AgentId", shown="–")
    wecom_secret: Text = setting(
        "WECOM_SECRET", "", "WeCom: the application's Secret", secret=True, shown="–")
    wecom_token: Text = setting(
        "WECOM_TOKEN", "", "WeCom: the callback Token (signs callbacks)", secret=True, shown="–")
    wecom_encoding_aes_key: Text = setting(
        "WECOM_ENCODING_AES_KEY", "", "WeCom: the callback EncodingAESKey (43 characters)",
        secret=True, shown="–")
    wecom_api_url: Text = setting(
        "WECOM_API_URL", "https://qyapi.weixin.qq.com", "WeCom: the API's address", url)
    platform_groups_file: Text = setting(
        "PLATFORM_GROUPS_FILE", "", "a YAML file giving Slack, Telegram and WeCom people "
        "the groups whose documents they may read (`docs/documents.md`); unset: they read "
        "the documents that name no groups", path, shown="unset")
    source_base_url: Text = setting(
        "SOURCE_BASE_URL", "", "where the documents are published "
        "(`https://wiki.example.com/kb`): Slack, Telegram and WeCom show sources as links "
        "to it; unset: as titles and paths", url, shown="unset")


@dataclass(frozen=True)
class ApiSettings:
    """The API service (`make api`)"""

    host: Text = setting(
        "API_HOST", "127.0.0.1",
        "the address the API listens on; another than loopback needs `API_LOCAL_USER=off`")
    port: int = setting("API_PORT", 8000, "its port", whole_number(1))
    db_url: Text = setting(
        "SERVICES_DB_URL", "sqlite:///.data/api.db",
        "the services' own tables (API keys, sessions, hit-test runs, jobs, feedback, "
        "curated answers), shared by the API, the worker and the action server: a SQLite "
        "file, or PostgreSQL (`postgresql://user:password@host:5432/db`)",
        secret=True, shown="`sqlite:///.data/api.db`", need="production",
        replaces="DATABASE_URL")
    rasa_url: Text = setting(
        "API_RASA_URL", "http://127.0.0.1:5005", "where the API reaches Rasa's REST channel",
        url)
    local_user: bool = setting(
        "API_LOCAL_USER", True,
        "single-user local mode: a request without credentials acts as the one local "
        "user (an administrator); refused on any address but loopback. `off`: every "
        "request needs an API key", switch, shown="`on`", need="production")


@dataclass(frozen=True)
class SignInSettings:
    """Sign-in with OpenID Connect (the API and its web pages)"""

    issuer: Text = setting(
        "OIDC_ISSUER", "",
        "the identity provider (`https://keycloak.example.com/realms/acme`, "
        "`https://login.microsoftonline.com/<tenant>/v2.0`, `https://accounts.google.com`); "
        "set: people sign in, and local single-user mode is off", url, shown="unset",
        need="production")
    client_id: Text = setting("OIDC_CLIENT_ID", "", "this application's client id there",
                              shown="–", need="production")
    client_secret: Text = setting(
        "OIDC_CLIENT_SECRET", "", "its client secret (the code is exchanged with it and "
        "PKCE)", secret=True, shown="–", need="production")
    scopes: Text = setting("OIDC_SCOPES", "openid email profile", "the scopes asked for")
    roles_claim: Text = setting(
        "OIDC_ROLES_CLAIM", "roles",
        "the ID token claim holding roles (`user`, `editor`, `admin`; others ignored)")
    admins: Text = setting(
        "OIDC_ADMINS", "", "e-mails (verified by the provider) or subjects made "
        "administrators, comma separated (besides the roles claim)", shown="unset",
        need="production")
    allowed_domains: Text = setting(
        "OIDC_ALLOWED_DOMAINS", "",
        "who may sign in: people whose verified e-mail is in one of these domains "
        "(`example.com,example.cn`), or in `OIDC_ALLOWED_GROUPS`; both unset: everyone "
        "the provider signs in (a public provider's every account)", shown="unset",
        need="production")
    allowed_groups: Text = setting(
        "OIDC_ALLOWED_GROUPS", "",
        "who may sign in: members of one of these groups (`OIDC_GROUPS_CLAIM`), comma "
        "separated", shown="unset")
    groups_claim: Text = setting(
        "OIDC_GROUPS_CLAIM", "groups", "the ID token claim listing the person's groups")
    public_url: Text = setting(
        "API_PUBLIC_URL", "http://127.0.0.1:8000",
        "the API's address as browsers reach it: the callback "
        "(`<url>/v1/auth/callback`, registered with the provider), the allowed origin, "
        "`Secure` cookies when https", url, need="production")
    session_hours: float = setting(
        "SESSION_HOURS", 8.0, "how long a sign-in lasts", positive_number)


@dataclass(frozen=True)
class JobSettings:
    """Background jobs (`make worker`): ingestion, re-indexing, retraining"""

    broker_url: Text = setting(
        "JOBS_BROKER_URL", "",
        "the job queue's broker: `redis://…`, `amqp://…`; unset: `REDIS_URL` when set, "
        "else a SQLite file (`sqla+sqlite:///.data/jobs-broker.db`) that needs no server",
        secret=True, shown="`REDIS_URL`, else SQLite")
    stale_seconds: float = setting(
        "JOB_STALE_SECONDS", 60.0,
        "a running job whose worker sent no heartbeat for this long is failed as lost",
        positive_number)
    max_upload_mb: float = setting(
        "UPLOAD_MAX_MB", 20.0, "the largest document the API accepts", positive_number)
    rasa_command: Text = setting(
        "RASA_COMMAND", "", "Rasa's executable, for retrain jobs (`make run` sets it to "
        "`$(make -s env-path)/bin/rasa`); unset: the worker takes no retrain jobs",
        path, shown="unset")


SECTIONS: Tuple[Type[Any], ...] = (
    PathSettings,
    KnowledgeSettings,
    RetrievalSettings,
    LLMSettings,
    AnswerSettings,
    LocalLLMSettings,
    CacheSettings,
    WeatherSettings,
    HandoffSettings,
    ActionServerSettings,
    ConversationStoreSettings,
    LockSettings,
    MetricsSettings,
    RasaServerSettings,
    RasaSettings,
    ChannelSettings,
    ApiSettings,
    SignInSettings,
    JobSettings,
)


@dataclass(frozen=True)
class Settings:
    """Every section, as one process sees them."""

    paths: PathSettings = PathSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    answers: AnswerSettings = AnswerSettings()
    local_llm: LocalLLMSettings = LocalLLMSettings()
    cache: CacheSettings = CacheSettings()
    weather: WeatherSettings = WeatherSettings()
    handoff: HandoffSettings = HandoffSettings()
    action_server: ActionServerSettings = ActionServerSettings()
    conversations: ConversationStoreSettings = ConversationStoreSettings()
    locks: LockSettings = LockSettings()
    metrics: MetricsSettings = MetricsSettings()
    rasa_server: RasaServerSettings = RasaServerSettings()
    rasa: RasaSettings = RasaSettings()
    channels: ChannelSettings = ChannelSettings()
    api: ApiSettings = ApiSettings()
    jobs: JobSettings = JobSettings()
    sign_in: SignInSettings = SignInSettings()

    @property
    def jobs_broker(self) -> Text:
        """The job queue's broker: `JOBS_BROKER_URL`, else `REDIS_URL`, else SQLite."""
        return (self.jobs.broker_url or self.cache.redis_url
                or "sqla+sqlite:///.data/jobs-broker.db")

    @property
    def lock_store_url(self) -> Text:
        """Redis for conversation locks: `LOCK_STORE_URL`, else `REDIS_URL`; empty:
        in-process locks."""
        return self.locks.url or self.cache.redis_url

    @property
    def hosted_llm(self) -> bool:
        """Whether the LLM is another model than the embedded server's (which serves
        `LLM_MODEL`'s default name, on any port)."""
        return self.llm.model != LLMSettings.model

    @property
    def llm_languages(self) -> Tuple[Text, ...]:
        """Languages the configured LLM answers."""
        return self.answers.languages_for(self.local_llm.model, self.hosted_llm)

    @property
    def verifier_dir(self) -> Path:
        """Where the verifier is: `VERIFIER_DIR`, else the cache folder's `verifier`."""
        return Path(self.answers.verifier_dir or Path(self.paths.cache_dir) / "verifier")

    @property
    def answer_style(self) -> Text:
        """How the configured LLM takes part in answers (`ANSWER_STYLE`)."""
        return self.answers.style_for(self.hosted_llm)


# --- reading the environment ---------------------------------------------------------


def environment() -> Mapping[Text, Text]:
    """The process environment (the one place that reads it)."""
    return os.environ


def declarations(section: Type[Any]) -> Iterator[dataclasses.Field]:
    """The declared settings of a section, in order."""
    for item in dataclasses.fields(section):
        if "env" in item.metadata:
            yield item


def load(section: Type[S], env: Optional[Mapping[Text, Text]] = None) -> S:
    """One section's settings from the environment.

    Args:
        section: one of `SECTIONS`.
        env: variables to read instead of the process environment (tests).

    Returns:
        The section, defaults filled in for unset or empty variables.

    Raises:
        ConfigurationError: naming the variable, what it accepts and its default.
    """
    env = environment() if env is None else env
    values: Dict[Text, Any] = {}
    for item in declarations(section):
        raw = env.get(item.metadata["env"], "")
        former = item.metadata["replaces"]
        if raw.strip() == "" and former and env.get(former, "").strip():
            raw = env[former]
            logger.warning("settings.renamed", extra={"old": former,
                                                      "new": item.metadata["env"]})
        if raw.strip() == "":
            continue
        try:
            values[item.name] = item.metadata["parse"](raw.strip())
        except ValueError as error:
            raise ConfigurationError(
                f"{item.metadata['env']} {error}. Fix it or unset it to use the default "
                f"({_shown_default(item)})."
            ) from None
    return section(**values)


def load_settings(env: Optional[Mapping[Text, Text]] = None) -> Settings:
    """Every section's settings from the environment (see `load`)."""
    env = environment() if env is None else env
    return Settings(
        paths=load(PathSettings, env),
        knowledge=load(KnowledgeSettings, env),
        retrieval=load(RetrievalSettings, env),
        llm=load(LLMSettings, env),
        answers=load(AnswerSettings, env),
        local_llm=load(LocalLLMSettings, env),
        cache=load(CacheSettings, env),
        weather=load(WeatherSettings, env),
        handoff=load(HandoffSettings, env),
        action_server=load(ActionServerSettings, env),
        conversations=load(ConversationStoreSettings, env),
        locks=load(LockSettings, env),
        metrics=load(MetricsSettings, env),
        rasa_server=load(RasaServerSettings, env),
        rasa=load(RasaSettings, env),
        channels=load(ChannelSettings, env),
        api=load(ApiSettings, env),
        jobs=load(JobSettings, env),
        sign_in=load(SignInSettings, env),
    )


def is_set(name: Text, env: Optional[Mapping[Text, Text]] = None) -> bool:
    """Whether an environment variable holds a non-empty value."""
    env = environment() if env is None else env
    return bool(env.get(name, "").strip())


def apply_process_defaults(env: Optional[MutableMapping[Text, Text]] = None) -> None:
    """Sets `PROCESS_DEFAULTS` in the environment where they are unset.

    For processes started without the defaults their environment's `.pth` file
    gives (benchmarks, tests); third-party libraries read them at import.
    """
    target = os.environ if env is None else env
    for name, value in PROCESS_DEFAULTS.items():
        target.setdefault(name, value)


# --- documentation -------------------------------------------------------------------


def _shown_default(item: dataclasses.Field) -> Text:
    if item.metadata["shown"] is not None:
        return item.metadata["shown"]
    if item.default in ("", None):
        return "unset"
    return f"`{item.default}`"


def described(section: Type[Any]) -> List[Tuple[Text, Text, Text]]:
    """(variable, default as shown, doc) for each setting of a section."""
    return [(f.metadata["env"], _shown_default(f), f.metadata["doc"])
            for f in declarations(section)]


def markdown_table() -> Text:
    """The README's table of environment variables, one row per setting."""
    lines = ["| variable | needed | used by | default | what it sets |",
             "|---|---|---|---|---|"]
    for section in SECTIONS:
        title = (section.__doc__ or section.__name__).strip()
        for item in declarations(section):
            former = item.metadata["replaces"]
            doc = item.metadata["doc"] + (
                f" (formerly `{former}`, still read when this is unset)" if former else "")
            lines.append(f"| `{item.metadata['env']}` | {item.metadata['need']} | {title} | "
                         f"{_shown_default(item)} | {doc} |")
    return "\n".join(lines) + "\n"


def env_example() -> Text:
    """`.env.example`: every setting, commented out with its default and meaning,
    grouped as in the reference table; copy to `.env` and uncomment what you set."""
    import textwrap

    lines = [
        "# Settings for `make run`, `make shell` and the services (scripts/dotenv.sh reads",
        "# `.env`; a variable set in the environment wins). Copy this file to `.env`",
        "# (ignored by git; chmod 600 when it holds secrets) and uncomment what you set.",
        "# Generated from bilingual_assistant/config.py by `make readme`; do not edit by hand.",
    ]
    for section in SECTIONS:
        title = (section.__doc__ or section.__name__).strip()
        lines += ["", f"# --- {title} ---"]
        for item in declarations(section):
            doc = item.metadata["doc"].replace("`", "")
            if item.metadata["need"] != "optional":
                doc = f"[{item.metadata['need']}] {doc}"
            lines += textwrap.wrap(doc, 84, initial_indent="# ", subsequent_indent="# ")
            value = item.default
            if item.metadata["shown"] is not None:  # a default that depends on others
                lines.append(f"# (default: {item.metadata['shown'].replace('`', '')})")
                value = ""
            if value is None or item.metadata["secret"]:
                value = ""
            if isinstance(value, (tuple, list)):
                value = ",".join(str(v) for v in value)
            lines.append(f"# {item.metadata['env']}={value}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Entry:
    """One setting's effective value, for display."""

    env: Text
    value: Any
    default: Text
    secret: bool
    doc: Text


def entries(settings: Settings) -> List[Entry]:
    """Every declared setting with its value in `settings`, in the README's order."""
    found: List[Entry] = []
    for holder in dataclasses.fields(Settings):
        section = getattr(settings, holder.name)
        for item in declarations(type(section)):
            found.append(Entry(item.metadata["env"], getattr(section, item.name),
                               _shown_default(item), item.metadata["secret"],
                               item.metadata["doc"]))
    return found


def masked(value: Any, secret: bool) -> Text:
    """A value for display: secrets show only that they are set."""
    if secret:
        return "(set)" if value else "(unset)"
    return "" if value is None else str(value)
