"""Settings from the environment: the only module that reads `os.environ`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Text, Tuple


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _number(env: Mapping[Text, Text], key: Text, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, got {raw!r}.") from None


def _float(env: Mapping[Text, Text], key: Text, default: float) -> float:
    value = _number(env, key, default)
    if value <= 0:
        raise SettingsError(f"{key} must be positive, got {env.get(key)!r}.")
    return value


def _similarity(env: Mapping[Text, Text], key: Text, default: float) -> float:
    value = _number(env, key, default)
    if not -1.0 <= value <= 1.0:
        raise SettingsError(f"{key} is a cosine similarity between -1 and 1, got {value}.")
    return value


def _int(env: Mapping[Text, Text], key: Text, default: int, minimum: int = 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise SettingsError(f"{key} must be at least {minimum}, got {raw!r}.")
    return value


def _text(env: Mapping[Text, Text], key: Text, default: Text) -> Text:
    return env.get(key) or default


def _languages(raw: Text) -> Tuple[Text, ...]:
    languages = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [lang for lang in languages if lang not in ("zh", "en")]
    if unknown:
        raise SettingsError(f"LLM_LANGUAGES takes zh and/or en, got {', '.join(unknown)}.")
    return languages


def _cache_root(env: Mapping[Text, Text]) -> Path:
    base = env.get("ASSISTANT_CACHE_DIR")
    if base:
        return Path(base)
    return Path(env.get("HOME") or Path.home()) / ".cache" / "bilingual-assistant"


@dataclass(frozen=True)
class WeatherSettings:
    """Where and how to reach the weather service (Open-Meteo by default)."""

    geocoding_url: Text = "https://geocoding-api.open-meteo.com/v1/search"
    forecast_url: Text = "https://api.open-meteo.com/v1/forecast"
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class KnowledgeSettings:
    """Where the documents and the Milvus knowledge store live, and how to search."""

    documents_dir: Text = "knowledge"
    # A file path means Milvus Lite (embedded); http(s):// means a Milvus server.
    milvus_uri: Text = ".data/knowledge.db"
    milvus_token: Text = ""
    collection: Text = "knowledge"
    embedding_model: Text = "use-multilingual"
    chunk_size: int = 200
    chunk_overlap: int = 40
    top_k: int = 4
    # Cosine similarity of the best passage below which the answer is "I don't know".
    min_score: float = 0.24


# Embedded models (`LOCAL_LLM`); their files are described in assistant/llm/local_server.py.
LOCAL_MODELS = ("qwen2.5-coder-1.5b", "gemma3-270m")
# Models whose Chinese answers are unreliable: Chinese questions are answered extractively.
ENGLISH_ONLY_MODELS = ("gemma3-270m",)


@dataclass(frozen=True)
class LLMSettings:
    """An OpenAI-compatible chat completions endpoint (the embedded one by default)."""

    base_url: Text = "http://127.0.0.1:8088/v1"
    model: Text = "local"
    api_key: Text = ""
    timeout_seconds: float = 20.0
    max_retries: int = 2
    max_tokens: int = 160
    breaker_failures: int = 3
    breaker_reset_seconds: float = 30.0
    # The embedded model (see assistant/llm/local_server.py) and where its GGUF
    # file is written; it is served on `local_port`.
    local_model: Text = "qwen2.5-coder-1.5b"
    local_model_path: Text = ""
    local_port: int = 8088
    # Languages the model answers well; questions in others are answered
    # extractively. The embedded model's Chinese is unreliable.
    languages: Tuple[Text, ...] = ("zh", "en")


@dataclass(frozen=True)
class CacheSettings:
    """The answer cache: in-process LRU, or Redis shared by replicas when set."""

    redis_url: Text = ""
    max_entries: int = 1024
    ttl_seconds: int = 24 * 3600


@dataclass(frozen=True)
class ActionServerSettings:
    """The action server's shared secret (Rasa sends it as `?token=`)."""

    token: Text = ""


@dataclass(frozen=True)
class Settings:
    """Everything configurable through environment variables."""

    weather: WeatherSettings
    knowledge: KnowledgeSettings = KnowledgeSettings()
    llm: LLMSettings = LLMSettings()
    cache: CacheSettings = CacheSettings()
    action_server: ActionServerSettings = ActionServerSettings()


