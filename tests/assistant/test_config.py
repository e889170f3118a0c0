"""Settings: declared once, read from the environment, errors that name the fix."""

import dataclasses
from pathlib import Path

import pytest

from bilingual_assistant.config import (
    SECTIONS,
    ApiSettings,
    ConversationStoreSettings,
    KnowledgeSettings,
    LLMSettings,
    LocalLLMSettings,
    PathSettings,
    RetrievalSettings,
    Settings,
    WeatherSettings,
    apply_process_defaults,
    declarations,
    entries,
    load,
    load_settings,
    markdown_table,
    masked,
)
from bilingual_assistant.errors import ConfigurationError


def test_defaults_are_the_declarations():
    settings = load_settings({})
    assert settings.weather == WeatherSettings()
    assert settings.weather.forecast_url == "https://api.open-meteo.com/v1/forecast"
    assert settings.retrieval == RetrievalSettings(top_k=4, min_score=0.22)
    assert settings.knowledge.uri == ".data/knowledge.db"


def test_values_come_from_the_environment():
    settings = load_settings({
        "OPEN_METEO_GEOCODING_URL": "http://127.0.0.1:1/geo",
        "OPEN_METEO_FORECAST_URL": "http://127.0.0.1:1/fc/",
        "WEATHER_TIMEOUT_SECONDS": "2.5",
        "RETRIEVAL_TOP_K": " 6 ",
        "MILVUS_URI": "http://milvus:19530",
        "LLM_LANGUAGES": "en",
    })
    assert settings.weather == WeatherSettings(geocoding_url="http://127.0.0.1:1/geo",
                                               forecast_url="http://127.0.0.1:1/fc",
                                               timeout_seconds=2.5)
    assert settings.retrieval.top_k == 6
    assert settings.knowledge.uri == "http://milvus:19530"
    assert settings.llm_languages == ("en",)


def test_an_empty_variable_means_the_default():
    assert load(RetrievalSettings, {"RETRIEVAL_TOP_K": ""}).top_k == 4


@pytest.mark.parametrize("name, raw, says", [
    ("WEATHER_TIMEOUT_SECONDS", "soon", "must be a number, got 'soon'"),
    ("WEATHER_TIMEOUT_SECONDS", "0", "must be positive"),
    ("RETRIEVAL_TOP_K", "2.5", "must be a whole number"),
    ("RETRIEVAL_MIN_SCORE", "3", "cosine similarity between -1 and 1"),
    ("LOCAL_LLM", "gpt-5", "must be one of qwen2.5-coder-1.5b, gemma3-270m"),
    ("LLM_LANGUAGES", "zh,fr", "takes zh and/or en, got fr"),
    ("LLM_BASE_URL", "localhost:8088", "must be an http:// or https:// URL"),
    ("CHUNK_SIZE", "10", "must be at least 20"),
])
def test_a_bad_value_names_the_variable_what_it_takes_and_the_default(name, raw, says):
    with pytest.raises(ConfigurationError) as raised:
        load_settings({name: raw})
    message = str(raised.value)
    assert message.startswith(name) and says in message
    assert "unset it to use the default" in message


def test_rules_across_settings_are_checked():
    with pytest.raises(ConfigurationError, match="CHUNK_OVERLAP .* smaller than CHUNK_SIZE"):
        load_settings({"CHUNK_SIZE": "40", "CHUNK_OVERLAP": "40"})


def test_the_embedded_english_model_answers_only_english_unless_told():
    assert load_settings({"LOCAL_LLM": "gemma3-270m"}).llm_languages == ("en",)
    hosted = {"LOCAL_LLM": "gemma3-270m", "LLM_BASE_URL": "https://api.deepseek.com/v1",
              "LLM_MODEL": "deepseek-chat"}
    assert load_settings(hosted).llm_languages == ("zh", "en")
    assert load_settings({}).llm_languages == ("zh", "en")
    # the embedded server on another port is still the embedded model
    moved = {"LOCAL_LLM": "gemma3-270m", "LLM_BASE_URL": "http://127.0.0.1:9999/v1"}
    assert load_settings(moved).llm_languages == ("en",)


def test_the_embedded_model_quotes_and_a_hosted_one_writes_unless_told():
    assert load_settings({}).answer_style == "quote"
    assert load_settings({"LLM_BASE_URL": "http://127.0.0.1:9999/v1"}).answer_style == "quote"
    assert load_settings({"LLM_MODEL": "deepseek-chat"}).answer_style == "generate"
    assert load_settings({"ANSWER_STYLE": "generate"}).answer_style == "generate"
    told = {"LLM_MODEL": "qwen-plus", "ANSWER_STYLE": "quote"}
    assert load_settings(told).answer_style == "quote"
    with pytest.raises(ConfigurationError, match="ANSWER_STYLE"):
        load_settings({"ANSWER_STYLE": "paraphrase"})


def test_a_clear_match_score_is_a_similarity_or_none():
    assert load_settings({}).answers.clear_match == 0.35
    assert load_settings({"CLEAR_MATCH_SCORE": "none"}).answers.clear_match is None
    with pytest.raises(ConfigurationError, match="CLEAR_MATCH_SCORE"):
        load_settings({"CLEAR_MATCH_SCORE": "high"})


