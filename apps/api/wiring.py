"""The API service's composition root: settings in, services and app out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from fastapi import FastAPI
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine

from apps.api.app import create_app
from apps.api.services import ApiServices, Chat, SignIn
from apps.api.ui import mount_ui
from apps.job_queue import CeleryQueue, celery_app
from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.access.oidc import OidcClient, OidcConfig, lower_names
from bilingual_assistant.access.sender_tokens import SenderTokens
from bilingual_assistant.access.sessions import Sessions
from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.adapters.nlu_file import ReviewedExamples
from bilingual_assistant.adapters.oidc_http import OidcHttp
from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.adapters.rasa_rest import RasaChat
from bilingual_assistant.adapters.sql_service_store import (
    SqlFeedbackStore,
    SqlHitTestLog,
    SqlJobStore,
    SqlKeyStore,
    SqlSessionStore,
    SqlTurnStore,
    connect,
)
from bilingual_assistant.config import Settings
from bilingual_assistant.conversations.history import ChatHistory
from bilingual_assistant.encryption import Keyring, keyring_from
from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.feedback.service import FeedbackService
from bilingual_assistant.jobs.service import Jobs
from bilingual_assistant.knowledge.embedder import make_embedder
from bilingual_assistant.knowledge.hit_testing import HitTester
from bilingual_assistant.knowledge.retrieval import Retriever

logger = logging.getLogger("apps.api")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_binding(settings: Settings, host: str) -> None:
    """Refuses local mode (no credentials needed) on any address but loopback.

    Raises:
        ConfigurationError: saying how to serve others safely.
    """
    if settings.api.local_user and not settings.sign_in.issuer and host not in LOOPBACK:
        raise ConfigurationError(
            f"The API would listen on {host} in single-user local mode, where requests "
            f"need no credentials. Set API_LOCAL_USER=off (every request then needs an "
            f"API key) or listen on 127.0.0.1.")


def sender_tokens(settings: Settings) -> Optional[SenderTokens]:
    """Signs the conversations the API sends to Rasa, when `REST_CHANNEL_SECRET` is
    set (Rasa's REST channel then requires it)."""
    secret = settings.rasa_server.rest_channel_secret
    return SenderTokens(secret) if secret.strip() else None


def build_sign_in(settings: Settings, engine: Engine,
                  keyring: Optional[Keyring] = None) -> Optional[SignIn]:
    """Sign-in with the identity provider `OIDC_ISSUER` names, if any.

    Raises:
        ConfigurationError: when the issuer is set without a client id.
    """
    config = settings.sign_in
    if not config.issuer:
        return None
    if not config.client_id:
        raise ConfigurationError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not: register the "
                                 "assistant with the identity provider and set both.")
    store = SqlSessionStore(engine)
    oidc = OidcClient(OidcConfig(
        issuer=config.issuer, client_id=config.client_id,
        client_secret=config.client_secret,
        redirect_uri=f"{config.public_url}/v1/auth/callback", scopes=config.scopes,
        roles_claim=config.roles_claim, admins=lower_names(config.admins.split(",")),
        allowed_domains=lower_names(config.allowed_domains.split(",")),
        allowed_groups=frozenset(g.strip() for g in config.allowed_groups.split(",")
                                 if g.strip()),
        groups_claim=config.groups_claim),
        OidcHttp())
    if not config.allowed_domains.strip() and not config.allowed_groups.strip():
        logger.warning("api.sign_in_open_to_everyone", extra={
            "issuer": config.issuer, "fix": "OIDC_ALLOWED_DOMAINS or OIDC_ALLOWED_GROUPS"})
    sign_in = SignIn(oidc, Sessions(store, hours=config.session_hours), config.public_url)
    if keyring is not None:
        sign_in.keyring = keyring
    return sign_in


def build_services(settings: Settings, engine: Optional[Engine] = None,
                   chat: Optional[Chat] = None) -> ApiServices:
    """Database, API keys, the knowledge store and retriever, the job queue, Rasa's
    client, and the metrics (with the job backlog read from the database at each
    scrape)."""
    engine = engine or connect(settings.api.db_url)
    jobs = SqlJobStore(engine)
    recorder = PrometheusRecorder("api")
    recorder.watch("assistant_jobs_backlog", jobs.unfinished)
    embedder = make_embedder(settings.knowledge.embedding_model, settings.paths.encoders_dir)
    store = MilvusKnowledgeStore(settings.knowledge, embedder.dim)

    # What people typed, kept in the services' tables, is sealed with the
    # conversations' keys (the same CONVERSATION_KEYS or key file as Rasa's).
    signer = sender_tokens(settings)
    keyring, keys_from = keyring_from(settings.conversations.keys,
                                      Path(settings.conversations.key_file))
    logger.info("api.sealing", extra={"keys": keys_from, "current": keyring.current})

    def database_ready() -> bool:
        with engine.connect() as connection:
            connection.execute(sql("SELECT 1"))
        return True

    return ApiServices(
        keys=ApiKeys(SqlKeyStore(engine)),
        hit_tests=HitTester(Retriever(store, embedder, settings.retrieval),
                            SqlHitTestLog(engine, keyring=keyring)),
        chat=chat or RasaChat(settings.api.rasa_url, token=settings.rasa_server.auth_token,
                              sender_tokens=signer),
        sender_tokens=signer,
        documents=store,
        local_user=settings.api.local_user,
        database_ready=database_ready,
        jobs=Jobs(jobs, CeleryQueue(celery_app(settings.jobs_broker)),
                  stale_seconds=settings.jobs.stale_seconds),
        knowledge_dir=Path(settings.knowledge.documents_dir),
        max_upload_bytes=int(settings.jobs.max_upload_mb * 1024 * 1024),
        sign_in=build_sign_in(settings, engine, keyring),
        feedback=FeedbackService(SqlFeedbackStore(engine, keyring), ReviewedExamples(
            Path("data/nlu/reviewed.yml"), Path("domain.yml"))),
        history=ChatHistory(SqlTurnStore(engine, keyring)),
        metrics=recorder,
        metrics_token=settings.metrics.token,
    )


def build_app(settings: Settings) -> FastAPI:
    """The app as `python -m apps.api` serves it: the routes and the web pages."""
    return mount_ui(create_app(build_services(settings)))