def load_settings(env: Optional[Mapping[Text, Text]] = None) -> Settings:
    """Reads settings from `env` (the process environment by default).

    Args:
        env: a mapping of variable names to values, for tests.

    Returns:
        The settings.

    Raises:
        SettingsError: naming the variable that holds a bad value.
    """
    env = os.environ if env is None else env
    defaults = WeatherSettings()
    weather = WeatherSettings(
        geocoding_url=env.get("OPEN_METEO_GEOCODING_URL") or defaults.geocoding_url,
        forecast_url=env.get("OPEN_METEO_FORECAST_URL") or defaults.forecast_url,
        timeout_seconds=_float(
            env, "WEATHER_TIMEOUT_SECONDS", defaults.timeout_seconds
        ),
    )
    k = KnowledgeSettings()
    knowledge = KnowledgeSettings(
        documents_dir=_text(env, "KNOWLEDGE_DIR", k.documents_dir),
        # MILVUS_URI names a Milvus server (pymilvus itself reads it and accepts
        # only http(s) URIs); without it, Milvus Lite stores MILVUS_LITE_PATH.
        milvus_uri=env.get("MILVUS_URI") or _text(env, "MILVUS_LITE_PATH", k.milvus_uri),
        milvus_token=_text(env, "MILVUS_TOKEN", k.milvus_token),
        collection=_text(env, "MILVUS_COLLECTION", k.collection),
        embedding_model=_text(env, "EMBEDDING_MODEL", k.embedding_model),
        chunk_size=_int(env, "CHUNK_SIZE", k.chunk_size, minimum=20),
        chunk_overlap=_int(env, "CHUNK_OVERLAP", k.chunk_overlap, minimum=0),
        top_k=_int(env, "RETRIEVAL_TOP_K", k.top_k),
        min_score=_similarity(env, "RETRIEVAL_MIN_SCORE", k.min_score),
    )
    if knowledge.chunk_overlap >= knowledge.chunk_size:
        raise SettingsError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE.")
    llm_defaults = LLMSettings()
    local_model = _text(env, "LOCAL_LLM", llm_defaults.local_model)
    if local_model not in LOCAL_MODELS:
        raise SettingsError(
            f"LOCAL_LLM must be one of {', '.join(LOCAL_MODELS)}, got {local_model!r}."
        )
    llm = LLMSettings(
        base_url=_text(env, "LLM_BASE_URL", llm_defaults.base_url).rstrip("/"),
        model=_text(env, "LLM_MODEL", llm_defaults.model),
        api_key=_text(env, "LLM_API_KEY", llm_defaults.api_key),
        timeout_seconds=_float(env, "LLM_TIMEOUT_SECONDS", llm_defaults.timeout_seconds),
        max_retries=_int(env, "LLM_MAX_RETRIES", llm_defaults.max_retries, minimum=0),
        max_tokens=_int(env, "LLM_MAX_TOKENS", llm_defaults.max_tokens),
        breaker_failures=_int(env, "LLM_BREAKER_FAILURES", llm_defaults.breaker_failures),
        breaker_reset_seconds=_float(
            env, "LLM_BREAKER_RESET_SECONDS", llm_defaults.breaker_reset_seconds
        ),
        local_model=local_model,
        local_model_path=_text(
            env, "LOCAL_LLM_MODEL_PATH", str(_cache_root(env) / "models" / f"{local_model}.gguf")
        ),
        local_port=_int(env, "LOCAL_LLM_PORT", llm_defaults.local_port),
        languages=_languages(
            env.get("LLM_LANGUAGES")
            or ("en" if local_model in ENGLISH_ONLY_MODELS and not env.get("LLM_BASE_URL")
                else "zh,en")
        ),
    )
    c = CacheSettings()
    cache = CacheSettings(
        redis_url=_text(env, "REDIS_URL", c.redis_url),
        max_entries=_int(env, "ANSWER_CACHE_SIZE", c.max_entries),
        ttl_seconds=_int(env, "ANSWER_CACHE_TTL_SECONDS", c.ttl_seconds),
    )
    action_server = ActionServerSettings(token=_text(env, "ACTION_SERVER_TOKEN", ""))
    return Settings(
        weather=weather,
        knowledge=knowledge,
        llm=llm,
        cache=cache,
        action_server=action_server,
    )


_ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def active_credentials(
    credentials: Dict[Text, Any], env: Optional[Mapping[Text, Text]] = None
) -> Tuple[Dict[Text, Any], List[Text]]:
    """Keeps the channels of `credentials.yml` whose `${VARIABLES}` are all set.

    Rasa starts every channel listed in its credentials file and fails on a channel
    whose token is empty, so a deployment without Slack or Telegram secrets would
    not start. This drops those channels instead.

    Args:
        credentials: the parsed credentials file.
        env: the environment (the process environment by default).

    Returns:
        The channels to start, and the names of the channels left out.
    """
    env = os.environ if env is None else env
    active: Dict[Text, Any] = {}
    skipped: List[Text] = []
    for channel, config in (credentials or {}).items():
        references = _ENV_REFERENCE.findall(repr(config)) if config else []
        if all(env.get(name) for name in references):
            active[channel] = config
        else:
            skipped.append(channel)
    return active, skipped