def test_paths_expand_the_home_folder_and_derive_from_the_cache_dir():
    paths = load(PathSettings, {"ASSISTANT_CACHE_DIR": "~/x"})
    assert paths.encoders_dir == Path.home() / "x" / "encoders"
    local = load(LocalLLMSettings, {"LOCAL_LLM": "gemma3-270m"})
    assert local.file(paths) == Path.home() / "x" / "models" / "gemma3-270m.gguf"
    assert load(LocalLLMSettings, {"LOCAL_LLM_MODEL_PATH": "/m.gguf"}).file(paths) == Path(
        "/m.gguf")


def test_every_section_is_part_of_the_settings_and_every_setting_is_documented():
    held = {f.type if isinstance(f.type, str) else f.type.__name__
            for f in dataclasses.fields(Settings)}
    assert {s.__name__ for s in SECTIONS} == held
    names = [item.metadata["env"] for s in SECTIONS for item in declarations(s)]
    assert len(names) == len(set(names))  # one declaration per variable
    table = markdown_table()
    for section in SECTIONS:
        for item in declarations(section):
            assert item.metadata["doc"].strip()
            assert f"| `{item.metadata['env']}` |" in table


def test_constructors_take_their_defaults_from_the_declarations():
    from bilingual_assistant.adapters.openai_chat import ChatClient, CircuitBreaker
    from bilingual_assistant.answers.cache import LRUAnswerCache
    from bilingual_assistant.knowledge.chunking import chunk_document

    breaker = CircuitBreaker()
    assert (breaker.failures, breaker.reset_seconds) == (3, 30.0)
    assert ChatClient().settings == LLMSettings()
    cache = LRUAnswerCache()
    assert (cache.max_entries, cache.ttl_seconds) == (1024, 86400)
    defaults = chunk_document.__defaults__
    assert defaults == (KnowledgeSettings().chunk_size, KnowledgeSettings().chunk_overlap)


def test_secrets_are_never_shown():
    settings = load_settings({"LLM_API_KEY": "sk-secret", "REDIS_URL": "redis://:pw@h/0"})
    shown = {e.env: masked(e.value, e.secret) for e in entries(settings)}
    assert shown["LLM_API_KEY"] == "(set)" and shown["REDIS_URL"] == "(set)"
    assert shown["MILVUS_TOKEN"] == "(unset)" and shown["RETRIEVAL_TOP_K"] == "4"


def test_process_defaults_never_override_what_is_set():
    env = {"HF_HUB_OFFLINE": "0"}
    apply_process_defaults(env)
    assert env["HF_HUB_OFFLINE"] == "0" and env["RASA_TELEMETRY_ENABLED"] == "false"


def test_every_setting_says_when_it_is_needed_and_a_bad_level_is_refused():
    from bilingual_assistant.config import NEEDS, SECTIONS, declarations, setting

    needs = {item.metadata["env"]: item.metadata["need"]
             for section in SECTIONS for item in declarations(section)}
    assert set(needs.values()) == set(NEEDS)
    # The secrets a process refuses to start without, and the checklist's settings.
    assert {n for n, need in needs.items() if need == "required"} == {
        "ACTION_SERVER_TOKEN", "LOCAL_LLM_API_KEY", "RASA_AUTH_TOKEN"}
    assert {"OIDC_ISSUER", "METRICS_TOKEN", "CONVERSATION_KEYS", "API_PUBLIC_URL"} <= {
        n for n, need in needs.items() if need == "production"}
    with pytest.raises(ValueError, match="need must be one of"):
        setting("X", "", "x", need="sometimes")


@pytest.mark.parametrize("section,field_name,old,new", [
    (ConversationStoreSettings, "db_url", "DB_URL", "CONVERSATIONS_DB_URL"),
    (ApiSettings, "db_url", "DATABASE_URL", "SERVICES_DB_URL"),
])
def test_a_renamed_setting_still_reads_its_old_name_and_says_so(
        section, field_name, old, new, caplog):
    caplog.set_level("WARNING", logger="bilingual_assistant.config")
    url = "postgresql://a@db/x"
    assert getattr(load(section, {old: url}), field_name) == url
    assert [(r.getMessage(), r.old, r.new) for r in caplog.records] == [
        ("settings.renamed", old, new)]
    caplog.clear()
    assert getattr(load(section, {old: url, new: "sqlite:///new.db"}),
                   field_name) == "sqlite:///new.db"
    assert caplog.records == []


@pytest.mark.parametrize("name,minimum", [
    ("ACTION_SERVER_TOKEN", 16), ("LOCAL_LLM_API_KEY", 16), ("METRICS_TOKEN", 16),
    ("RASA_AUTH_TOKEN", 16), ("SOCKETIO_SESSION_SECRET", 16), ("REST_CHANNEL_SECRET", 32)])
def test_a_secret_too_short_to_resist_guessing_is_refused(name, minimum):
    with pytest.raises(ConfigurationError, match=f"{name} has 1 characters.*at least {minimum}"):
        load_settings({name: "x"})
    load_settings({name: "y" * minimum})
