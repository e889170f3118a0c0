"""The API's composition root: sign-in settings become the OIDC client's policy."""

from __future__ import annotations

import logging

from apps.api.wiring import build_sign_in
from bilingual_assistant.adapters.sql_service_store import connect
from bilingual_assistant.config import load_settings

ISSUER = {"OIDC_ISSUER": "https://id.example.com/realms/acme", "OIDC_CLIENT_ID": "assistant"}


def test_the_access_policy_comes_from_the_settings(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="apps.api")
    settings = load_settings({**ISSUER, "OIDC_ALLOWED_DOMAINS": " Example.com, example.cn ,",
                              "OIDC_ALLOWED_GROUPS": "helpdesk, IT Staff",
                              "OIDC_GROUPS_CLAIM": "memberOf",
                              "OIDC_ADMINS": "Boss@Example.com"})
    sign_in = build_sign_in(settings, connect(f"sqlite:///{tmp_path}/api.db"))
    config = sign_in.oidc.config
    assert config.allowed_domains == {"example.com", "example.cn"}
    assert config.allowed_groups == {"helpdesk", "IT Staff"}  # group names keep their case
    assert config.groups_claim == "memberOf" and config.admins == {"boss@example.com"}
    assert "api.sign_in_open_to_everyone" not in caplog.text


def test_a_sign_in_open_to_everyone_the_provider_knows_is_said_at_start(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="apps.api")
    sign_in = build_sign_in(load_settings(ISSUER), connect(f"sqlite:///{tmp_path}/api.db"))
    assert not sign_in.oidc.config.allowed_domains and not sign_in.oidc.config.allowed_groups
    assert [r.getMessage() for r in caplog.records] == ["api.sign_in_open_to_everyone"]


def test_the_api_signs_its_senders_when_rasa_requires_it():
    from apps.api.wiring import sender_tokens

    assert sender_tokens(load_settings({})) is None
    tokens = sender_tokens(load_settings({"REST_CHANNEL_SECRET": "q" * 43}))
    assert tokens is not None and tokens.sender(tokens.sign("key:1:x")) == "key:1:x"
