"""The action server's composition root: settings in, actions out."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from actions.actions import ActionAskCity, ActionWeather, ValidateWeatherForm
from actions.answer import ActionAnswerQuestion
from actions.handoff import ActionRequestHuman
from actions.help import ActionHelp
from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.adapters.open_meteo import OpenMeteoClient
from bilingual_assistant.adapters.openai_chat import ChatClient
from bilingual_assistant.adapters.redis_cache import RedisAnswerCache
from bilingual_assistant.adapters.sql_handoff_store import SqlDeadLetters
from bilingual_assistant.adapters.sql_service_store import SqlFeedbackStore, connect
from bilingual_assistant.adapters.webhook_tickets import WebhookTickets
from bilingual_assistant.answers.answerability import AnswerabilityModel
from bilingual_assistant.answers.cache import AnswerCache, LRUAnswerCache
from bilingual_assistant.answers.curated import CuratedAnswers
from bilingual_assistant.answers.service import AnswerService
from bilingual_assistant.config import Settings
from bilingual_assistant.encoders.cross_encoder import OnnxCrossEncoder, missing_files
from bilingual_assistant.encryption import keyring_from
from bilingual_assistant.errors import ConfigurationError, ModelFileError
from bilingual_assistant.handoff.tickets import TicketSink
from bilingual_assistant.knowledge.access import PlatformGroups
from bilingual_assistant.knowledge.embedder import make_embedder
from bilingual_assistant.knowledge.retrieval import Retriever
from bilingual_assistant.knowledge.store import KnowledgeStore
from bilingual_assistant.metrics import NoRecorder, Recorder
from bilingual_assistant.weather.models import WeatherProvider

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """What the actions use, built once at start-up (models load on first use)."""

    answers: AnswerService
    weather: WeatherProvider
    weather_enabled: bool = True
    documents: Optional[KnowledgeStore] = None  # said at start: empty or not
    platforms: PlatformGroups = field(default_factory=PlatformGroups)
    handoff_contact: str = ""  # HANDOFF_CONTACT
    tickets: Optional[TicketSink] = None  # HANDOFF_TICKET_URL


def build_cache(settings: Settings) -> AnswerCache:
    """Redis when `REDIS_URL` is set, otherwise the in-process LRU."""
    if settings.cache.redis_url:
        return RedisAnswerCache(settings.cache.redis_url, settings.cache.ttl_seconds)
    return LRUAnswerCache(settings.cache.max_entries, settings.cache.ttl_seconds)


def load_verifier(settings: Settings, model: Optional[AnswerabilityModel]
                  ) -> Optional[OnnxCrossEncoder]:
    """The verifier when the answerability model was trained with its scores.

    Raises:
        ModelFileError: the model needs the verifier and its files are missing.
    """
    if model is None or not model.uses_verifier:
        if not missing_files(settings.verifier_dir):
            logger.warning("answers.verifier_unused", extra={"path": str(settings.verifier_dir)})
        return None
    missing = missing_files(settings.verifier_dir)
    if missing:
        raise ModelFileError(
            f"The answerability model was trained with the verifier, but "
            f"{settings.verifier_dir} lacks {', '.join(missing)}: train it (`make verifier`) "
            f"or retrain the answerability model without it (`make answerability`).")
    return OnnxCrossEncoder(settings.verifier_dir)


def load_answerability(settings: Settings) -> Optional[AnswerabilityModel]:
    """The trained answerability model, or None (logged) when there is none yet.

    Raises:
        ModelFileError: a model file that cannot be used (unreadable, or measured
            with another embedder): the message says how to retrain it.
    """
    path = Path(settings.answers.answerability_model)
    if not path.exists():
        logger.warning("answers.answerability_untrained", extra={"path": str(path)})
        return None
    model = AnswerabilityModel.load(path, settings.knowledge.embedding_model)
    logger.info("answers.answerability_loaded",
                extra={"path": str(path), "model": model.fingerprint})
    return model


def build_services(settings: Settings, recorder: Optional[Recorder] = None) -> Services:
    """Embedder, Milvus store, retriever, LLM client, cache, curated answers (the
    services' database, opened on first use) and weather client; their metrics go to
    `recorder`."""
    recorder = recorder or NoRecorder()
    answerability = load_answerability(settings)
    embedder = make_embedder(settings.knowledge.embedding_model, settings.paths.encoders_dir)
    feedback = functools.lru_cache(maxsize=1)(
        lambda: SqlFeedbackStore(connect(settings.api.db_url)))
    store = MilvusKnowledgeStore(settings.knowledge, embedder.dim)
    answers = AnswerService(
        Retriever(store, embedder, settings.retrieval),
        build_cache(settings),
        version=store.version,
        llm=ChatClient(settings.llm, recorder=recorder),
        llm_languages=settings.llm_languages,
        embedder=embedder,
        answer_style=settings.answer_style,
        clear_match=settings.answers.clear_match,
        curated=CuratedAnswers(lambda: feedback().answers(), embedder),
        recorder=recorder,
        answerability=answerability,
        verifier=load_verifier(settings, answerability),
    )
    groups_file = settings.channels.platform_groups_file
    return Services(answers=answers, weather=OpenMeteoClient(settings.weather), documents=store,
                    weather_enabled=settings.weather.enabled,
                    platforms=PlatformGroups.load(Path(groups_file) if groups_file else None),
                    handoff_contact=settings.handoff.contact,
                    tickets=build_tickets(settings))


def build_tickets(settings: Settings) -> Optional[TicketSink]:
    """The helpdesk's webhook, when HANDOFF_TICKET_URL is set; tickets it does not
    take are kept, sealed, in the services' database.

    Raises:
        ConfigurationError: for a webhook without HANDOFF_TICKET_SECRET.
    """
    handoff = settings.handoff
    if not handoff.ticket_url:
        return None
    if not handoff.ticket_secret:
        raise ConfigurationError(
            "HANDOFF_TICKET_URL is set but HANDOFF_TICKET_SECRET is not: the helpdesk "
            "could not tell the assistant's tickets from anyone's. Set a secret of at "
            "least 16 characters, the same as the receiver checks.")
    keyring, _ = keyring_from(settings.conversations.keys,
                              Path(settings.conversations.key_file))
    return WebhookTickets(handoff.ticket_url, handoff.ticket_secret,
                          SqlDeadLetters(connect(settings.api.db_url), keyring))


def build_actions(services: Services) -> List[Any]:
    """The actions of `domain.yml` that the action server runs."""
    return [
        ValidateWeatherForm(services.weather, enabled=services.weather_enabled),
        ActionAskCity(),
        ActionWeather(services.weather, enabled=services.weather_enabled),
        ActionHelp(weather=services.weather_enabled),
        ActionRequestHuman(services.handoff_contact, services.tickets),
        ActionAnswerQuestion(services.answers, services.platforms),
    ]
