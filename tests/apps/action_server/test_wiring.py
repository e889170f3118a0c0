"""The action server's composition root and its one mapping of errors to HTTP."""

from pathlib import Path

import pytest
import yaml
from sanic.exceptions import NotFound

from actions.answer import ActionAnswerQuestion
from apps.action_server.http import error_response
from apps.action_server.wiring import build_actions, build_cache, build_services
from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.adapters.redis_cache import RedisAnswerCache
from bilingual_assistant.answers.cache import LRUAnswerCache
from bilingual_assistant.config import load_settings
from bilingual_assistant.errors import (
    ConfigurationError,
    DocumentError,
    EncoderLoadError,
    LLMUnavailableError,
    StoreError,
    WeatherError,
)


def test_the_cache_is_redis_only_when_configured():
    assert isinstance(build_cache(load_settings({})), LRUAnswerCache)
    redis = load_settings({"REDIS_URL": "redis://127.0.0.1:6379/15"})
    assert isinstance(build_cache(redis), RedisAnswerCache)


def test_services_are_built_from_the_settings_without_connecting(tmp_path):
    settings = load_settings({"MILVUS_LITE_PATH": str(tmp_path / "kb.db"),
                              "RETRIEVAL_TOP_K": "7", "LLM_LANGUAGES": "en",
                              "LLM_BASE_URL": "http://127.0.0.1:9/v1"})
    services = build_services(settings)
    answers = services.answers
    assert answers.retriever.top_k == 7 and answers.llm_languages == ("en",)
    assert answers.llm.url == "http://127.0.0.1:9/v1/chat/completions"
    store = answers.retriever.store
    assert isinstance(store, MilvusKnowledgeStore) and store._client is None
    assert not (tmp_path / "kb.db").exists()  # nothing opened before the first question
    names = [action.name() for action in build_actions(services)]
    domain = yaml.safe_load((Path(__file__).parents[3] / "domain.yml").read_text())
    assert sorted(names) == sorted(domain["actions"])
    assert isinstance(build_actions(services)[-1], ActionAnswerQuestion)
    assert services.weather_enabled is True


def test_weather_enabled_off_reaches_every_weather_action(tmp_path):
    settings = load_settings({"MILVUS_LITE_PATH": str(tmp_path / "kb.db"),
                              "WEATHER_ENABLED": "off"})
    actions = {a.name(): a for a in build_actions(build_services(settings))}
    assert actions["validate_weather_form"]._enabled is False
    assert actions["action_weather"]._enabled is False
    assert actions["action_help"]._weather is False


def test_each_branch_of_the_error_tree_has_its_status():
    assert error_response(DocumentError("x")) == (400, "The action was given input it cannot use.")
    for error in (StoreError("x"), LLMUnavailableError("x"), WeatherError("x")):
        assert error_response(error) == (503, "A service the action needs is unavailable.")
    for error in (ConfigurationError("x"), EncoderLoadError("x")):
        assert error_response(error)[0] == 500
    assert error_response(KeyError("tracker")) == (500, "The action failed.")
    assert error_response(NotFound("no such route"))[0] == 404


def test_the_handoff_contact_reaches_the_request_for_a_person(tmp_path):
    settings = load_settings({"MILVUS_LITE_PATH": str(tmp_path / "kb.db"),
                              "HANDOFF_CONTACT": "the IT helpdesk, ext. 8000"})
    actions = {a.name(): a for a in build_actions(build_services(settings))}
    assert actions["action_request_human"]._contact == "the IT helpdesk, ext. 8000"


def test_a_helpdesk_webhook_needs_its_secret(tmp_path):
    from apps.action_server.wiring import build_tickets
    from bilingual_assistant.adapters.webhook_tickets import WebhookTickets

    base = {"MILVUS_LITE_PATH": str(tmp_path / "kb.db"),
            "SERVICES_DB_URL": f"sqlite:///{tmp_path}/api.db",
            "CONVERSATION_KEY_FILE": str(tmp_path / "conversation.key"),
            "HANDOFF_TICKET_URL": "https://helpdesk.example.com/hooks/assistant"}
    with pytest.raises(ConfigurationError, match="HANDOFF_TICKET_SECRET"):
        build_tickets(load_settings(base))
    tickets = build_tickets(load_settings({**base, "HANDOFF_TICKET_SECRET": "s" * 20}))
    assert isinstance(tickets, WebhookTickets) and tickets.url.endswith("/assistant")
    assert build_tickets(load_settings({"MILVUS_LITE_PATH": str(tmp_path / "kb.db")})) is None
